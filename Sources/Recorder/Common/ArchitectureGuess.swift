import TraceFormat

/// Which guest architecture an event name belongs to (QEMU and KVM events).
enum ArchitectureGuess {
    static func guess(eventName n: String) -> Architecture {
        if n.hasPrefix("gic_") || n.hasPrefix("vgic_") || n == "kvm_irq_line" || n.hasPrefix("kvm_timer_")
            || n == "kvm_guest_fault" || n == "kvm_mmio_emulate" || n == "kvm_access_fault" { return .arm64 }
        if n.hasPrefix("apic_") || n.hasPrefix("ioapic_") || n.hasPrefix("pic_") || n.hasPrefix("vtd_")
            || n.hasPrefix("amdvi_") || n.hasPrefix("cpu_set_apic") || n.hasPrefix("cpu_get_apic")
            || n.hasPrefix("kvm_apic") || n.hasPrefix("kvm_ioapic") || n.hasPrefix("kvm_pic") || n == "kvm_msi_set_irq"
            || n == "kvm_inj_virq" || n == "kvm_eoi" || n == "kvm_pv_eoi" || n.hasPrefix("kvm_avic")
            || n == "kvm_pi_irte_update" || n == "kvm_pio" || n == "kvm_cr" || n == "kvm_msr" || n == "kvm_emulate_insn" {
            return .x86_64
        }
        return .unknown
    }
}
