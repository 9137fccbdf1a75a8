/// AMD-Vi interrupt remapping (AMD IOMMU spec rev 3.x §2.2.5), as QEMU 7.2's `amdvi_int_remap_msi`
/// (hw/i386/amd_iommu.c) does it, or as the specification describes it: an MSI (the IOAPIC's too)
/// from a device whose DTE has IV = 1 is looked up in that device's interrupt remapping table at
/// index MSI data[10:0], and the IRTE gives the vector, destination and modes.
public struct AMDVIRemapping: Hashable, Sendable, Codable {
    /// Whose rules: QEMU 7.2's emulation (what `replay --check` compares a QEMU trace with) or the
    /// specification's. They differ in four places, each marked `rules` below.
    public enum Rules: Sendable, Hashable, Codable {
        case qemu72
        case specification
    }

    public var rules: Rules
    /// Control.GAEn (MMIO 0x18 bit 17): IRTEs are 128-bit guest-virtual-APIC entries.
    public var guestVirtualAPIC = false
    /// Control.XTEn (bit 50, x2APIC destinations in GA entries); QEMU 7.2 has no `xtsup`.
    public var x2APIC = false

    public init(rules: Rules = .qemu72) { self.rules = rules }

    /// MSI data bits 10:0 select the IRTE (QEMU `AMDVI_IRTE_OFFSET`).
    public static func index(of request: MSIMessage) -> Int { Int(request.data & 0x7FF) }

    /// The byte offset of a request's IRTE in the table: 4 bytes a basic entry, 16 a GA entry.
    public func irteOffset(of request: MSIMessage) -> UInt64 {
        UInt64(Self.index(of: request)) << (guestVirtualAPIC ? 4 : 2)
    }

    /// What QEMU prints in `amdvi_ir_delivery_mode` for a request, from MSI data bits 10:8
    /// (nil: SMI, reported with error_report and no trace event).
    public static func deliveryModeTrace(of request: MSIMessage) -> String? {
        switch (request.data >> 8) & 7 {
        case 0, 1: "fixed/arbitrated"
        case 2: nil
        case 4: "nmi"
        case 5: "init"
        case 7: "eint"
        default: "unsupported delivery_mode"
        }
    }

    /// The outcome of a request.
    /// - Parameters:
    ///   - request: the MSI as the IOMMU received it.
    ///   - dte: the requester's DTE interrupt quadword; nil when the device table is not set up
    ///     (DevTabLen 0: QEMU then passes every interrupt through).
    ///   - irte: the entry at an index of the DTE's table (nil: not readable).
    public func remap(_ request: MSIMessage, dte: AMDVIDeviceInterrupts?, irte: (Int) -> AMDVIIRTE?) -> AMDVIRemapOutcome {
        guard let dte, dte.remapValid else { return .passThrough(request) }
        // QEMU: the address must lie in the interrupt range 0xFEE00000–0xFEEFFFFF.
        guard request.address >= 0xFEE0_0000 && request.address + 4 <= 0xFEF0_0000 else { return .fault(.notInterruptAddress) }
        let pass: Bool
        switch (request.data >> 8) & 7 {
        case 0, 1:
            return remapFixed(request, dte: dte, irte: irte)
        case 2: return .fault(.smi)
        case 4: pass = dte.nmiPass
        case 5: pass = dte.initPass
        case 7: pass = dte.extIntPass
        default: return .fault(.unsupportedDeliveryMode)
        }
        // Only fixed and arbitrated interrupts may use logical destinations (address bit 2).
        if request.logical { return .fault(.invalidDestinationMode) }
        return pass ? .passThrough(request) : .fault(.passNotEnabled)
    }

    func remapFixed(_ request: MSIMessage, dte: AMDVIDeviceInterrupts, irte: (Int) -> AMDVIIRTE?) -> AMDVIRemapOutcome {
        switch dte.interruptControl {
        case .abort: return .fault(.interruptControlAbort)
        case .reserved: return .fault(.interruptControlReserved)
        case .pass:
            // rules: QEMU 7.2's __amdvi_int_remap_msi copies the message, but its caller then
            // overwrites it with x86_iommu_irq_to_msi_message of the untouched, zeroed X86IOMMUIrq:
            // vector 0 to APIC 0. The specification forwards the interrupt unmapped.
            if rules == .qemu72 { return .remapped(Self.message(vector: 0, type: 0, destination: 0, logical: false, hint: false), index: -1) }
            return .passThrough(request)
        case .remap: break
        }
        let index = Self.index(of: request)
        // rules: the specification target-aborts an index at or beyond 2^IntTabLen (IntTabLen
        // above 1011b is reserved); QEMU 7.2 never reads IntTabLen.
        if rules == .specification && (dte.tableLength > 11 || index >= 1 << dte.tableLength) { return .fault(.indexBeyondTable) }
        guard let e = irte(index) else { return .fault(.irteUnreadable) }
        if !e.remapEnabled {
            // rules: QEMU 7.2 logs no event at all; the spec logs IO_PAGE_FAULT unless SupIOPF or IG.
            return .fault(.remapDisabled(logged: rules == .specification && !e.suppressIOPageFault && !dte.ignoreUnmapped))
        }
        if e.guestMode { return .fault(.guestMode) }
        if e.interruptType > 1 { return .fault(.reservedInterruptType) }
        // rules: QEMU 7.2's GA entry has an 8-bit destination (bits 15:8, `destination:8`); the
        // spec's is 24 bits, 32 with XTEn.
        let destination = rules == .qemu72 ? UInt32((e.low >> 8) & 0xFF) : e.destination(x2APIC: x2APIC)
        return .remapped(Self.message(vector: e.vector, type: e.interruptType, destination: destination, logical: e.logical, hint: e.requestEOI),
                         index: index)
    }

    /// QEMU's x86_iommu_irq_to_msi_message: destination bits 7:0 in address bits 19:12 and bits
    /// 31:8 in the high address word, RqEoi as the redirection hint, DM at bit 2; data with the
    /// vector, the type, the assert bit and trigger mode 0 (an AMD-Vi IRTE has no trigger mode).
    static func message(vector: UInt8, type: UInt8, destination: UInt32, logical: Bool, hint: Bool) -> MSIMessage {
        let address: UInt64 = 0xFEE0_0000 | UInt64(destination & 0xFF) << 12 | (hint ? 8 : 0) | (logical ? 4 : 0)
            | UInt64(destination & 0xFFFF_FF00) << 32
        return MSIMessage(address: address, data: UInt32(vector) | UInt32(type) << 8 | 1 << 14)
    }
}

/// What AMD-Vi does with an interrupt request.
public enum AMDVIRemapOutcome: Hashable, Sendable {
    /// Forwarded unchanged (no device table, IV = 0, or a passed NMI/INIT/ExtInt).
    case passThrough(MSIMessage)
    /// Translated through the IRTE at `index` (-1: QEMU 7.2's IntCtl = pass quirk, no IRTE).
    case remapped(MSIMessage, index: Int)
    case fault(AMDVIRemapFault)

    public var message: MSIMessage? {
        switch self {
        case .passThrough(let m), .remapped(let m, _): m
        case .fault: nil
        }
    }
}

/// Why AMD-Vi refused an interrupt, with the trace event QEMU 7.2 prints for it (if any).
public enum AMDVIRemapFault: Hashable, Sendable, CustomStringConvertible {
    case notInterruptAddress
    case smi
    case unsupportedDeliveryMode
    case invalidDestinationMode
    case passNotEnabled
    case interruptControlAbort
    case interruptControlReserved
    case indexBeyondTable
    case irteUnreadable
    /// RemapEn = 0; `logged`: an IO_PAGE_FAULT event is written (specification rules).
    case remapDisabled(logged: Bool)
    case guestMode
    case reservedInterruptType

    /// The `amdvi_ir_target_abort` / `amdvi_ir_err` / `amdvi_err` event and text QEMU 7.2 traces.
    public var qemuTrace: (event: String, text: String)? {
        switch self {
        case .notInterruptAddress: ("amdvi_err", "MSI is not from IOAPIC.")
        case .invalidDestinationMode: ("amdvi_ir_err", "invalid dest_mode")
        case .passNotEnabled: ("amdvi_ir_err", "passthrough is not enabled")
        case .interruptControlAbort: ("amdvi_ir_target_abort", "int_ctl abort")
        case .interruptControlReserved: ("amdvi_ir_err", "int_ctl reserved")
        case .remapDisabled: ("amdvi_ir_target_abort", "RemapEn is disabled")
        case .irteUnreadable: ("amdvi_ir_err", "failed to get irte")
        case .smi, .unsupportedDeliveryMode, .guestMode, .reservedInterruptType, .indexBeyondTable: nil
        }
    }

    public var description: String {
        switch self {
        case .notInterruptAddress: "address outside 0xFEE00000-0xFEEFFFFF"
        case .smi: "SMI (unsupported)"
        case .unsupportedDeliveryMode: "reserved delivery mode"
        case .invalidDestinationMode: "logical destination for an NMI/INIT/ExtInt"
        case .passNotEnabled: "NMI/INIT/ExtInt without its DTE pass bit"
        case .interruptControlAbort: "IntCtl = target abort"
        case .interruptControlReserved: "IntCtl reserved"
        case .indexBeyondTable: "IRTE index beyond 2^IntTabLen"
        case .irteUnreadable: "IRTE not readable"
        case .remapDisabled(let logged): "IRTE RemapEn = 0\(logged ? " (IO_PAGE_FAULT logged)" : "")"
        case .guestMode: "IRTE GuestMode set"
        case .reservedInterruptType: "IRTE IntType reserved"
        }
    }
}
