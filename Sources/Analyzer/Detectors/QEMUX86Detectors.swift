import Replayer

/// Detectors over the QEMU x86 adapter's transitions (QEMU 7.2 `apic_*`/`ioapic_*`/`vtd_ir_*` logs).
///
/// A QEMU log does not show when a vCPU takes an interrupt (IRR → ISR is untraced) and, with one TCG
/// thread, not which vCPU writes an EOI: the adapter does not model the LAPICs, so the LAPIC rules
/// of the KVM detectors (lost, stuck in service, priority inversion, halted with pending) have no
/// transitions to run on here. What the log does show is the interrupt remapping unit's work.
///
/// - `misrouted_vector`: a remapped interrupt delivered to another APIC than the IRTE the IOMMU
///   just read names (`vtd_ir_remap` / `vtd_ir_remap_msi` / `apic_deliver_irq` name the old
///   destination while `vtd_ir_irte_get` shows the entry the guest wrote: a stale cached IRTE, e.g.
///   a missed interrupt-entry-cache invalidation after an affinity change). One finding per stale
///   entry shown (the adapter reports each disagreement once), at the first delivery through it.
struct QEMUX86Detectors {
    var findings: [Finding] = []

    mutating func consume(_ t: Transition) {
        guard t.kind == .misrouted else { return }
        findings.append(Finding(.misroutedVector, .error, time: t.timeNs, cpu: Int(t.cpu), vector: Int(t.vector), events: [t.eventIndex],
                                "vector \(t.vector) delivered to APIC \(t.cpu) through IRTE \(t.irq), whose entry in memory (vtd_ir_irte_get) names APIC \(t.value) with vector \(t.aux): the remapping unit translated with a stale entry (a missed interrupt entry cache invalidation after the guest rewrote it)"))
    }
}
