/// The QEMU 7.2 x86 interrupt-controller trace events the simulator writes, spelled as
/// `-trace events=apic_*,ioapic_*,vtd_ir_*,pic_* -msg timestamp=on` logs them on a q35 machine
/// (hw/intc/trace-events, hw/i386/trace-events; shared/reference/semantics.md §6; the shapes are
/// copied from traces/qemu-x86-q35-intremap-smp2*.log.zst and traces/qemu-x86-pc-*.log.zst).
///
/// Gotchas kept as QEMU prints them: `ioapic_set_irq`'s "vector" is the input pin;
/// `ioapic_mem_write`/`_read` print the IOREGSEL value *before* the access; `vtd_ir_irte_get`
/// prints the IRTE's high quadword as "low" and its low quadword as "high"; `vtd_ir_remap`'s dest
/// is already the xAPIC APIC ID (DST bits 15:8); `apic_local_deliver`'s "vector" is the LVT index.
enum QEMUX86Line: Int, CaseIterable {
    /// `pic_set_irq(master, irq, level)`: an ISA line (GSI < 16) into the 8259 pair, printed before
    /// the IOAPIC's; a slave input is followed by the slave's output into master input 2.
    case picSetIRQ
    /// `pic_ioport_write(master, addr, val)`: the guest masking the 8259s at boot.
    case picWrite
    /// `ioapic_set_irq(pin, level)`.
    case ioapicSetIRQ
    /// `ioapic_set_remote_irr(pin)`, `ioapic_clear_remote_irr(pin, vector)`, `ioapic_eoi_broadcast(vector)`.
    case ioapicSetRemoteIRR, ioapicClearRemoteIRR, ioapicEOIBroadcast
    /// `ioapic_mem_write(addr, regsel, size, val)` (IOREGSEL at 0x0, IOWIN at 0x10).
    case ioapicMemWrite
    /// `vtd_ir_enable(en)`: the guest set GCMD.IRE.
    case irEnable
    /// `vtd_ir_remap_msi_req(addr, data)`: an MSI write into the IOMMU's interrupt window.
    case irRequest
    /// `vtd_ir_irte_get(index, hi qword, lo qword)`: the IRTE read from guest memory.
    case irteGet
    /// `vtd_ir_remap(index, trigger, vector, deliver, dest, dest_mode)`.
    case irRemap
    /// `vtd_ir_remap_type`: "MSI" (sub-handle valid) or "IOAPIC".
    case irTypeMSI, irTypeIOAPIC
    /// `vtd_ir_remap_msi(addr, data, addr2, data2)`: the translated message.
    case irRemapMSI
    /// `apic_deliver_irq(dest, dest_mode, delivery_mode, vector, trigger_mode)`: an MSI (or the
    /// IOAPIC's message) on the APIC bus.
    case apicDeliverIRQ
    /// `apic_report_irq_delivered(counter)`: QEMU's global delivered counter after one LAPIC's
    /// `apic_set_irq` (+1 unless the vector was already in that LAPIC's IRR).
    case apicReportDelivered
    /// `apic_local_deliver(lvt index, delivery mode)`: a LAPIC timer expiry (main loop).
    case apicLocalDeliver
    /// `apic_mem_writel(offset, value)` / `apic_mem_readl(offset, value)`: xAPIC MMIO by a vCPU.
    case apicWrite, apicRead

    var format: LineFormat {
        switch self {
        case .picSetIRQ: return LineFormat("pic_set_irq", "master {d} irq {d} level {d}")
        case .picWrite: return LineFormat("pic_ioport_write", "master {d} addr 0x{x} val 0x{x}")
        case .ioapicSetIRQ: return LineFormat("ioapic_set_irq", "vector: {d} level: {d}")
        case .ioapicSetRemoteIRR: return LineFormat("ioapic_set_remote_irr", "set remote irr for pin {d}")
        case .ioapicClearRemoteIRR: return LineFormat("ioapic_clear_remote_irr", "clear remote irr for pin {d} vector {d}")
        case .ioapicEOIBroadcast: return LineFormat("ioapic_eoi_broadcast", "EOI broadcast for vector {d}")
        case .ioapicMemWrite: return LineFormat("ioapic_mem_write", "ioapic mem write addr 0x{x} regsel: 0x{x} size 0x{x} val 0x{x}")
        case .irEnable: return LineFormat("vtd_ir_enable", "enable {d}")
        case .irRequest: return LineFormat("vtd_ir_remap_msi_req", "addr 0x{x} data 0x{x}")
        case .irteGet: return LineFormat("vtd_ir_irte_get", "index {d} low 0x{x} high 0x{x}")
        case .irRemap: return LineFormat("vtd_ir_remap", "index {d} trigger {d} vector {d} deliver {d} dest 0x{x} mode {d}")
        case .irTypeMSI: return LineFormat("vtd_ir_remap_type", "MSI")
        case .irTypeIOAPIC: return LineFormat("vtd_ir_remap_type", "IOAPIC")
        case .irRemapMSI: return LineFormat("vtd_ir_remap_msi", "(addr 0x{x}, data 0x{x}) -> (addr 0x{x}, data 0x{x})")
        case .apicDeliverIRQ: return LineFormat("apic_deliver_irq", "dest {d} dest_mode {d} delivery_mode {d} vector {d} trigger_mode {d}")
        case .apicReportDelivered: return LineFormat("apic_report_irq_delivered", "coalescing {d}")
        case .apicLocalDeliver: return LineFormat("apic_local_deliver", "vector {d} delivery mode {d}")
        case .apicWrite: return LineFormat("apic_mem_writel", "0x{x} = 0x{x8}")
        case .apicRead: return LineFormat("apic_mem_readl", "0x{x} = 0x{x8}")
        }
    }

    static var formats: [LineFormat] { allCases.map(\.format) }
}

/// A VFIO-assigned device's MSI-X events (QEMU 7.2 hw/vfio/trace-events, hw/vfio/pci.c), after the
/// ``QEMUX86Line`` formats. The device is named by its host address, `DDDD:BB:SS.0` (VFIO's
/// `vbasedev.name`): its domain, bus and slot are the first three values (the tokenizer reads them
/// as decimal numbers, so buses 1–9; the function digit after the dot stays text). The formats begin
/// with a space, so two follow the event name.
enum QEMUVFIOLine: Int, CaseIterable {
    /// `vfio_msix_vector_do_use(name, nr)` / `vfio_msix_vector_release(name, nr)`: QEMU's MSI-X
    /// core's vector notifiers at an effective unmask / mask (msix_handle_mask_update).
    case vectorUse, vectorRelease
    /// `vfio_msi_interrupt(name, nr, addr, data)`: QEMU's handler of the vector's eventfd, with the
    /// table entry's message.
    case interrupt
    /// `vfio_msix_pba_enable(name)` (before the interrupt of a masked vector) and
    /// `vfio_msix_pba_disable(name)` (at a use, when no vector is pending any more).
    case pbaEnable, pbaDisable
    /// `vfio_msix_enable(name)`: the guest enabled MSI-X.
    case msixEnable

    var format: LineFormat {
        switch self {
        case .vectorUse: return LineFormat("vfio_msix_vector_do_use", " ({x4}:{x2}:{x2}.0) vector {d} used")
        case .vectorRelease: return LineFormat("vfio_msix_vector_release", " ({x4}:{x2}:{x2}.0) vector {d} released")
        case .interrupt: return LineFormat("vfio_msi_interrupt", " ({x4}:{x2}:{x2}.0) vector {d} 0x{x}/0x{x}")
        case .pbaEnable: return LineFormat("vfio_msix_pba_enable", " ({x4}:{x2}:{x2}.0)")
        case .pbaDisable: return LineFormat("vfio_msix_pba_disable", " ({x4}:{x2}:{x2}.0)")
        case .msixEnable: return LineFormat("vfio_msix_enable", " ({x4}:{x2}:{x2}.0)")
        }
    }
}
