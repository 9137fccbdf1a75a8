/// Linux tracepoints on the interrupt path: the kvm system (x86 and arm64) and host irq/irq_vectors,
/// with TP_printk formats as printed (a `__print_symbolic` or `?:` argument is `%s`). Formats from
/// this kernel (6.18) are in shared/reference/tracefs-6.18; older kernels' variants follow them.
public enum KVMSchemas {
    static func k(_ name: String, _ format: String, _ fields: String) -> EventSchema {
        EventSchema(.kvm, name, format, fields)
    }
    static func h(_ name: String, _ format: String, _ fields: String) -> EventSchema {
        EventSchema(.host, name, format, fields)
    }

    public static let all: [EventSchema] = [
        // x86 (arch/x86/kvm/trace.h), newest first
        k("kvm_exit", "vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x requests 0x%016llx",
          "vcpu:cpu reason isa_suffix isa_extra rip info1 info2 intr_info error_code requests"),
        k("kvm_exit", "vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x",
          "vcpu:cpu reason isa_suffix isa_extra rip info1 info2 intr_info error_code"),
        k("kvm_exit", "reason %s rip 0x%lx info %lx %lx", "reason rip info1 info2"),
        k("kvm_entry", "vcpu %u, rip 0x%lx intr_info 0x%08x error_code 0x%08x%s", "vcpu:cpu rip intr_info error_code immediate_exit"),
        k("kvm_entry", "vcpu %u, rip 0x%lx", "vcpu:cpu rip"),
        k("kvm_entry", "vcpu %u rip 0x%lx", "vcpu:cpu rip"),
        k("kvm_entry", "vcpu %u", "vcpu:cpu"),
        k("kvm_set_irq", "gsi %u level %d source %d", "gsi:gsi level source"),
        k("kvm_msi_set_irq", "dst %llx vec %u (%s|%s|%s%s)", "dest:dest vector:vector delivery_mode dest_mode trigger_mode redirection_hint"),
        k("kvm_ioapic_set_irq", "pin %u dst %x vec %u (%s|%s|%s%s)%s",
          "pin:pin dest:dest vector:vector delivery_mode dest_mode trigger_mode masked coalesced"),
        k("kvm_ioapic_delayed_eoi_inj", "dst %x vec %u (%s|%s|%s%s)", "dest:dest vector:vector delivery_mode dest_mode trigger_mode masked"),
        k("kvm_pic_set_irq", "chip %u pin %u (%s%s)%s", "chip pin:pin trigger_mode masked coalesced"),
        k("kvm_apic_accept_irq", "apicid %x vec %u (%s|%s)%s", "apicid:apicID vector:vector delivery_mode trigger_mode coalesced"),
        k("kvm_apicv_accept_irq", "apicid %x vec %u (%s|%s)", "apicid:apicID vector:vector delivery_mode trigger_mode"),
        k("kvm_eoi", "apicid %x vector %d", "apicid:apicID vector:vector"),
        k("kvm_pv_eoi", "apicid %x vector %d", "apicid:apicID vector:vector"),
        k("kvm_inj_virq", "%s 0x%x%s", "kind vector:vector reinjected"),
        k("kvm_inj_virq", "irq %u", "vector:vector"),
        k("kvm_apic_ipi", "dst %x vec %u (%s|%s|%s|%s|%s)", "dest:dest vector:vector delivery_mode dest_mode level trigger_mode shorthand"),
        k("kvm_apic", "apic_%s %s = 0x%llx", "rw reg value"),
        k("kvm_pi_irte_update", "PI is %s for irq %u, vcpu %d, gsi: 0x%x, gvec: 0x%x", "state host_irq vcpu:cpu gsi:gsi vector:vector"),
        k("kvm_ack_irq", "irqchip %s pin %u", "irqchip pin:pin"),
        k("kvm_vcpu_wakeup", "%s time %lld ns, polling %s", "kind time_ns polling"),
        k("kvm_userspace_exit", "reason %s (%d)", "reason code"),
        k("kvm_mmio", "mmio %s len %u gpa 0x%llx val 0x%llx", "type len gpa value"),
        k("kvm_pio", "pio_%s at 0x%x size %d count %d val 0x%x %s", "rw port size count value more"),
        k("kvm_apicv_inhibit_changed", "%s reason=%u, inhibits=0x%lx%s%s", "set reason inhibits a b"),
        k("kvm_avic_incomplete_ipi", "vcpu=%u, icrh:icrl=%#010x:%08x, id=%u, index=%u", "vcpu:cpu icr_high icr_low id index"),
        k("kvm_avic_unaccelerated_access", "vcpu=%u, offset=%#x(%s), %s, %s, vec=%#x", "vcpu:cpu offset reg rw trap vector:vector"),
        k("kvm_avic_ga_log", "vmid=%u, vcpuid=%u", "vmid vcpu:cpu"),
        k("kvm_avic_kick_vcpu_slowpath", "cpu=%u, icrh:icrl=%#010x:%08x, index=%u", "cpu:cpu icr_high icr_low index"),
        k("kvm_avic_doorbell", "vcpuid=%u, apicid=%u", "vcpu:cpu apicid:apicID"),
        // arm64 (arch/arm64/kvm/trace_arm.h, vgic/trace.h)
        k("kvm_entry", "PC: 0x%016lx", "pc"),
        k("kvm_exit", "%s: HSR_EC: 0x%04x (%s), PC: 0x%016lx", "ret esr_ec exception_class pc"),
        k("kvm_irq_line", "Inject %s interrupt (%d), vcpu->idx: %d, num: %d, level: %d", "type_name type vcpu:cpu irq:irq level"),
        k("kvm_timer_update_irq", "VCPU: %ld, IRQ %d, level %d", "vcpu:cpu irq:irq level"),
        k("vgic_update_irq_pending", "VCPU: %ld, IRQ %d, level: %d", "vcpu:cpu irq:irq level"),
        // host irq and irq_vectors
        h("irq_handler_entry", "irq=%d name=%s", "irq:irq name"),
        h("irq_handler_exit", "irq=%d ret=%s", "irq:irq ret"),
        h("vector_config", "irq=%u vector=%u cpu=%u apicdest=0x%08x", "irq:irq vector:vector cpu:cpu apicdest"),
        h("vector_clear", "irq=%u vector=%u cpu=%u prev_vector=%u prev_cpu=%u", "irq:irq vector:vector cpu:cpu prev_vector prev_cpu"),
        h("local_timer_entry", "vector=%d", "vector:vector"),
        h("local_timer_exit", "vector=%d", "vector:vector"),
        h("reschedule_entry", "vector=%d", "vector:vector"),
        h("reschedule_exit", "vector=%d", "vector:vector"),
        h("call_function_entry", "vector=%d", "vector:vector"),
        h("call_function_exit", "vector=%d", "vector:vector"),
        h("call_function_single_entry", "vector=%d", "vector:vector"),
        h("call_function_single_exit", "vector=%d", "vector:vector"),
    ]
}
