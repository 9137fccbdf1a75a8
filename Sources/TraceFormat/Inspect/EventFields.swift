/// Per-template look-ups of the fields analyzers index by, computed once per template.
public struct EventRoles: Sendable {
    public let cpu: FieldSource?
    public let vector: FieldSource?
    /// IRQ-like number: GIC INTID, IOAPIC pin, GSI or host irq (first of irq, pin, gsi).
    public let irq: FieldSource?

    public init(_ t: EventTemplate) {
        let b = t.binding
        cpu = b?.source(role: .cpu)
        vector = b?.source(role: .vector)
        irq = b?.source(role: .irq) ?? b?.source(role: .pin) ?? b?.source(role: .gsi)
    }
}

extension EventBatch {
    /// The event's CPU: the source's CPU column, or else the schema field with role `cpu`; nil when unknown.
    /// (QEMU logs name no CPU for APIC events: with `-accel tcg,thread=single` one thread runs every vCPU.)
    @inlinable
    public func cpu(_ i: Int, roles: EventRoles) -> Int64? {
        if cpus[i] >= 0 { return Int64(cpus[i]) }
        if let s = roles.cpu { return number(i, s) }
        return nil
    }
}

/// Lazily computed ``EventRoles`` for every template of a catalog.
public struct RoleTable {
    private var roles: [EventRoles] = []
    public init() {}
    public mutating func roles(_ id: UInt32, in catalog: TemplateCatalog) -> EventRoles {
        while roles.count < catalog.count { roles.append(EventRoles(catalog[UInt32(roles.count)])) }
        return roles[Int(id)]
    }
}
