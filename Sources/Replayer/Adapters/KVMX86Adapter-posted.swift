import TraceFormat

/// VMX with APICv: KVM's own posts (`kvm_apicv_accept_irq` after `kvm_apic_accept_irq`: vmx.c
/// `vmx_deliver_interrupt` → `__vmx_deliver_posted_interrupt`) run on one ``PostedInterruptDescriptor``
/// per vCPU, so what a post makes KVM do is predicted:
///
/// - a post that sets ON to a vCPU in guest mode (after its `kvm_entry`, before its `kvm_exit`) is an
///   IPI the CPU handles without an exit: PIR goes to the virtual IRR and the guest takes it (the model
///   counts it delivered; no event shows it);
/// - one that sets ON to a vCPU blocked in HLT kicks it (`kvm_vcpu_trigger_posted_interrupt` →
///   `kvm_vcpu_wake_up`): its next `kvm_vcpu_wakeup` is predicted and checked;
/// - one to a vCPU out of guest mode otherwise is harvested at its next `kvm_entry`
///   (`vmx_sync_pir_to_irr` when ON), as is anything ON covers at a HLT exit (kvm_vcpu_has_events);
/// - a post that finds the vector in PIR, or ON set, kicks nobody.
///
/// Not checked, and said so (``ReplayReport/unchecked``): the IOMMU's posts through VT-d posted IRTEs
/// (`kvm_pi_irte_update`) — no trace shows them — so a wakeup no KVM post explains is counted
/// unchecked, and so are the deliveries and edge EOIs the CPU makes (no `kvm_inj_virq`, no exit).
/// A post to a halted vCPU that no wakeup follows is not a divergence (a guest may halt with IF=0,
/// and KVM's wake-up then finds nothing to do): the analyzers judge it, from the acceptance's
/// transition (``PostedInterruptTracking/strandedBit``).
public struct PostedInterruptTracking: Codable {
    /// Per LAPIC index (``KVMX86Adapter/machine``'s `apics`).
    var descriptors: [PostedInterruptDescriptor] = []
    /// Between `kvm_entry` and `kvm_exit`.
    var inGuest = APICFlags()
    /// Blocked in HLT (a HLT exit, no wakeup or entry since).
    var halted = APICFlags()
    /// A KVM post set ON while it was halted: its `kvm_vcpu_wakeup` is due.
    var wakeExpected = APICFlags()
    /// A VT-d posted route was set up for it (`kvm_pi_irte_update`) since it blocked: its descriptor
    /// may lack the wakeup vector (vmx_vcpu_pi_put ran before the VM had a posted route; real-bugs row 7).
    var routeSinceHalt = APICFlags()

    /// Set in an `accepted` transition's `aux` (bit 0 is the trigger): the acceptance was posted to a
    /// vCPU blocked in HLT with no posted route set up for it since it blocked. KVM's post kicks it
    /// unless the vector was already in PIR or ON already set; ON set would have woken it (its
    /// descriptor has the wakeup vector, and pi_enable_wakeup_handler wakes it at once when ON is set),
    /// so when no wakeup follows, the vector was in PIR with ON clear (real-bugs row 6).
    public static let strandedBit: Int64 = 2
    /// Set instead when a posted route was set up for the blocked vCPU since it blocked: its descriptor
    /// may lack the wakeup vector, so an IOMMU post can set ON without waking it, and KVM's next post
    /// then skips the kick (real-bugs row 7): halted with the interrupt pending.
    public static let routeSinceHaltBit: Int64 = 4

    /// Makes room for LAPIC index `k` (the usual call, at every entry and exit, finds it there).
    @inline(__always)
    mutating func ensure(_ k: Int) {
        if descriptors.count <= k { grow(k) }
    }

    @inline(never)
    mutating func grow(_ k: Int) {
        while descriptors.count <= k {
            descriptors.append(PostedInterruptDescriptor())
            inGuest.append(false)
            halted.append(false)
            wakeExpected.append(false)
            routeSinceHalt.append(false)
        }
    }
}

extension KVMX86Adapter {
    /// `kvm_apicv_accept_irq`: KVM posted `vector` to APIC `apicID` (its `kvm_apic_accept_irq`, just
    /// before, put it in the LAPIC model's IRR, which stands for PIR + virtual IRR until a harvest).
    mutating func postedAccept(_ b: EventBatch, _ i: Int, apicID: UInt32, vector: UInt8) {
        let k = apic(apicID)
        pi.ensure(k)
        switch pi.descriptors[k].post(vector) {
        case .notify:
            if pi.inGuest[k] {
                harvest(b, i, k: k, apicID: apicID, pi.descriptors[k].processNotification())
            } else if pi.halted[k] {
                pi.wakeExpected[k] = true
            }
        case .alreadyPending, .notificationOutstanding, .suppressed:
            break
        }
    }

    /// The `accepted` transition's posted-interrupt bit for an acceptance at APIC `apicID` (its
    /// `kvm_apicv_accept_irq` follows; APICv is known for that vCPU from its earlier ones).
    @inline(__always)   // (called from mutating code, an outlined call copied the whole adapter first)
    func postedBits(apicID: UInt32, k: Int) -> Int64 {
        guard k < pi.halted.count, pi.halted[k], hardwareDelivered.contains(apicID) else { return 0 }
        return pi.routeSinceHalt[k] ? PostedInterruptTracking.routeSinceHaltBit : PostedInterruptTracking.strandedBit
    }

    /// PIR moved to the virtual IRR (a sync with ON, or a notification in guest mode): the CPU delivers
    /// from there without KVM; the model counts those vectors delivered.
    mutating func harvest(_ b: EventBatch, _ i: Int, k: Int, apicID: UInt32, _ moved: VectorBitmap) {
        guard !moved.isEmpty else { return }   // every entry without a post: no scan
        var m = moved
        while let v = m.highest {
            m.remove(v)
            guard machine.apics[k].irr.contains(v) else { continue }
            report.observationsTotal &+= 1
            note(.delivered, b, i, cpu: Int64(apicID), vector: Int64(v), value: Int64(machine.apics[k].ppr), aux: Int64(v))
            machine.apics[k].irr.remove(v)
            tally.add("APICv delivery (virtual-interrupt delivery: not traced)")
        }
    }

    /// `kvm_exit` of APIC `apicID`: out of guest mode; a HLT blocks it (after syncing what ON covers).
    @inline(__always)   // (one caller, per kvm_exit: a call cost ~20 instructions of prologue)
    mutating func postedExit(_ b: EventBatch, _ i: Int, apicID: UInt32, hlt: Bool) {
        let k = apic(apicID)
        pi.ensure(k)
        pi.inGuest[k] = false
        guard hlt else { return }
        harvest(b, i, k: k, apicID: apicID, pi.descriptors[k].syncToIRR())
        pi.halted[k] = true
        pi.routeSinceHalt[k] = false
    }

    /// `kvm_entry`: in guest mode; PIR synced if ON (vmx_sync_pir_to_irr).
    @inline(__always)   // (one caller, per kvm_entry)
    mutating func postedEntry(_ b: EventBatch, _ i: Int, apicID: UInt32) {
        let k = apic(apicID)
        pi.ensure(k)
        // (Read before written: a write to these arrays costs a uniqueness check, and the usual entry
        // follows an exit that was not a halt, with no notification outstanding.)
        pi.inGuest[k] = true
        if pi.halted[k] { pi.halted[k] = false }
        if pi.wakeExpected[k] { pi.wakeExpected[k] = false }
        if pi.descriptors[k].outstandingNotification { harvest(b, i, k: k, apicID: apicID, pi.descriptors[k].syncToIRR()) }
    }

    /// `kvm_vcpu_wakeup` on VMX/SVM: checked when a KVM post predicted it.
    mutating func postedWakeup(apicID: UInt32) {
        let k = apic(apicID)
        pi.ensure(k)
        guard pi.halted[k] else { return }
        pi.halted[k] = false
        report.observationsTotal &+= 1
        if pi.wakeExpected[k] {
            report.observationsChecked &+= 1
            pi.wakeExpected[k] = false
        } else {
            tally.add("kvm_vcpu_wakeup (no KVM post kicked it: an IOMMU post, a timer or a signal)")
        }
    }

    /// `kvm_pi_irte_update` enabling a posted route to vCPU `vcpu`.
    mutating func postedRoute(vcpu: UInt32) {
        let k = apic(vcpu)
        pi.ensure(k)
        if pi.halted[k] { pi.routeSinceHalt[k] = true }
    }
}
