/// The interrupt half of an AMD-Vi Device Table Entry: DTE bits 191:128, QEMU's `dte[2]` (AMD I/O
/// Virtualization Technology (IOMMU) Specification rev 3.x, §2.2.2 "Device Table Entry Format").
/// Bit numbers below are within this quadword (DTE bit 128 + n).
public struct AMDVIDeviceInterrupts: Hashable, Sendable, Codable {
    public var bits: UInt64

    public init(bits: UInt64) { self.bits = bits }

    /// IV: interrupt map valid. Off: interrupts pass through unremapped (QEMU `AMDVI_IR_REMAP_ENABLE`).
    public var remapValid: Bool { bits & 1 != 0 }
    /// IntTabLen (bits 4:1): the table holds 2^IntTabLen entries; values above 1011b are reserved.
    public var tableLength: Int { Int((bits >> 1) & 0xF) }
    /// IG: ignore unmapped interrupts (an interrupt target-aborted because its IRTE has RemapEn = 0
    /// is dropped without an IO_PAGE_FAULT event).
    public var ignoreUnmapped: Bool { bits & 0x20 != 0 }
    /// IntTableRootPtr (DTE bits 179:134): the table's system physical address, 128-byte aligned.
    /// QEMU 7.2 masks 45 bits (`AMDVI_IR_PHYS_ADDR_MASK`, address bits 50:6), one fewer than the spec.
    public var tableRoot: UInt64 { bits & (((1 << 45) - 1) << 6) }
    /// INITPass, EIntPass, NMIPass (DTE bits 184, 185, 186): INIT, ExtInt and NMI requests pass unremapped.
    public var initPass: Bool { bits & (1 << 56) != 0 }
    public var extIntPass: Bool { bits & (1 << 57) != 0 }
    public var nmiPass: Bool { bits & (1 << 58) != 0 }
    /// IntCtl (DTE bits 189:188): what happens to fixed and arbitrated interrupts.
    public var interruptControl: InterruptControl { InterruptControl(rawValue: UInt8((bits >> 60) & 3))! }
    /// Lint0Pass, Lint1Pass (DTE bits 190, 191).
    public var lint0Pass: Bool { bits & (1 << 62) != 0 }
    public var lint1Pass: Bool { bits & (1 << 63) != 0 }

    /// IntCtl values (QEMU `AMDVI_IR_INTCTL_*`).
    public enum InterruptControl: UInt8, Sendable, Codable {
        /// 00b: target abort.
        case abort = 0
        /// 01b: forwarded unmapped.
        case pass = 1
        /// 10b: remapped through the interrupt remapping table.
        case remap = 2
        /// 11b: reserved.
        case reserved = 3
    }

    /// A DTE interrupt quadword from its fields (for tests and scenarios).
    public static func make(remapValid: Bool = true, tableLength: Int = 11, ignoreUnmapped: Bool = false, tableRoot: UInt64 = 0,
                            control: InterruptControl = .remap, initPass: Bool = false, extIntPass: Bool = false,
                            nmiPass: Bool = false) -> AMDVIDeviceInterrupts {
        var b: UInt64 = remapValid ? 1 : 0
        b |= UInt64(tableLength & 0xF) << 1
        b |= ignoreUnmapped ? 0x20 : 0
        b |= tableRoot & (((1 << 45) - 1) << 6)
        b |= (initPass ? 1 << 56 : 0) | (extIntPass ? 1 << 57 : 0) | (nmiPass ? 1 << 58 : 0)
        b |= UInt64(control.rawValue) << 60
        return AMDVIDeviceInterrupts(bits: b)
    }
}

/// An AMD-Vi Interrupt Remapping Table Entry (AMD IOMMU spec rev 3.x §2.2.5 "Interrupt Remapping
/// Tables"), in either format the IOMMU reads:
/// - basic, 32 bits (Control.GAEn = 0; Linux `union irte`, QEMU `union irte`): RemapEn 0, SupIOPF 1,
///   IntType 4:2, RqEoi 5, DM 6, bit 7 reserved, Destination 15:8, Vector 23:16, bits 31:24 reserved;
/// - guest virtual APIC, 128 bits (GAEn = 1; Linux `struct irte_ga`, QEMU `struct irte_ga`): the low
///   quadword has RemapEn, SupIOPF, IntType, RqEoi, DM at the same places, GuestMode at bit 7 and
///   Destination[23:0] at bits 31:8; the high quadword has Vector at bits 7:0 and Destination[31:24]
///   at bits 63:56 (x2APIC). With GuestMode = 1 the entry posts to a guest vAPIC instead.
public struct AMDVIIRTE: Hashable, Sendable, Codable {
    /// The basic entry (low 32 bits) or the GA entry's low quadword.
    public var low: UInt64
    /// The GA entry's high quadword (0 for a basic entry).
    public var high: UInt64
    public var isGuestVirtualAPICFormat: Bool

    /// A basic (32-bit) entry.
    public init(basic: UInt32) {
        low = UInt64(basic)
        high = 0
        isGuestVirtualAPICFormat = false
    }

    /// A guest-virtual-APIC (128-bit) entry.
    public init(gaLow: UInt64, gaHigh: UInt64) {
        low = gaLow
        high = gaHigh
        isGuestVirtualAPICFormat = true
    }

    /// RemapEn: the entry is valid (off: the interrupt is target-aborted).
    public var remapEnabled: Bool { low & 1 != 0 }
    /// SupIOPF: no IO_PAGE_FAULT event when RemapEn = 0.
    public var suppressIOPageFault: Bool { low & 2 != 0 }
    /// IntType: 000b fixed, 001b arbitrated (lowest priority); other values are reserved in a remapped entry.
    public var interruptType: UInt8 { UInt8((low >> 2) & 7) }
    /// RqEoi: request EOI (QEMU forwards it as the MSI redirection hint).
    public var requestEOI: Bool { low & 0x20 != 0 }
    /// DM: logical destination mode.
    public var logical: Bool { low & 0x40 != 0 }
    /// Bit 7: GuestMode in the GA format; reserved in the basic format (QEMU rejects both when set).
    public var guestMode: Bool { low & 0x80 != 0 }
    public var vector: UInt8 {
        isGuestVirtualAPICFormat ? UInt8(truncatingIfNeeded: high) : UInt8(truncatingIfNeeded: low >> 16)
    }
    /// The destination APIC ID as the spec defines it: basic 8 bits; GA 24 bits plus, with x2APIC
    /// (Control.XTEn), Destination[31:24] from the high quadword.
    public func destination(x2APIC: Bool = false) -> UInt32 {
        guard isGuestVirtualAPICFormat else { return UInt32((low >> 8) & 0xFF) }
        let d = UInt32((low >> 8) & 0xFF_FFFF)
        return x2APIC ? d | UInt32(truncatingIfNeeded: high >> 56) << 24 : d
    }
}
