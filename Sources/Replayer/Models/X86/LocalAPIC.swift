/// One vCPU's local APIC: the interrupt request, in-service and trigger-mode registers, task and
/// processor priority, software enable, and the logical destination registers, with KVM's and
/// QEMU's rules (semantics.md §1). A plain value: no knowledge of where its inputs come from.
public struct LocalAPIC: Hashable, Sendable, Codable {
    public let behaviour: APICBehaviour
    /// The APIC ID (xAPIC: 8 bits, APIC offset 0x20 bits 31:24; x2APIC: 32 bits).
    public var id: UInt32
    public var x2apic = false
    /// IRR: the Interrupt Request Register, APIC offset 0x200.
    public var irr = VectorBitmap()
    /// ISR: the In-Service Register, APIC offset 0x100.
    public var isr = VectorBitmap()
    /// TMR: the Trigger Mode Register, APIC offset 0x180 (set: the vector was accepted level-triggered).
    public var tmr = VectorBitmap()
    /// TPR: the Task Priority Register, APIC offset 0x80.
    public var tpr: UInt8 = 0
    /// SPIV: the Spurious-Interrupt Vector Register, APIC offset 0xF0 (bit 8 software enable, bit 12 directed EOI).
    public var spiv: UInt32 = 0xFF
    /// LDR, APIC offset 0xD0 (xAPIC: logical ID in bits 31:24).
    public var ldr: UInt32 = 0
    /// DFR, APIC offset 0xE0 (0xFFFFFFFF flat, 0x0FFFFFFF cluster).
    public var dfr: UInt32 = 0xFFFF_FFFF
    /// Hardware enable (IA32_APIC_BASE bit 11).
    public var hardwareEnabled = true
    /// Lowest-priority arbitration counter (KVM `apic_arb_prio`).
    public var arbitrationPriority: UInt32 = 0

    public init(id: UInt32, behaviour: APICBehaviour) {
        self.id = id
        self.behaviour = behaviour
    }

    @inlinable public var softwareEnabled: Bool { spiv & 0x100 != 0 }
    /// Directed EOI (SPIV bit 12): EOIs of level vectors are not broadcast to the IOAPIC.
    /// QEMU's SPIV write mask (0x1ff) never sets it.
    public var directedEOI: Bool { behaviour == .kvm && spiv & 0x1000 != 0 }
    public var spuriousVector: UInt8 { UInt8(truncatingIfNeeded: spiv) }

    /// PPR: the Processor Priority Register (KVM `__apic_update_ppr`, QEMU `apic_get_ppr`).
    @inlinable @inline(__always) public var ppr: UInt8 {
        let isrv = isr.highest ?? 0
        return (tpr & 0xF0) >= (isrv & 0xF0) ? tpr : isrv & 0xF0
    }

    /// The vector the APIC would deliver next, or nil when none is deliverable (semantics.md §1.3):
    /// KVM blocks when class(IRR) ≤ class(PPR); QEMU only when PPR ≠ 0 (so with PPR 0 it delivers
    /// vectors 0x00–0x0F, which KVM never does) and also needs the software enable.
    /// (Inlinable: read per simulated event on `machine.apics[v]`, where a call into this module
    /// copies the whole APIC first.)
    @inlinable @inline(__always) public var deliverable: UInt8? {
        guard hardwareEnabled, let v = irr.highest else { return nil }
        return deliverable(v, ppr: ppr)
    }

    /// ``deliverable`` for a caller that has computed ``ppr`` already (`p`): one ISR scan, not two.
    @inlinable @inline(__always) public func deliverable(ppr p: UInt8) -> UInt8? {
        guard hardwareEnabled, let v = irr.highest else { return nil }
        return deliverable(v, ppr: p)
    }

    /// Whether the highest IRR vector `v` gets past PPR `p`: `v`, or nil.
    @inlinable @inline(__always) func deliverable(_ v: UInt8, ppr p: UInt8) -> UInt8? {
        switch behaviour {
        case .kvm:
            return (v & 0xF0) <= p ? nil : v
        case .qemu:
            guard softwareEnabled else { return nil }
            return p != 0 && (v & 0xF0) <= (p & 0xF0) ? nil : v
        }
    }

    /// What happened to an interrupt message at this APIC.
    public enum Acceptance: Hashable, Sendable {
        /// Set in IRR (it was clear).
        case accepted
        /// IRR already had it: merged with the pending one (coalesced). KVM's LAPIC does not report
        /// this (it returns 1 either way); QEMU reports it through `kvm_report_irq_delivered(0)`.
        case coalesced
        /// The APIC is disabled (hardware or software): dropped.
        case droppedDisabled
        /// A level-deassert message: ignored.
        case ignoredDeassert
        /// NMI, SMI, INIT, SIPI, ExtINT: not an IRR vector.
        case nonVectored(DeliveryMode)
    }

    /// Accepts a fixed or lowest-priority message (KVM `__apic_accept_irq`, QEMU `apic_set_irq`).
    public mutating func accept(vector: UInt8, mode: DeliveryMode = .fixed, level: Bool = true, trigger: Bool) -> Acceptance {
        switch mode {
        case .fixed, .lowestPriority:
            if mode == .lowestPriority { arbitrationPriority &+= 1 }
            if trigger && !level { return .ignoredDeassert }
            guard hardwareEnabled && softwareEnabled else { return .droppedDisabled }
            let already = irr.contains(vector)
            if trigger { tmr.insert(vector) } else { tmr.remove(vector) }
            irr.insert(vector)
            return already ? .coalesced : .accepted
        default:
            return .nonVectored(mode)
        }
    }

    /// The CPU takes the highest deliverable vector: IRR → ISR (KVM `kvm_apic_ack_interrupt`, QEMU
    /// `apic_get_interrupt`). Nil when nothing is deliverable; QEMU then answers the spurious vector.
    public mutating func acknowledge() -> UInt8? {
        guard let v = deliverable else { return nil }
        irr.remove(v)
        isr.insert(v)
        return v
    }

    /// The result of an EOI.
    public struct EOI: Equatable, Sendable {
        /// The vector retired (the highest in ISR), nil when ISR was empty (a no-op).
        public var vector: UInt8?
        /// True when the IOAPIC must see an EOI for it (level vector, no directed EOI).
        public var broadcastToIOAPIC: Bool
    }

    /// A write to the EOI register (KVM `apic_set_eoi`, QEMU `apic_eoi`).
    public mutating func endOfInterrupt() -> EOI {
        guard let v = isr.highest else { return EOI(vector: nil, broadcastToIOAPIC: false) }
        isr.remove(v)
        return EOI(vector: v, broadcastToIOAPIC: tmr.contains(v) && !directedEOI)
    }

    /// A write to SPIV (KVM mask 0x3ff, +bit 12 when directed EOI is advertised; QEMU 0x1ff).
    public mutating func writeSPIV(_ value: UInt32, directedEOIAdvertised: Bool = false) {
        let mask: UInt32 = behaviour == .qemu ? 0x1FF : (directedEOIAdvertised ? 0x13FF : 0x3FF)
        spiv = value & mask
    }

    public mutating func writeLDR(_ value: UInt32) { if !x2apic { ldr = value & 0xFF00_0000 } }
    public mutating func writeDFR(_ value: UInt32) { if !x2apic { dfr = value | 0x0FFF_FFFF } }

    /// Destination shorthand (ICR bits 19:18).
    public enum Shorthand: UInt8, Sendable, Codable { case none = 0, selfOnly = 1, allIncludingSelf = 2, allExcludingSelf = 3 }

    /// Whether this APIC is a destination (KVM `kvm_apic_match_dest`, QEMU `apic_get_delivery_bitmask`):
    /// ``Addressing/matches(destination:logical:shorthand:source:)`` of its ``addressing``.
    @inline(__always)
    public func matches(destination dest: UInt32, logical: Bool, shorthand: Shorthand = .none, source: UInt32? = nil) -> Bool {
        addressing.matches(destination: dest, logical: logical, shorthand: shorthand, source: source)
    }

    /// What destination matching reads of a LAPIC, apart (20 bytes): a handler matching several
    /// messages against one LAPIC takes this once, instead of passing the whole 136-byte LAPIC — which
    /// the compiler copied to each call when it did not inline the match (~2 % of a replay).
    public struct Addressing: Sendable {
        public let id: UInt32
        public let behaviour: APICBehaviour
        public let x2apic: Bool
        public let ldr: UInt32
        public let dfr: UInt32
    }

    public var addressing: Addressing {
        @inline(__always) get { Addressing(id: id, behaviour: behaviour, x2apic: x2apic, ldr: ldr, dfr: dfr) }
    }
}

extension LocalAPIC.Addressing {
    /// Whether the APIC is a destination (KVM `kvm_apic_match_dest`, QEMU `apic_get_delivery_bitmask`).
    /// - Parameters:
    ///   - source: the sending APIC's ID for an IPI, nil for a message from a device (IOAPIC, MSI).
    @inline(__always)
    public func matches(destination dest: UInt32, logical: Bool, shorthand: LocalAPIC.Shorthand = .none, source: UInt32? = nil) -> Bool {
        switch shorthand {
        case .selfOnly: return source == id
        case .allIncludingSelf: return true
        case .allExcludingSelf: return source != id
        case .none: break
        }
        var mda = dest
        // KVM quirk: a device's 0xFF to an x2APIC-mode target is a broadcast.
        if behaviour == .kvm && source == nil && dest == 0xFF && x2apic { mda = 0xFFFF_FFFF }
        if !logical {
            if mda == 0xFFFF_FFFF || (!x2apic && mda == 0xFF) { return true }
            if x2apic || mda > 0xFF { return id == mda }
            return UInt8(truncatingIfNeeded: id) == UInt8(truncatingIfNeeded: mda)
        }
        if mda == 0xFFFF_FFFF || (!x2apic && mda == 0xFF) { return true }
        if x2apic {
            let x2ldr = ((id >> 4) << 16) | (1 << (id & 0xF))
            return (x2ldr >> 16) == (mda >> 16) && (x2ldr & mda & 0xFFFF) != 0
        }
        let logicalID = ldr >> 24
        switch dfr {
        case 0xFFFF_FFFF:
            return logicalID & mda & 0xFF != 0
        case 0x0FFF_FFFF:
            // QEMU treats cluster 0xF as a broadcast to all clusters; KVM does not (semantics.md §1.8).
            let clusterMatch = (logicalID >> 4) == ((mda >> 4) & 0xF) || (behaviour == .qemu && (mda & 0xF0) == 0xF0)
            return clusterMatch && (logicalID & mda & 0xF) != 0
        default:
            return false
        }
    }
}
