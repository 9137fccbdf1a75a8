/// The x86 kvm tracepoints the simulator writes, spelled as Linux 6.18 prints them
/// (shared/reference/tracefs-6.18/kvm.format.txt; VMX exit reasons). `{x}` after `apicid`/`dst`
/// prints like decimal for APIC IDs 0–9, which is why x86 scenarios have at most 10 vCPUs.
enum KVMX86Line: Int, CaseIterable {
    case entry
    case exitExternal, exitHLT, exitAPICAccess, exitMSRWrite, exitEPTMisconfig
    case apicWriteEOI, apicWriteSPIV, apicWriteLVTT, apicWriteTMICT, apicWriteTPR, apicWriteICR, apicWriteICR2
    case mmioWrite
    case setIRQ
    case msi
    case ioapicEdge, ioapicLevel, ioapicEdgeMasked, ioapicLevelMasked, ioapicEdgeCoalesced, ioapicLevelCoalesced
    case acceptEdge, acceptLevel
    case eoi
    case ackIOAPIC
    case ipi
    case inject
    case wakeup
    case delayedEOI
    case apicvAccept
    case piIRTEUpdate

    var format: LineFormat {
        let exitTail = " rip 0x{x} info1 0x{x16} info2 0x{x16} intr_info 0x{x8} error_code 0x{x8} requests 0x{x16}"
        switch self {
        case .entry: return LineFormat("kvm_entry", "vcpu {d}, rip 0x{x} intr_info 0x{x8} error_code 0x{x8}")
        case .exitExternal: return LineFormat("kvm_exit", "vcpu {d} reason EXTERNAL_INTERRUPT" + exitTail)
        case .exitHLT: return LineFormat("kvm_exit", "vcpu {d} reason HLT" + exitTail)
        case .exitAPICAccess: return LineFormat("kvm_exit", "vcpu {d} reason APIC_ACCESS" + exitTail)
        case .exitMSRWrite: return LineFormat("kvm_exit", "vcpu {d} reason MSR_WRITE" + exitTail)
        case .exitEPTMisconfig: return LineFormat("kvm_exit", "vcpu {d} reason EPT_MISCONFIG" + exitTail)
        case .apicWriteEOI: return LineFormat("kvm_apic", "apic_write APIC_EOI = 0x{x}")
        case .apicWriteSPIV: return LineFormat("kvm_apic", "apic_write APIC_SPIV = 0x{x}")
        case .apicWriteLVTT: return LineFormat("kvm_apic", "apic_write APIC_LVTT = 0x{x}")
        case .apicWriteTMICT: return LineFormat("kvm_apic", "apic_write APIC_TMICT = 0x{x}")
        case .apicWriteTPR: return LineFormat("kvm_apic", "apic_write APIC_TASKPRI = 0x{x}")
        case .apicWriteICR: return LineFormat("kvm_apic", "apic_write APIC_ICR = 0x{x}")
        case .apicWriteICR2: return LineFormat("kvm_apic", "apic_write APIC_ICR2 = 0x{x}")
        case .mmioWrite: return LineFormat("kvm_mmio", "mmio write len {d} gpa 0x{x} val 0x{x}")
        case .setIRQ: return LineFormat("kvm_set_irq", "gsi {d} level {d} source {d}")
        case .msi: return LineFormat("kvm_msi_set_irq", "dst {x} vec {d} (Fixed|physical|edge)")
        case .ioapicEdge: return LineFormat("kvm_ioapic_set_irq", "pin {d} dst {x} vec {d} (Fixed|physical|edge)")
        case .ioapicLevel: return LineFormat("kvm_ioapic_set_irq", "pin {d} dst {x} vec {d} (Fixed|physical|level)")
        case .ioapicEdgeMasked: return LineFormat("kvm_ioapic_set_irq", "pin {d} dst {x} vec {d} (Fixed|physical|edge|masked)")
        case .ioapicLevelMasked: return LineFormat("kvm_ioapic_set_irq", "pin {d} dst {x} vec {d} (Fixed|physical|level|masked)")
        case .ioapicEdgeCoalesced: return LineFormat("kvm_ioapic_set_irq", "pin {d} dst {x} vec {d} (Fixed|physical|edge) (coalesced)")
        case .ioapicLevelCoalesced: return LineFormat("kvm_ioapic_set_irq", "pin {d} dst {x} vec {d} (Fixed|physical|level) (coalesced)")
        case .acceptEdge: return LineFormat("kvm_apic_accept_irq", "apicid {x} vec {d} (Fixed|edge)")
        case .acceptLevel: return LineFormat("kvm_apic_accept_irq", "apicid {x} vec {d} (Fixed|level)")
        case .eoi: return LineFormat("kvm_eoi", "apicid {x} vector {d}")
        case .ackIOAPIC: return LineFormat("kvm_ack_irq", "irqchip IOAPIC pin {d}")
        case .ipi: return LineFormat("kvm_apic_ipi", "dst {x} vec {d} (Fixed|physical|de-assert|edge|dst)")
        case .inject: return LineFormat("kvm_inj_virq", "IRQ 0x{x}")
        case .wakeup: return LineFormat("kvm_vcpu_wakeup", "wait time {d} ns, polling valid")
        case .delayedEOI: return LineFormat("kvm_ioapic_delayed_eoi_inj", "dst {x} vec {d} (Fixed|physical|level)")
        // vmx_deliver_interrupt: traced when the vector was posted (APICv), after kvm_apic_accept_irq.
        case .apicvAccept: return LineFormat("kvm_apicv_accept_irq", "apicid {x} vec {d} (Fixed|edge)")
        // kvm_pi_update_irte (arch/x86/kvm/irq.c): a VT-d IRTE switched to posted mode for one vCPU.
        case .piIRTEUpdate: return LineFormat("kvm_pi_irte_update", "PI is enabled and being updated for irq {d}, vcpu {d}, gsi: 0x{x}, gvec: 0x{x}")
        }
    }

    static var formats: [LineFormat] { allCases.map(\.format) }
}
