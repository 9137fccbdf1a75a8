/// A VT-d Interrupt Remapping Table Entry (128 bits; Linux `struct irte`, QEMU `VTD_IR_TableEntry`;
/// semantics.md §3.3), in remapped (IM = 0) or posted (IM = 1) format.
public struct IRTE: Hashable, Sendable, Codable {
    public var low: UInt64
    public var high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    public var present: Bool { low & 1 != 0 }
    /// FPD: fault processing disable (faults are not reported; the interrupt is still dropped).
    public var faultProcessingDisabled: Bool { low & 2 != 0 }
    public var logical: Bool { low & 4 != 0 }
    public var redirectionHint: Bool { low & 8 != 0 }
    public var levelTriggered: Bool { low & 0x10 != 0 }
    public var deliveryMode: DeliveryMode { DeliveryMode(rawValue: UInt8((low >> 5) & 7))! }
    /// IM: posted format.
    public var isPosted: Bool { low & (1 << 15) != 0 }
    /// V (remapped) or VV, the virtual vector (posted).
    public var vector: UInt8 { UInt8(truncatingIfNeeded: low >> 16) }
    /// DST (bits 63:32); in xAPIC mode the APIC ID is DST bits 15:8.
    public var destination: UInt32 { UInt32(truncatingIfNeeded: low >> 32) }
    /// Posted: URG (bit 14).
    public var urgent: Bool { low & (1 << 14) != 0 }
    /// Posted: the posted-interrupt descriptor address (PDA[31:6] in bits 63:38, PDA[63:32] in bits 127:96).
    public var descriptorAddress: UInt64 { ((low >> 38) << 6) | ((high >> 32) << 32) }
    /// SID, SQ, SVT (source validation).
    public var sourceID: UInt16 { UInt16(truncatingIfNeeded: high) }
    public var sourceQualifier: UInt8 { UInt8((high >> 16) & 3) }
    public var sourceValidation: UInt8 { UInt8((high >> 18) & 3) }

    /// Reserved bits that must be zero (remapped format: 14:12, 31:24, 127:84).
    public var reservedBitsSet: Bool {
        if isPosted { return false }
        return low & 0x7000 != 0 || low & 0xFF00_0000 != 0 || high >> 20 != 0
    }
}

/// Why VT-d refused an interrupt request (fault reasons 0x20–0x26).
public enum RemapFault: UInt8, Sendable, Error, CustomStringConvertible {
    case requestReserved = 0x20
    case indexOverflow = 0x21
    case notPresent = 0x22
    case rootInvalid = 0x23
    case reservedBits = 0x24
    case compatibilityBlocked = 0x25
    case sourceIDMismatch = 0x26

    public var description: String {
        switch self {
        case .requestReserved: "reserved fields set in the interrupt request (0x20)"
        case .indexOverflow: "IRTE index beyond the table (0x21)"
        case .notPresent: "IRTE not present (0x22)"
        case .rootInvalid: "interrupt remapping table not readable (0x23)"
        case .reservedBits: "reserved bits set in the IRTE (0x24)"
        case .compatibilityBlocked: "compatibility-format interrupt blocked (0x25)"
        case .sourceIDMismatch: "requester id fails the IRTE's source validation (0x26)"
        }
    }
}
