/// An MSI write: address and data (semantics.md §3.1 compatibility format, §3.2 remappable format).
public struct MSIMessage: Hashable, Sendable, CustomStringConvertible, Codable {
    public var address: UInt64
    public var data: UInt32

    public init(address: UInt64, data: UInt32) {
        self.address = address
        self.data = data
    }

    // Compatibility format.
    /// Destination: address bits 19:12, plus bits 63:40 (`destid_8_31`) for x2APIC destinations.
    public var destination: UInt32 { UInt32((address >> 12) & 0xFF) | UInt32(truncatingIfNeeded: (address >> 32) & 0xFFFF_FF00) }
    /// Address bit 2: logical destination mode.
    public var logical: Bool { address & 0x4 != 0 }
    /// Address bit 3: redirection hint (lowest-priority among the destinations).
    public var redirectionHint: Bool { address & 0x8 != 0 }
    public var vector: UInt8 { UInt8(truncatingIfNeeded: data) }
    public var deliveryMode: DeliveryMode { DeliveryMode(rawValue: UInt8((data >> 8) & 7))! }
    /// Data bit 14: assert.
    public var level: Bool { data & (1 << 14) != 0 }
    /// Data bit 15: level-triggered.
    public var levelTriggered: Bool { data & (1 << 15) != 0 }
    /// Address bits 31:20 are 0xFEE.
    public var isInterruptAddress: Bool { (address >> 20) & 0xFFF == 0xFEE }

    // Remappable format.
    /// Address bit 4: interrupt format (1 = remappable).
    public var remappable: Bool { address & 0x10 != 0 }
    /// Handle: bit 2 = handle[15], bits 19:5 = handle[14:0].
    public var handle: UInt16 { UInt16(truncatingIfNeeded: (address >> 5) & 0x7FFF) | ((address & 0x4) != 0 ? 0x8000 : 0) }
    /// Address bit 3: sub-handle valid.
    public var subhandleValid: Bool { address & 0x8 != 0 }
    /// The IRTE index: handle, plus data[15:0] when SHV.
    public var remapIndex: Int { Int(handle) + (subhandleValid ? Int(data & 0xFFFF) : 0) }

    public var description: String { "(addr 0x\(String(address, radix: 16)), data 0x\(String(data, radix: 16)))" }
}
