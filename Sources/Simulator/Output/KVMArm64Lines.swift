/// The arm64 kvm tracepoints the simulator writes, spelled as Linux 6.x prints them in tracefs
/// `trace` text. Sources (TP_printk): arch/arm64/kvm/trace_arm.h (`kvm_entry` "PC: 0x%016lx";
/// `kvm_exit` "%s: HSR_EC: 0x%04x (%s), PC: 0x%016lx", whose EC is 0 for non-trap exits: `esr_ec =
/// ARM_EXCEPTION_IS_TRAP(ret) ? esr_ec : 0`; `kvm_irq_line` "Inject %s interrupt (%d), vcpu->idx: %d,
/// num: %d, level: %d"; `kvm_timer_update_irq` "VCPU: %ld, IRQ %d, level %d"),
/// arch/arm64/kvm/trace_handle_exit.h (`kvm_wfx_arm64` "guest executed wf%c at: 0x%016lx"),
/// arch/arm64/kvm/vgic/trace.h (`vgic_update_irq_pending` "VCPU: %ld, IRQ %d, level: %d") and the
/// generic include/trace/events/kvm.h (`kvm_mmio` "mmio %s len %u gpa 0x%llx val 0x%llx",
/// `kvm_userspace_exit` "reason %s (%d)", `kvm_vcpu_wakeup` "%s time %lld ns, polling %s"; the same
/// print formats as shared/reference/tracefs-6.18/kvm.format.txt).
///
/// Numbers the format prints as constants here (the exception class, the irq type, the exit reason)
/// are placeholders too: the ftrace tokenizer makes a slot of every number, so a template has one.
/// PCs (`%016lx`) are written `{x}`: guest kernel addresses (0xffff8000…) have 16 significant digits,
/// so the zero padding never shows and an import of the text makes a template without it.
enum KVMArm64Line: Int, CaseIterable {
    case entry
    /// An IRQ exit (a kick, a host interrupt): EC printed 0, "UNKNOWN".
    case exitIRQ
    /// A WFI/WFE trap (EC 0x01).
    case exitWFx
    /// A stage-2 data abort from the guest (EC 0x24): an MMIO access to the vGIC distributor or a
    /// device emulated by userspace.
    case exitDataAbort
    case wfi
    case mmioWrite, mmioUnsatisfiedRead, mmioRead
    case userspaceExit
    /// KVM_IRQ_LINE of type KVM_ARM_IRQ_TYPE_SPI (1): vcpu index 0, num = the INTID.
    case irqLineSPI
    case timerUpdate
    case pending
    case wakeup

    var format: LineFormat {
        switch self {
        case .entry: return LineFormat("kvm_entry", "PC: 0x{x}")
        case .exitIRQ: return LineFormat("kvm_exit", "IRQ: HSR_EC: 0x{x4} (UNKNOWN), PC: 0x{x}")
        case .exitWFx: return LineFormat("kvm_exit", "TRAP: HSR_EC: 0x{x4} (WFx), PC: 0x{x}")
        case .exitDataAbort: return LineFormat("kvm_exit", "TRAP: HSR_EC: 0x{x4} (DABT_LOW), PC: 0x{x}")
        case .wfi: return LineFormat("kvm_wfx_arm64", "guest executed wfi at: 0x{x}")
        case .mmioWrite: return LineFormat("kvm_mmio", "mmio write len {d} gpa 0x{x} val 0x{x}")
        case .mmioUnsatisfiedRead: return LineFormat("kvm_mmio", "mmio unsatisfied-read len {d} gpa 0x{x} val 0x{x}")
        case .mmioRead: return LineFormat("kvm_mmio", "mmio read len {d} gpa 0x{x} val 0x{x}")
        case .userspaceExit: return LineFormat("kvm_userspace_exit", "reason KVM_EXIT_MMIO ({d})")
        case .irqLineSPI: return LineFormat("kvm_irq_line", "Inject VGIC SPI interrupt ({d}), vcpu->idx: {d}, num: {d}, level: {d}")
        case .timerUpdate: return LineFormat("kvm_timer_update_irq", "VCPU: {d}, IRQ {d}, level {d}")
        case .pending: return LineFormat("vgic_update_irq_pending", "VCPU: {d}, IRQ {d}, level: {d}")
        case .wakeup: return LineFormat("kvm_vcpu_wakeup", "wait time {d} ns, polling valid")
        }
    }

    static var formats: [LineFormat] { allCases.map(\.format) }
}
