/// The IOAPIC: 24 input pins routed by redirection entries, with level-triggered Remote IRR cycles,
/// masking, and re-delivery on EOI while a line stays asserted (semantics.md §2.2 KVM, §2.3 QEMU).
/// It produces delivery requests; the machine routes them to LAPICs (or through interrupt remapping).
public struct IOAPIC: Hashable, Sendable, Codable {
    public static let pinCount = 24
    /// After this many successive EOIs re-delivering a still-asserted level pin, the next re-delivery
    /// is delayed ~10 ms (KVM `IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT`, QEMU `SUCCESSIVE_IRQ_MAX_COUNT`).
    public static let successiveEOILimit = 10_000

    public let behaviour: APICBehaviour
    /// IOAPICID bits 27:24 (0 at reset).
    public var ioapicID: UInt32 = 0
    public var entries: [RedirectionEntry]
    /// IRR: asserted (level) or pending (edge) pins.
    public var irr: UInt32 = 0
    /// Per-pin line level, OR of the sources driving it (KVM `irq_states`, bit per source id).
    public var sources: [UInt64]
    /// Successive EOI re-deliveries per pin.
    public var successiveEOIs: [Int]
    /// IOREGSEL (offset 0x00).
    public var registerSelect: UInt8 = 0

    public init(behaviour: APICBehaviour) {
        self.behaviour = behaviour
        entries = [RedirectionEntry](repeating: RedirectionEntry(), count: Self.pinCount)
        sources = [UInt64](repeating: 0, count: Self.pinCount)
        successiveEOIs = [Int](repeating: 0, count: Self.pinCount)
    }

    /// A request to deliver pin `pin`'s interrupt as its entry says.
    public struct Delivery: Hashable, Sendable {
        public var pin: Int
        public var entry: RedirectionEntry
    }

    /// What a line change did.
    public enum LineResult: Hashable, Sendable {
        case delivered(Delivery)
        /// No rising edge (KVM) or Remote IRR still set (level): nothing new delivered.
        case coalesced
        /// Masked: an edge is lost; a level stays in IRR and is sampled on unmask.
        case masked
        /// The line went low (or stayed low).
        case lowered
    }

    /// Source `source` drives pin `pin` to `level` (KVM `kvm_ioapic_set_irq`, QEMU `ioapic_set_irq`).
    public mutating func setLine(pin: Int, level: Bool, source: Int = 0) -> LineResult {
        guard pin >= 0 && pin < Self.pinCount else { return .lowered }
        let bit = UInt32(1) << UInt32(pin)
        let lineLevel: Bool
        if behaviour == .kvm {
            if level { sources[pin] |= 1 << UInt64(source & 63) } else { sources[pin] &= ~(1 << UInt64(source & 63)) }
            lineLevel = sources[pin] != 0
        } else {
            lineLevel = level
        }
        let e = entries[pin]
        guard lineLevel else {
            irr &= ~bit
            return .lowered
        }
        if behaviour == .qemu && !e.levelTriggered {
            // QEMU: no edge detection; a masked edge is ignored (82093AA).
            guard !e.masked else { return .masked }
            return service(pin)
        }
        let old = irr
        irr |= bit
        if behaviour == .kvm && old == irr { return .coalesced }
        if e.masked { return .masked }
        if e.levelTriggered && e.remoteIRR { return .coalesced }
        return service(pin)
    }

    /// Delivers pin `pin` (KVM/QEMU `ioapic_service`): a level pin sets Remote IRR; an edge pin's
    /// request is consumed.
    public mutating func service(_ pin: Int) -> LineResult {
        let bit = UInt32(1) << UInt32(pin)
        let e = entries[pin]
        if e.masked { return .masked }
        if e.levelTriggered {
            if e.remoteIRR { return .coalesced }
            entries[pin].remoteIRR = true
        } else if behaviour == .qemu {
            irr &= ~bit
        }
        return .delivered(Delivery(pin: pin, entry: entries[pin]))
    }

    /// An EOI for `vector` reaching the IOAPIC (KVM `kvm_ioapic_update_eoi`, QEMU
    /// `ioapic_eoi_broadcast`): every level pin with that vector clears Remote IRR; a pin whose line is
    /// still asserted and unmasked is delivered again (after 10,000 successive times, delayed).
    public mutating func endOfInterrupt(vector: UInt8, level: Bool = true) -> [EOIEffect] {
        var out: [EOIEffect] = []
        for pin in 0..<Self.pinCount where entries[pin].vector == vector {
            let e = entries[pin]
            if behaviour == .kvm && !level { continue }
            if behaviour == .qemu && !e.levelTriggered { continue }
            if behaviour == .qemu && !e.remoteIRR { continue }
            entries[pin].remoteIRR = false
            out.append(.remoteIRRCleared(pin: pin))
            if !e.masked && irr & (1 << UInt32(pin)) != 0 {
                successiveEOIs[pin] += 1
                if successiveEOIs[pin] >= Self.successiveEOILimit {
                    successiveEOIs[pin] = 0
                    out.append(.delayedRedelivery(pin: pin))
                } else if case .delivered(let d) = service(pin) {
                    out.append(.redelivered(d))
                }
            } else {
                successiveEOIs[pin] = 0
            }
        }
        return out
    }

    public enum EOIEffect: Hashable, Sendable {
        case remoteIRRCleared(pin: Int)
        case redelivered(Delivery)
        case delayedRedelivery(pin: Int)
    }

    /// What a 32-bit read of IOWIN with IOREGSEL `select` returns for a redirection entry (low or high
    /// half, with Remote IRR); nil for the ID, version and arbitration registers.
    public func readRegister(select: UInt8) -> UInt32? {
        // ID and arbitration ID: the ID in bits 27:24; version: 0x20 (QEMU) or 0x11 (KVM) with the
        // highest entry index in bits 23:16 (hw/intc/ioapic.c, arch/x86/kvm/ioapic.c).
        switch select {
        case 0x00, 0x02: return select == 0x02 && behaviour == .kvm ? nil : ioapicID << 24
        case 0x01: return (behaviour == .kvm ? 0x11 : 0x20) | UInt32(Self.pinCount - 1) << 16
        default: break
        }
        guard select >= 0x10 else { return nil }
        let pin = Int(select - 0x10) / 2
        guard pin < Self.pinCount else { return nil }
        let bits = entries[pin].bits
        return (select - 0x10) % 2 == 1 ? UInt32(truncatingIfNeeded: bits >> 32) : UInt32(truncatingIfNeeded: bits)
    }

    /// A 32-bit write to IOWIN with IOREGSEL `select` (RTE halves at 0x10 + 2n / 0x11 + 2n). Keeps the
    /// read-only Remote IRR and delivery status; an entry switched to edge clears Remote IRR. Returns
    /// the delivery a level pin still asserted gets when unmasked.
    public mutating func writeRegister(select: UInt8, value: UInt32) -> Delivery? {
        if select == 0x00 { ioapicID = (value >> 24) & 0xF; return nil }
        guard select >= 0x10 else { return nil }
        let pin = Int(select - 0x10) / 2
        guard pin < Self.pinCount else { return nil }
        let high = (select - 0x10) % 2 == 1
        var bits = entries[pin].bits
        let readOnly: UInt64 = (1 << 14) | (1 << 12)
        if high {
            bits = (bits & 0xFFFF_FFFF) | (UInt64(value) << 32)
        } else {
            bits = (bits & ~UInt64(0xFFFF_FFFF)) | (UInt64(value) & ~readOnly) | (bits & readOnly)
        }
        var e = RedirectionEntry(bits: bits)
        if !e.levelTriggered { e.remoteIRR = false }
        entries[pin] = e
        successiveEOIs[pin] = behaviour == .qemu ? 0 : successiveEOIs[pin]
        if e.levelTriggered && !e.masked && !e.remoteIRR && irr & (1 << UInt32(pin)) != 0,
           case .delivered(let d) = service(pin) { return d }
        return nil
    }
}
