/// The host's x86 KVM backend as a trace's footprint tells it (shared/reference/real-sources.md):
/// kvm_pvm leaves no kvm_entry/kvm_exit/kvm_inj_virq but delivery-time kvm_eoi; VMX and SVM print
/// kvm_exit reasons in their own vocabularies (VMX upper case such as "EXTERNAL_INTERRUPT", SVM
/// lower case such as "npf"). Nil when the trace has no x86 KVM interrupt events.
public enum KVMFlavourGuess {
    public static func guess(_ catalog: TemplateCatalog) -> String? {
        var names = Set<String>()
        for t in catalog.templates { names.insert(t.name) }
        let hardware = names.contains("kvm_entry") || names.contains("kvm_exit") || names.contains("kvm_inj_virq")
        guard hardware || names.contains("kvm_eoi") || names.contains("kvm_apic_accept_irq") else { return nil }
        guard hardware else { return "pvm" }
        for t in catalog.templates where t.name == "kvm_exit" {
            let text = String(decoding: t.skeleton.filter { $0 < 0x80 }, as: UTF8.self)
            for r in ["EXTERNAL_INTERRUPT", "HLT", "EPT_VIOLATION", "MSR_WRITE", "IO_INSTRUCTION", "EOI_INDUCED", "APIC_WRITE", "PREEMPTION_TIMER"]
                where text.contains("reason " + r) { return "vmx" }
            for r in ["hlt", "npf", "msr", "interrupt", "io", "vintr", "avic_incomplete_ipi", "avic_unaccelerated_access"]
                where text.contains("reason " + r + " ") { return "svm" }
        }
        return "hardware"
    }
}
