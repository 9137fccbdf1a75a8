import Replayer

/// The `kvm-vmx` workload with APICv and posted interrupts (`platform.posted_interrupts`), on the
/// Replayer's ``PostedInterruptDescriptor`` (one per vCPU) and LAPICs (the virtual IRR/ISR the CPU
/// keeps). What a VMX host with APICv prints, and only that:
///
/// - an irqfd MSI is `kvm_msi_set_irq`, `kvm_apic_accept_irq` (__apic_accept_irq), then
///   `kvm_apicv_accept_irq` (vmx_deliver_interrupt: the vector was posted). KVM's post
///   (`__vmx_deliver_posted_interrupt`) sets PIR, then ON; only a post that set ON notifies:
///   a vCPU in guest mode gets the posted-interrupt IPI and the CPU moves PIR into its virtual IRR
///   without an exit (nothing traced); a halted one is woken (`kvm_vcpu_wakeup`, then `kvm_entry`,
///   where `vmx_sync_pir_to_irr` harvests PIR because ON is set);
/// - the guest takes and EOIs edge vectors without an exit (virtual-interrupt delivery, EOI
///   virtualization): no `kvm_inj_virq`, no `kvm_eoi`;
/// - an idle vCPU halts (`kvm_exit HLT`); KVM gives a blocking vCPU the wakeup vector only when the
///   VM has a VT-d posted route (`vmx_needs_pi_wakeup`).
///
/// IOMMU posts (VT-d posted IRTEs) are in no trace; the sn-on-race fault makes one (its route shows
/// as `kvm_pi_irte_update`).
extension X86KVMSimulation {
    /// An irqfd MSI of `vector` to vCPU `v`: `kvm_msi_set_irq`, the acceptance, KVM's post.
    mutating func postMSI(_ vector: UInt8, to v: Int, thread: Int, device: String, queue q: Int) throws {
        if cpus[v].halted, !cpus[v].pid.pir.contains(vector), !cpus[v].pid.outstandingNotification {
            if faults.due(F.pirWithoutOn, now) {
                // Real-bugs row 6 (Linux before c112b5f50232): while this vCPU was preempted (SN=1) a
                // post of this vector set PIR without ON, and KVM cleared SN at the next vcpu load
                // without recomputing ON; its entries and its HLT did not sync PIR (ON clear).
                cpus[v].pid.pir.insert(vector)
                cpus[v].acceptedAt[Int(vector)] = now
                truth("pir-without-on", "lost_interrupt", cpu: v, vector: Int(vector),
                      "vector \(vector) (\(device) queue \(q)) was already in vCPU \(v)'s PIR with ON clear (posted while the vCPU was preempted, SN=1; KVM cleared SN without recomputing ON): KVM's post stops at pi_test_and_set_pir — no ON, no kick — and the halted vCPU never gets it")
            } else if faults.due(F.snOnRace, now) {
                try snOnRace(v, before: vector)
                cpus[v].acceptedAt[Int(vector)] = now
                truth("sn-on-race", "halted_with_pending", cpu: v, vector: Int(vector),
                      "vCPU \(v) blocked before it had a posted route, so without the wakeup vector; the IOMMU's post of vector \(hiddenVector[v]) set ON and notified the posted-interrupt vector on a pCPU not running it; KVM's post of vector \(vector) found ON set and skipped the kick: the vCPU stays halted")
            }
        }
        try emit(.msi, thread: thread, Int64(v), Int64(vector))
        guard machine.apics[v].softwareEnabled else { return }   // __apic_accept_irq: dropped, nothing traced
        try emit(.acceptEdge, thread: thread, Int64(machine.apics[v].id), Int64(vector))
        machine.apics[v].tmr.remove(vector)   // TMR follows the trigger at acceptance
        try emit(.apicvAccept, thread: thread, Int64(machine.apics[v].id), Int64(vector))
        try post(vector, to: v)
    }

    /// KVM's post (vmx.c `__vmx_deliver_posted_interrupt`) and its notification.
    mutating func post(_ vector: UInt8, to v: Int) throws {
        switch cpus[v].pid.post(vector) {
        case .alreadyPending, .notificationOutstanding, .suppressed:
            return
        case .notify:
            cpus[v].acceptedAt[Int(vector)] = now
            if cpus[v].halted {
                // kvm_vcpu_trigger_posted_interrupt: not in guest mode → kvm_vcpu_wake_up.
                scheduleKick(v, vector)
            } else {
                // In guest mode: the posted-interrupt IPI; the CPU moves PIR into the virtual IRR.
                machine.apics[v].irr.formUnion(cpus[v].pid.processNotification())
                if !cpus[v].busy { guestTakes(v) }
            }
        }
    }

    /// The halted vCPU's wakeup: `kvm_vcpu_wakeup` (it blocked in kvm_vcpu_block), `kvm_entry` with
    /// PIR synced into the virtual IRR (ON set).
    mutating func postedKick(_ v: Int) throws {
        guard cpus[v].halted, !cpus[v].hung else { return }
        try emit(.wakeup, thread: vcpuThreads[v], now - cpus[v].haltStart)
        cpus[v].halted = false
        cpus[v].pid.load(destination: cpus[v].pid.notificationDestination)
        machine.apics[v].irr.formUnion(cpus[v].pid.syncToIRR())
        try entry(v)
        guestTakes(v)
    }

    /// `kvm_exit HLT`: KVM's HLT path syncs PIR when ON is set (kvm_vcpu_has_events); the vCPU
    /// blocks, with the wakeup vector when the VM has a posted route (vmx_vcpu_pi_put).
    mutating func postedHalt(_ v: Int) throws {
        machine.apics[v].irr.formUnion(cpus[v].pid.syncToIRR())
        if vmHasPostedRoute { _ = cpus[v].pid.put(blocking: true, preempted: false) }
    }

    /// The guest takes its highest deliverable virtual-IRR vector (virtual-interrupt delivery: no exit).
    mutating func guestTakes(_ v: Int) {
        guard !cpus[v].busy, !cpus[v].halted, let vector = machine.apics[v].acknowledge() else {
            if !cpus[v].busy && !cpus[v].halted { scheduleIdle(v) }
            return
        }
        startHandler(v, vector)
    }

    /// The handler's EOI (virtualized for an edge vector: no exit), then the next vector or idle.
    mutating func postedHandlerEnd(_ v: Int) {
        cpus[v].busy = false
        _ = machine.apics[v].endOfInterrupt()
        cpus[v].kickPending = false
        guestTakes(v)
    }

    /// sn-on-race (real-bugs row 7, Linux a2486020a82e): vCPU `v` blocked before the VM had a posted
    /// route, so its descriptor kept the ordinary notification vector. Now a VFIO device's MSI-X vector is
    /// routed to it (`kvm_pi_irte_update` on the VMM's thread) and the device posts: the IOMMU sets PIR
    /// and ON and notifies POSTED_INTR_VECTOR at NDST, a pCPU that is not running the vCPU, so nothing
    /// wakes it; ON stays set, and KVM's next post finds it set and skips the kick.
    mutating func snOnRace(_ v: Int, before vector: UInt8) throws {
        let gvec = 0x30 + v   // the assigned device's queue vector for this vCPU (not a scenario vector)
        hiddenVector[v] = gvec
        try emit(.piIRTEUpdate, thread: ioThread, Int64(120 + v), Int64(v), Int64(64 + v), Int64(gvec))
        vmHasPostedRoute = true
        _ = cpus[v].pid.postByIOMMU(UInt8(gvec))
    }
}
