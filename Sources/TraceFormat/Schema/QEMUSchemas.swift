/// QEMU trace events for interrupt controllers, with formats verbatim from QEMU's `trace-events`
/// files (hw/intc, hw/i386, hw/pci; PRIx64 etc. written out as `%lx`), checked against the format
/// strings compiled into Debian 12's QEMU 7.2 binaries (`strings qemu-system-x86_64`). Field names follow QEMU's
/// prototypes, except where the printed word lies about the value (see semantics.md §6):
/// - `apic_local_deliver`'s "vector" is the LVT index → field `lvt`;
/// - `ioapic_set_irq`'s "vector" is the input pin → field `pin`;
/// - `ioapic_eoi_delayed_reassert` is passed the pin → field `pin`;
/// - `vtd_ir_irte_get` prints the two quadwords swapped: the value after "low" is the IRTE's high
///   quadword → fields `irte_high` then `irte_low`;
/// - `apic_deliver_irq`'s dest is truncated to 8 bits by its `uint8_t` prototype.
public enum QEMUSchemas {
    static func q(_ name: String, _ format: String, _ fields: String) -> EventSchema {
        EventSchema(.qemu, name, format, fields)
    }

    public static let all: [EventSchema] = [
        // hw/intc/apic_common.c, apic.c
        q("cpu_set_apic_base", "0x%016lx", "value"),
        q("cpu_get_apic_base", "0x%016lx", "value"),
        q("apic_local_deliver", "vector %d delivery mode %d", "lvt delivery_mode"),
        q("apic_deliver_irq", "dest %d dest_mode %d delivery_mode %d vector %d trigger_mode %d",
          "dest:dest dest_mode delivery_mode vector:vector trigger_mode"),
        // QEMU ≤ 8.x (Debian 12's 7.2): MMIO offset and 32-bit value; later QEMU prints register indices.
        q("apic_mem_readl", "0x%lx = 0x%08x", "offset value"),
        q("apic_mem_writel", "0x%lx = 0x%08x", "offset value"),
        q("apic_report_irq_delivered", "coalescing %d", "delivered"),
        q("apic_reset_irq_delivered", "old coalescing %d", "delivered"),
        q("apic_get_irq_delivered", "returning coalescing %d", "delivered"),
        q("apic_register_read", "register 0x%02x = 0x%lx", "reg value"),
        q("apic_register_write", "register 0x%02x = 0x%lx", "reg value"),
        // hw/intc/ioapic.c
        q("ioapic_set_remote_irr", "set remote irr for pin %d", "pin:pin"),
        q("ioapic_clear_remote_irr", "clear remote irr for pin %d vector %d", "pin:pin vector:vector"),
        q("ioapic_eoi_broadcast", "EOI broadcast for vector %d", "vector:vector"),
        q("ioapic_eoi_delayed_reassert", "delayed reassert on EOI broadcast for vector %d", "pin:pin"),
        q("ioapic_mem_read", "ioapic mem read addr 0x%x regsel: 0x%x size 0x%x retval 0x%x", "addr regsel size value"),
        q("ioapic_mem_write", "ioapic mem write addr 0x%x regsel: 0x%x size 0x%x val 0x%x", "addr regsel size value"),
        q("ioapic_set_irq", "vector: %d level: %d", "pin:pin level"),
        // hw/intc/i8259.c
        q("pic_update_irq", "master %d imr %u irr %u padd %u", "master imr irr padd"),
        q("pic_set_irq", "master %d irq %d level %d", "master irq:pin level"),
        q("pic_interrupt", "irq %d intno %d", "irq:pin vector:vector"),
        // Not a trace event: QEMU's `-d int` log line from x86 TCG's x86_cpu_exec_interrupt
        // (target/i386/tcg/sysemu/seg_helper.c, `qemu_log_mask(CPU_LOG_INT, "Servicing hardware
        // INT=0x%02x\n", intno)`), printed after cpu_get_pic_interrupt acknowledged the vector.
        // The tokenizer reads "Servicing" as its name (QEMULogTokenizer).
        q("Servicing", "hardware INT=0x%02x", "vector:vector"),
        q("pic_ioport_write", "master %d addr 0x%lx val 0x%lx", "master addr value"),
        q("pic_ioport_read", "master %d addr 0x%lx val 0x%x", "master addr value"),
        // hw/intc/kvm_irqcount.c
        q("kvm_report_irq_delivered", "coalescing %d", "delivered"),
        q("kvm_reset_irq_delivered", "old coalescing %d", "delivered"),
        q("kvm_get_irq_delivered", "returning coalescing %d", "delivered"),
        // hw/intc/arm_gic.c (QEMU with virtualization extensions: leading "cpu"/"vcpu")
        q("gic_enable_irq", "irq %d enabled", "irq:irq"),
        q("gic_disable_irq", "irq %d disabled", "irq:irq"),
        q("gic_set_irq", "irq %d level %d cpumask 0x%x target 0x%x", "irq:irq level cpumask target"),
        q("gic_update_bestirq", "%s %d irq %d priority %d cpu priority mask %d cpu running priority %d",
          "iface cpu:cpu irq:irq priority priority_mask running_priority"),
        q("gic_update_bestirq", "cpu %d irq %d priority %d cpu priority mask %d cpu running priority %d",
          "cpu:cpu irq:irq priority priority_mask running_priority"),
        q("gic_update_set_irq", "cpu[%d]: %s = %d", "cpu:cpu line level"),
        q("gic_acknowledge_irq", "%s %d acknowledged irq %d", "iface cpu:cpu irq:irq"),
        q("gic_acknowledge_irq", "cpu %d acknowledged irq %d", "cpu:cpu irq:irq"),
        q("gic_cpu_write", "%s %d iface write at 0x%08x 0x%08x", "iface cpu:cpu addr value"),
        q("gic_cpu_read", "%s %d iface read at 0x%08x: 0x%08x", "iface cpu:cpu addr value"),
        q("gic_hyp_read", "hyp read at 0x%08x: 0x%08x", "addr value"),
        q("gic_hyp_write", "hyp write at 0x%08x: 0x%08x", "addr value"),
        q("gic_dist_read", "dist read at 0x%08x size %u: 0x%08x", "addr size value"),
        q("gic_dist_write", "dist write at 0x%08x size %u: 0x%08x", "addr size value"),
        q("gic_lr_entry", "cpu %d: new lr entry %d: 0x%08x", "cpu:cpu entry value"),
        q("gic_update_maintenance_irq", "cpu %d: maintenance = %d", "cpu:cpu level"),
        // hw/intc/arm_gicv2m? QEMU 7.2 has no gicv2m trace events; GICv2m MSIs appear as gic_set_irq.
        // hw/i386/intel_iommu.c (interrupt remapping subset)
        q("vtd_ir_enable", "enable %d", "enabled"),
        q("vtd_ir_irte_get", "index %d low 0x%lx high 0x%lx", "index irte_high irte_low"),
        q("vtd_ir_remap", "index %d trigger %d vector %d deliver %d dest 0x%x mode %d",
          "index trigger vector:vector delivery_mode dest:dest dest_mode"),
        q("vtd_ir_remap_type", "%s", "type"),
        q("vtd_ir_remap_msi", "(addr 0x%lx, data 0x%lx) -> (addr 0x%lx, data 0x%lx)", "addr data remapped_addr remapped_data"),
        q("vtd_ir_remap_msi_req", "addr 0x%lx data 0x%lx", "addr data"),
        // hw/i386/amd_iommu.c (AMD-Vi interrupt remapping)
        q("amdvi_ir_remap_msi_req", "addr 0x%lx data 0x%lx devid 0x%x", "addr data devid"),
        q("amdvi_ir_remap_msi", "(addr 0x%lx, data 0x%lx) -> (addr 0x%lx, data 0x%lx)", "addr data remapped_addr remapped_data"),
        q("amdvi_ir_intctl", "int_ctl 0x%x", "value"),
        q("amdvi_ir_irte", "addr 0x%lx offset 0x%lx", "addr offset"),
        q("amdvi_ir_irte_val", "data 0x%x", "data"),
        q("amdvi_ir_irte_ga_val", "hi 0x%lx lo 0x%lx", "high low"),
        q("amdvi_ir_delivery_mode", "%s", "mode"),
        q("amdvi_ir_target_abort", "%s", "reason"),
        q("amdvi_ir_err", "%s", "reason"),
        q("amdvi_err", "%s", "reason"),
        q("amdvi_control_status", "MMIO_STATUS state 0x%lx", "value"),
        q("vtd_warn_ir_vector", "sid 0x%x index %d vec %d (should be: %d)", "sid index vector:vector expected"),
        q("vtd_warn_ir_trigger", "sid 0x%x index %d trigger %d (should be: %d)", "sid index trigger expected"),
        q("vtd_reg_ir_root", "addr 0x%lx size 0x%x", "addr size"),
        q("vtd_inv_desc_iec", "granularity 0x%x index 0x%x mask 0x%x", "granularity index mask"),
        q("vtd_irq_generate", "addr 0x%lx data 0x%lx", "addr data"),
        q("vtd_fsts_ppf", "FSTS PPF bit set to %d", "set"),
        q("vtd_fsts_clear_ip", "", ""),
        q("vtd_warn_invalid_qi_tail", "tail 0x%x", "tail"),
        q("vtd_frr_new", "index %d high 0x%lx low 0x%lx", "index high low"),
        q("x86_iommu_iec_notify", "Notify IEC invalidation: global=%d index=%u mask=%u", "global index mask"),
        // hw/pci
        q("msix_write_config", "dev %s enabled %d masked %d", "dev enabled masked"),
        // hw/vfio/pci.c (a VFIO-assigned device's MSI-X: the vector notifiers QEMU's MSI-X core calls
        // on effective mask changes, and each interrupt QEMU's own handler takes; the format strings
        // begin with a space, so the log shows two after the event name)
        q("vfio_msi_interrupt", " (%s) vector %d 0x%lx/0x%x", "name vector addr data"),
        q("vfio_msix_vector_do_use", " (%s) vector %d used", "name vector"),
        q("vfio_msix_vector_release", " (%s) vector %d released", "name vector"),
        q("vfio_msix_pba_enable", " (%s)", "name"),
        q("vfio_msix_pba_disable", " (%s)", "name"),
        q("vfio_msix_enable", " (%s)", "name"),
        q("vfio_msix_disable", " (%s)", "name"),
    ]
}
