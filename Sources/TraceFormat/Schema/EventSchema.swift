/// Event schemas: the typed vocabulary of irqtrace. A schema names an event, gives the printf-style
/// format its source prints it with (verbatim from QEMU's trace-events or the kernel's TP_printk), and
/// names each field with its meaning ("role") for the replayer and analyzers. Schemas are data,
/// registered once per source family; templates are matched to them when first seen.

/// What a field means, independent of how the source spells it.
public enum FieldRole: String, Sendable, Codable, CaseIterable {
    /// Nothing irqtrace indexes by.
    case none
    /// The (v)CPU the event happened on or targets (GIC CPU interface number, KVM vcpu index).
    case cpu
    /// An x86 interrupt vector.
    case vector
    /// An IOAPIC input pin.
    case pin
    /// A KVM global system interrupt number.
    case gsi
    /// A GIC interrupt ID (SGI 0–15, PPI 16–31, SPI 32–1019) or host Linux irq number.
    case irq
    /// An x86 destination (APIC ID or logical destination) the interrupt was sent to.
    case dest
    /// The APIC ID of the LAPIC the event happened in.
    case apicID
}

/// Which family of sources a schema belongs to.
public enum SchemaFamily: String, Sendable, Codable {
    case qemu
    case kvm
    case host
    case simulator
}

/// One field of a schema.
public struct SchemaField: Sendable, Hashable {
    public let name: String
    public let role: FieldRole
}

/// A known event: its name, source format and fields.
public struct EventSchema: Sendable {
    public let family: SchemaFamily
    public let name: String
    /// The format as the source prints it, with `%d %u %x %lx %s …` conversions.
    public let format: String
    public let fields: [SchemaField]
    let tokens: [FormatToken]

    /// - Parameters:
    ///   - fields: space-separated field names, each optionally `name:role` (`"pin:pin level"`).
    public init(_ family: SchemaFamily, _ name: String, _ format: String, _ fields: String) {
        self.family = family
        self.name = name
        self.format = format
        self.tokens = FormatToken.parse(format)
        self.fields = fields.split(separator: " ").map { spec in
            let parts = spec.split(separator: ":", maxSplits: 1)
            let role = parts.count > 1 ? FieldRole(rawValue: String(parts[1])) ?? .none : .none
            return SchemaField(name: String(parts[0]), role: role)
        }
        let conversions = tokens.filter { if case .literal = $0 { false } else { true } }.count
        precondition(conversions == self.fields.count, "schema \(name): \(conversions) conversions, \(self.fields.count) fields")
    }

    public func fieldIndex(named n: String) -> Int? { fields.firstIndex { $0.name == n } }
    public func fieldIndex(role: FieldRole) -> Int? { fields.firstIndex { $0.role == role } }
}

/// A printf format split into literal bytes and conversions.
enum FormatToken: Sendable, Equatable {
    case literal(UInt8)
    /// `%d %i %u %x %X %lx %llx %ld %#x %08x`… with `hex` when the conversion is x/X.
    case number(hex: Bool)
    /// `%s`, or a `__print_symbolic`/`__print_flags` argument printed as text.
    case text

    static func parse(_ format: String) -> [FormatToken] {
        var out: [FormatToken] = []
        let b = Array(format.utf8)
        var i = 0
        while i < b.count {
            if b[i] != UInt8(ascii: "%") { out.append(.literal(b[i])); i += 1; continue }
            i += 1
            if i < b.count && b[i] == UInt8(ascii: "%") { out.append(.literal(b[i])); i += 1; continue }
            // flags, width, precision, length modifiers
            while i < b.count, "#0-+ .123456789lhzjtqL".utf8.contains(b[i]) { i += 1 }
            guard i < b.count else { break }
            let conv = b[i]
            i += 1
            switch conv {
            case UInt8(ascii: "s"), UInt8(ascii: "c"), UInt8(ascii: "p"): out.append(.text)
            case UInt8(ascii: "x"), UInt8(ascii: "X"): out.append(.number(hex: true))
            default: out.append(.number(hex: false))
            }
        }
        return out
    }
}

/// Where one schema field's value comes from in a template.
public enum FieldSource: Sendable, Hashable {
    /// Slot number `k` of the event's values.
    case slot(Int)
    /// Slot `k` holding the decimal reading of digits the format prints in hex (`%x` with no `0x`
    /// printed "10": the text tokenizer saw a decimal number; the field's value is 0x10).
    case hexDigitsSlot(Int)
    /// A number that is part of the template text (the same for every event of the template).
    case constant(Int64)
    /// Text that is part of the template (a `%s` field with a fixed spelling such as "cpu" or "IOAPIC").
    case text(String)
    /// Text with values in it (a `%s` printed as "0x220": the source's own spelling, with slots).
    case composite([TextPart])
}

/// A piece of a ``FieldSource/composite(_:)`` field.
public enum TextPart: Sendable, Hashable {
    case literal([UInt8])
    case number(slot: Int, style: NumberStyle, width: UInt8)
    case string(slot: Int)
}

/// A template matched to a schema.
public struct SchemaBinding: Sendable {
    public let schema: EventSchema
    /// One entry per schema field.
    public let sources: [FieldSource]

    public func source(named n: String) -> FieldSource? {
        schema.fieldIndex(named: n).map { sources[$0] }
    }
    public func source(role: FieldRole) -> FieldSource? {
        schema.fieldIndex(role: role).map { sources[$0] }
    }
}
