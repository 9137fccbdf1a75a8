/// The QEMU 7.2 GICv2 trace events (hw/intc/trace-events, printed by hw/intc/arm_gic.c) the
/// simulator writes, spelled as `-trace gic_*` logs them (traces/qemu-arm64-virt-gicv2-*.log.zst).
/// The `%s` of the CPU-interface events is always "cpu" (the simulated guest does not use the
/// virtualization extensions' virtual CPU interface), and the IRQ-line event always names "irq"
/// (Linux puts every interrupt in group 0 with FIQs off).
enum QEMUGICLine: Int, CaseIterable {
    /// `gic_set_irq(irq, level, cpumask, target)`: a device line changed (SPI: cpumask 0xff, target =
    /// ITARGETSR; PPI: the CPU's own bit for both). Printed only when the level changes.
    case setIRQ
    /// `gic_update_bestirq`: gic_update's best interrupt of one CPU (only when there is one).
    case bestIRQ
    /// `gic_update_set_irq`: gic_update raises the CPU's IRQ line.
    case setIRQLine
    /// `gic_acknowledge_irq`: a GICC_IAR read (printed before the priority check: current_pending).
    case acknowledge
    /// `gic_cpu_read` / `gic_cpu_write`: CPU-interface accesses (IAR 0xc, CTLR 0x0, PMR 0x4, EOIR 0x10, DIR 0x1000, …).
    case cpuRead, cpuWrite
    /// `gic_dist_read` / `gic_dist_write`: distributor accesses (the accessing CPU is not printed).
    case distRead, distWrite
    /// The same with a value of eight significant hex digits (0xffffffff, 0xa0a0a0a0): `%08x` then
    /// prints no leading zero, and an import of such a line makes a template without the zero pad.
    case distReadWide, distWriteWide
    /// `gic_enable_irq`: an ISENABLER write enabled an interrupt that was disabled.
    case enableIRQ

    var format: LineFormat {
        switch self {
        case .setIRQ: return LineFormat("gic_set_irq", "irq {d} level {d} cpumask 0x{x} target 0x{x}")
        case .bestIRQ: return LineFormat("gic_update_bestirq", "cpu {d} irq {d} priority {d} cpu priority mask {d} cpu running priority {d}")
        case .setIRQLine: return LineFormat("gic_update_set_irq", "cpu[{d}]: irq = {d}")
        case .acknowledge: return LineFormat("gic_acknowledge_irq", "cpu {d} acknowledged irq {d}")
        case .cpuRead: return LineFormat("gic_cpu_read", "cpu {d} iface read at 0x{x8}: 0x{x8}")
        case .cpuWrite: return LineFormat("gic_cpu_write", "cpu {d} iface write at 0x{x8} 0x{x8}")
        case .distRead: return LineFormat("gic_dist_read", "dist read at 0x{x8} size {d}: 0x{x8}")
        case .distWrite: return LineFormat("gic_dist_write", "dist write at 0x{x8} size {d}: 0x{x8}")
        case .distReadWide: return LineFormat("gic_dist_read", "dist read at 0x{x8} size {d}: 0x{x}")
        case .distWriteWide: return LineFormat("gic_dist_write", "dist write at 0x{x8} size {d}: 0x{x}")
        case .enableIRQ: return LineFormat("gic_enable_irq", "irq {d} enabled")
        }
    }

    static var formats: [LineFormat] { allCases.map(\.format) }
}
