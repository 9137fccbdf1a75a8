import Replayer

/// Detectors over the QEMU x86 adapter's transitions (QEMU 7.2 `apic_*`/`ioapic_*`/`vtd_ir_*` logs).
///
/// A QEMU log does not show when a vCPU takes an interrupt (IRR → ISR is untraced), which vector an
/// EOI write retires (`apic_mem_writel 0xb0` carries no vector; only a level vector's EOI shows, as
/// `ioapic_eoi_broadcast`), halts, or the TPR's effect on delivery. So the rules that need those —
/// stuck in service of an edge or MSI vector, priority inversion, halted with pending, a message no
/// LAPIC accepted — have no evidence here and are not run. What the log does prove, and these
/// detectors report:
///
/// - `misrouted_vector`: a remapped interrupt delivered to another APIC than the IRTE the IOMMU
///   just read names (`vtd_ir_remap` / `vtd_ir_remap_msi` / `apic_deliver_irq` name the old
///   destination while `vtd_ir_irte_get` shows the entry the guest wrote: a stale cached IRTE, e.g.
///   a missed interrupt-entry-cache invalidation after an affinity change). One finding per stale
///   entry shown (the adapter reports each disagreement once), at the first delivery through it.
/// - `misrouted_vector`: a fixed MSI on the APIC bus with vector 0–15 (`apic_deliver_irq`):
///   illegal for fixed delivery, never taken (e.g. a device's MSI data or a lost route). From an
///   IOAPIC entry it is info: an entry nobody programmed (the firmware's at boot).
/// - `lost_interrupt`: an edge on a masked IOAPIC pin (info ones: one finding per pin, counted) (`ioapic_set_irq` while the entry the guest
///   wrote is masked): QEMU ignores it and the unmask does not replay it. Error when the pin is in
///   use (the guest unmasked it before and the masked entry still routes a vector), info otherwise
///   (boot time, shutdown, a pin whose entry Linux cleared).
/// - `remote_irr_stuck`: at the end, a level pin whose Remote IRR (`ioapic_set_remote_irr`) has been
///   set for more than the stuck window although the vector that set it was EOI'd since
///   (`ioapic_eoi_broadcast` of that vector did not clear it: the entry now has another vector, so
///   no EOI will ever match it). A pin still waiting for the EOI of its own vector is not reported:
///   the log cannot tell a vector still pending from one in service.
/// - `lost_interrupt`: a VFIO device's MSI-X vector unmasked with its pending bit set whose message
///   is not sent (the adapter's ``Transition/DropReason/msixUnmaskNotSent``: `vfio_msix_vector_do_use`
///   after a masked `vfio_msi_interrupt`, and no `apic_deliver_irq` next on the unmasking thread).
/// - `interrupt_storm`: a level pin re-delivered at ``stormThreshold`` successive EOI broadcasts
///   without its line going low (the guest handler does not clear the device; QEMU delays the
///   re-delivery after 10,000, ioapic.c `SUCCESSIVE_IRQ_MAX_COUNT`); warning, error if still asserted
///   at the end.
struct QEMUX86Detectors {
    var findings: [Finding] = []
    var stuckWindowNs: Int64 = 10_000_000
    var stormThreshold = 100

    struct Pin {
        /// Remote IRR set (event, time) and the vector and destination of the delivery that set it.
        var remoteSince: X86Detectors.Mark?
        var remoteVector: Int16 = -1
        var remoteCPU: Int32 = -1
        /// An EOI broadcast of `remoteVector` came after the set and did not clear it.
        var eoiMissed: X86Detectors.Mark?
        var stormStart: X86Detectors.Mark?
        var stormCount = 0
        var stormCPU: Int32 = -1
        var stormVector: Int16 = -1
        var stormFinding: Int?
    }
    var pins = [Pin](repeating: Pin(), count: IOAPIC.pinCount)
    /// Pin → its info masked-edge finding and how many edges it stands for.
    var infoEdges: [Int: (index: Int, count: Int)] = [:]

    mutating func consume(_ t: Transition) {
        let mark = X86Detectors.Mark(time: t.timeNs, event: t.eventIndex)
        switch t.kind {
        case .misrouted:
            findings.append(Finding(.misroutedVector, .error, time: t.timeNs, cpu: Int(t.cpu), vector: Int(t.vector), events: [t.eventIndex],
                                    "vector \(t.vector) delivered to APIC \(t.cpu) through IRTE \(t.irq), whose entry in memory (vtd_ir_irte_get) names APIC \(t.value) with vector \(t.aux): the remapping unit translated with a stale entry (a missed interrupt entry cache invalidation after the guest rewrote it)"))
        case .dropped where t.aux == Transition.DropReason.msixUnmaskNotSent.rawValue:
            findings.append(Finding(.lostInterrupt, .error, time: t.timeNs, cpu: t.cpu >= 0 ? Int(t.cpu) : nil, vector: t.vector >= 0 ? Int(t.vector) : nil,
                                    irq: Int(t.irq), events: [t.eventIndex],
                                    "MSI-X entry \(t.irq) of a VFIO device was unmasked (vfio_msix_vector_do_use) with its pending bit set — an interrupt came while it was masked (vfio_msix_pba_enable, vfio_msi_interrupt) — and its message was not sent (no apic_deliver_irq follows): PCI 3.0 §6.8.2.9 and QEMU's msix_handle_mask_update send a pending message at unmask; this interrupt is lost"))
        case .dropped where t.aux == Transition.DropReason.illegalVector.rawValue && t.value == KVMX86Adapter.MessageSource.ioapic.rawValue:
            findings.append(Finding(.misroutedVector, .info, time: t.timeNs, cpu: Int(t.cpu), vector: Int(t.vector), events: [t.eventIndex],
                                    "an IOAPIC entry with vector \(t.vector) sent a fixed message to APIC \(t.cpu) (apic_deliver_irq): an entry nobody programmed yet (firmware or early boot; vectors 0–15 are never taken)"))
        case .dropped where t.aux == Transition.DropReason.illegalVector.rawValue:
            findings.append(Finding(.misroutedVector, .error, time: t.timeNs, cpu: Int(t.cpu), vector: Int(t.vector), events: [t.eventIndex],
                                    "a fixed interrupt message with vector \(t.vector) reached APIC \(t.cpu) (apic_deliver_irq): vectors 0–15 are illegal for fixed delivery and never taken, so the interrupt is lost (its MSI data or route was not programmed, e.g. a GSI → MSI route lost)"))
        case .maskedEdge:
            let everUnmasked = t.aux == 1
            // Info edges (pins not in use: boot, shutdown) are one finding per pin, counted.
            if !everUnmasked, let p = pin(t), let k = infoEdges[p] {
                infoEdges[p] = (k.index, k.count + 1)
                return
            }
            if !everUnmasked, let p = pin(t) { infoEdges[p] = (findings.count, 1) }
            findings.append(Finding(.lostInterrupt, everUnmasked ? .error : .info, time: t.timeNs, cpu: t.cpu >= 0 ? Int(t.cpu) : nil,
                                    vector: Int(t.vector), irq: Int(t.irq), events: [t.eventIndex],
                                    everUnmasked
                                        ? "an edge arrived on IOAPIC pin \(t.irq) (ioapic_set_irq) while the guest had it masked: QEMU's IOAPIC ignores masked edges (82093AA), and the unmask does not replay it"
                                        : "an edge arrived on IOAPIC pin \(t.irq) while masked, before the guest first unmasked it or with its entry cleared (vector \(t.vector): a pin not in use, as at boot or shutdown; ignored)"))
        case .remoteIRRSet:
            guard let p = pin(t) else { return }
            pins[p].remoteSince = mark
            pins[p].remoteVector = t.vector
            pins[p].remoteCPU = t.cpu
            pins[p].eoiMissed = nil
        case .remoteIRRCleared:
            guard let p = pin(t) else { return }
            pins[p].remoteSince = nil
            pins[p].eoiMissed = nil
        case .eoi:
            guard t.vector >= 0 else { return }
            for p in pins.indices where pins[p].remoteSince != nil && pins[p].remoteVector == t.vector && pins[p].eoiMissed == nil {
                pins[p].eoiMissed = mark
            }
        case .redelivered:
            guard let p = pin(t) else { return }
            // The EOI that re-delivers a pin clears and sets its Remote IRR: not a missed EOI.
            pins[p].eoiMissed = nil
            if pins[p].stormCount == 0 {
                pins[p].stormStart = mark
                pins[p].stormCPU = t.cpu
                pins[p].stormVector = t.vector
                pins[p].stormFinding = nil
            }
            pins[p].stormCount += 1
            if pins[p].stormCount == stormThreshold, let start = pins[p].stormStart {
                pins[p].stormFinding = findings.count
                findings.append(Finding(.interruptStorm, .warning, time: start.time, cpu: t.cpu >= 0 ? Int(t.cpu) : nil, vector: Int(t.vector), irq: p,
                                        events: [start.event, t.eventIndex],
                                        "level-triggered IOAPIC pin \(p) (vector \(t.vector)) was re-delivered at \(stormThreshold) successive EOI broadcasts without its line going low (ioapic_set_irq level 0): the guest handler does not clear the device's cause"))
            }
        case .lineLowered:
            guard let p = pin(t) else { return }
            if let f = pins[p].stormFinding { findings[f].explanation += "; the line went low after \(pins[p].stormCount) re-deliveries" }
            pins[p].stormCount = 0
            pins[p].stormStart = nil
            pins[p].stormFinding = nil
        default:
            break
        }
    }

    @inline(__always) func pin(_ t: Transition) -> Int? { t.irq >= 0 && Int(t.irq) < IOAPIC.pinCount ? Int(t.irq) : nil }

    /// End-of-trace checks: Remote IRRs no EOI will clear, storms still running.
    mutating func finish(ioapic: IOAPIC, endTime: Int64) {
        for (_, e) in infoEdges where e.count > 1 { findings[e.index].explanation += " — \(e.count) such edges on this pin" }
        for p in pins.indices {
            guard let since = pins[p].remoteSince, let missed = pins[p].eoiMissed, endTime - since.time > stuckWindowNs,
                  ioapic.entries[p].remoteIRR else { continue }
            let v = pins[p].remoteVector, e = ioapic.entries[p]
            findings.append(Finding(.remoteIRRStuck, .error, time: since.time, cpu: pins[p].remoteCPU >= 0 ? Int(pins[p].remoteCPU) : nil, vector: Int(v), irq: p,
                                    events: [since.event, missed.event],
                                    "IOAPIC pin \(p) has had Remote IRR set since vector \(v) was delivered (ioapic_set_remote_irr), and the EOI of vector \(v) (ioapic_eoi_broadcast) did not clear it"
                                        + (e.vector != UInt8(truncatingIfNeeded: v) ? ": its RTE was rewritten to vector \(e.vector) while \(v) was in service, so no EOI matches the pin any more" : "")
                                        + "; the pin delivers nothing more"))
        }
        for p in pins.indices {
            guard let f = pins[p].stormFinding else { continue }
            findings[f].severity = .error
            findings[f].explanation += "; still asserted at the end of the trace (\(pins[p].stormCount) re-deliveries)"
        }
    }
}
