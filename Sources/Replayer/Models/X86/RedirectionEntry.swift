/// An IOAPIC redirection-table entry (64 bits; KVM `union kvm_ioapic_redirect_entry`, QEMU
/// `IOAPIC_LVT_*`; semantics.md §2.1).
public struct RedirectionEntry: Hashable, Sendable, Codable {
    public var bits: UInt64

    public init(bits: UInt64 = 1 << 16) { self.bits = bits } // reset: masked

    public var vector: UInt8 { UInt8(truncatingIfNeeded: bits) }
    public var deliveryMode: DeliveryMode { DeliveryMode(rawValue: UInt8((bits >> 8) & 7))! }
    public var logical: Bool { bits & (1 << 11) != 0 }
    public var activeLow: Bool { bits & (1 << 13) != 0 }
    /// Remote IRR (bit 14, read-only to the guest): a level interrupt was delivered and not yet EOI'd.
    public var remoteIRR: Bool {
        get { bits & (1 << 14) != 0 }
        set { if newValue { bits |= 1 << 14 } else { bits &= ~(1 << 14) } }
    }
    public var levelTriggered: Bool { bits & (1 << 15) != 0 }
    public var masked: Bool { bits & (1 << 16) != 0 }
    /// Destination (bits 63:56).
    public var destination: UInt8 { UInt8(truncatingIfNeeded: bits >> 56) }
    /// Remappable format (bit 48, VT-d): the entry holds an interrupt-remapping index instead.
    public var remappable: Bool { bits & (1 << 48) != 0 }
    /// Remapping index: bit 11 = index[15], bits 63:49 = index[14:0].
    public var remapIndex: UInt16 { UInt16(truncatingIfNeeded: (bits >> 49) & 0x7FFF) | (logical ? 0x8000 : 0) }
}
