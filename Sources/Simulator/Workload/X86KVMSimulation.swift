import Replayer
import TraceFormat

/// An x86 guest on VMX KVM, run forward on the Replayer's models (`X86Machine`: LAPICs, IOAPIC with
/// KVM's rules) and written as the kvm tracepoints a VMX host prints for it:
///
/// - MSI-X queues take KVM's irqfd fast path: `kvm_msi_set_irq` + `kvm_apic_accept_irq` on the
///   device's thread (vhost/irqfd), then a kick of the target vCPU;
/// - IOAPIC devices are driven by userspace (`KVM_IRQ_LINE`): `kvm_set_irq`, the acceptance, then
///   `kvm_ioapic_set_irq` (traced after delivery returns, as ioapic_set_irq does), for both levels;
/// - the LAPIC timer fires on the vCPU's own thread (`kvm_apic_accept_irq` without a message);
/// - a vCPU takes an interrupt at entry when its IF is set: `kvm_inj_virq` (IRR → ISR), `kvm_entry`;
///   a halted vCPU is woken first (`kvm_vcpu_wakeup`), a running one kicked out
///   (`kvm_exit EXTERNAL_INTERRUPT`);
/// - the guest handles one interrupt at a time (Linux runs handlers with IF=0), clears a level
///   device's cause in its handler (the device thread lowers the line) and writes EOI after it:
///   `kvm_exit`, `kvm_apic: apic_write APIC_EOI`, `kvm_eoi` (the highest ISR vector), and for a level
///   vector the IOAPIC's `kvm_ack_irq` and any re-delivery (ioapic.c kvm_ioapic_update_eoi_one);
/// - idle vCPUs halt (`kvm_exit HLT`); IPIs are ICR writes (`kvm_apic_ipi`); TPR writes are
///   `kvm_apic: apic_write APIC_TASKPRI`; RTE writes are `kvm_mmio` to the IOAPIC window.
struct X86KVMSimulation: X86Workload {
    struct VCPU {
        var halted = false
        var haltStart: Int64 = 0
        /// In an interrupt handler (IF=0) for `handling`.
        var busy = false
        var handling: UInt8 = 0
        var epoch: UInt64 = 0
        /// A kick is scheduled.
        var kickPending = false
        /// no-wakeup fault: the vCPU never wakes again.
        var hung = false
        var tprRaised = false
        /// The vector whose acceptance scheduled the pending kick.
        var kickVector: UInt8 = 0
        /// When each vector was last set in IRR (not by a coalesced acceptance).
        var acceptedAt = [Int64](repeating: 0, count: 256)
        /// Posted interrupts (APICv): the vCPU's posted-interrupt descriptor; the LAPIC's IRR is then
        /// the virtual IRR the CPU delivers from (PIR reaches it at a sync or a notification).
        var pid = PostedInterruptDescriptor()
    }

    struct Device {
        var kind: Kind
        /// Per queue: target vCPU.
        var targets: [Int]
        var vector: Int
        var pin: Int
        var gsi: Int
        var thread: Int
        /// Level devices: the line is high (asserted, not yet cleared by the handler).
        var asserted = false
        /// level-storm fault: the handler never clears the cause.
        var stuckHigh = false
        enum Kind { case msix, edge, level }
    }

    /// Catalog indices of the fault kinds this simulation checks for.
    enum F {
        static let lostMsi = FaultSchedule.index("lost-msi")
        static let vectorZeroRouteLoss = FaultSchedule.index("vector0-route-loss")
        static let missingEoi = FaultSchedule.index("missing-eoi")
        static let noWakeup = FaultSchedule.index("no-wakeup")
        static let eoiWrongPin = FaultSchedule.index("eoi-wrong-pin")
        static let rteRewriteInService = FaultSchedule.index("rte-rewrite-in-service")
        static let levelStorm = FaultSchedule.index("level-storm")
        static let maskedEdgeLost = FaultSchedule.index("masked-edge-lost")
        static let tprNotHonoured = FaultSchedule.index("tpr-not-honoured")
        static let pirWithoutOn = FaultSchedule.index("pir-without-on")
        static let snOnRace = FaultSchedule.index("sn-on-race")
    }

    let scenario: Scenario
    var rng: SimRandom
    var machine: X86Machine
    let out: LineWriter
    /// `out`, unretained, for the per-event emit.
    let lines: Unmanaged<LineWriter>
    var queue = EventQueue<X86Action>()
    var now: Int64 = 0
    var cpus: [VCPU]
    var devices: [Device] = []
    /// The devices' interrupt clocks (by device index).
    let clocks: [DeviceClock]
    let timing: GuestTiming
    var vcpuThreads: [Int] = []
    var ioThread = 0
    var faults: FaultSchedule
    let endTime: Int64
    let maxEvents: Int
    let x2apicEOI: Bool
    let timerVector: UInt8
    let ipiVectors: [UInt8]
    /// Vector → device (for handlers: which device a vector belongs to), by vector.
    var vectorDevice = [Int](repeating: -1, count: 256)
    /// eoi-wrong-pin: pin → stale pin its EOI acks instead.
    var staleAck: [Int: Int] = [:]
    /// Faults set up and waiting for the moment they take effect (by catalog index).
    var faultArmed = [Bool](repeating: false, count: FaultCatalog.all.count)
    /// Vectors moved by rte-rewrite-in-service: the old vector's EOI will match no pin.
    var orphaned: Set<UInt8> = []
    /// APICv with posted interrupts (`platform.posted_interrupts`): every fixed interrupt is posted
    /// (kvm_apicv_accept_irq), delivered and EOI'd (edge) by the CPU without an exit or a trace.
    let posted: Bool
    /// The VM has a VT-d posted route (kvm_arch_has_assigned_device): KVM then gives a vCPU that
    /// blocks the wakeup vector (vmx_needs_pi_wakeup, vmx_vcpu_pi_put).
    var vmHasPostedRoute = false
    /// sn-on-race: the hidden IOMMU post's vector per vCPU (it stays in PIR, never traced).
    var hiddenVector = [Int](repeating: -1, count: 16)

    static let rip: Int64 = Int64(bitPattern: 0xFFFF_FFFF_8100_0010)
    static let ripHLT: Int64 = Int64(bitPattern: 0xFFFF_FFFF_81E3_C2A6)

    init(scenario: Scenario, faults: [FaultRequest], seed: UInt64, writer: TraceWriter, endTime: Int64, maxEvents: Int) {
        self.scenario = scenario
        clocks = DeviceClock.table(scenario)
        timing = GuestTiming(scenario.guest)
        rng = SimRandom(seed: seed)
        machine = X86Machine(vcpus: scenario.vcpus, behaviour: .kvm)
        out = LineWriter(style: .ftrace, writer: writer, formats: KVMX86Line.formats)
        lines = .passUnretained(out)
        cpus = Array(repeating: VCPU(), count: scenario.vcpus)
        self.faults = FaultSchedule(faults, runNs: endTime)
        self.endTime = endTime
        self.maxEvents = maxEvents
        x2apicEOI = scenario.guest.eoi == "x2apic"
        posted = scenario.platform.postedInterrupts == true
        timerVector = UInt8(scenario.timer?.vector ?? 0xEC)
        ipiVectors = (scenario.ipis?.vectors ?? [0xFB, 0xFD]).map { UInt8(truncatingIfNeeded: $0) }
        ioThread = out.addThread(SimThread(comm: "qemu-system-x86", pid: 4100, cpu: 0))
        for k in 0..<scenario.vcpus {
            vcpuThreads.append(out.addThread(SimThread(comm: "CPU \(k)/KVM", pid: 4200 + Int32(k), cpu: Int32(k + 1))))
        }
        for (i, d) in scenario.devices.enumerated() {
            let kind: Device.Kind = d.kind == "msix" ? .msix : d.kind == "ioapic-level" ? .level : .edge
            let queues = kind == .msix ? max(1, d.queues ?? 1) : 1
            let targets = Self.initialTargets(scenario, device: i, queues: queues)
            let thread = kind == .msix
                ? out.addThread(SimThread(comm: "vhost-4100", pid: 4300 + Int32(i), cpu: Int32(i % (scenario.vcpus + 1))))
                : ioThread
            devices.append(Device(kind: kind, targets: targets, vector: d.vector ?? 0x40, pin: d.irq ?? 0,
                                  gsi: kind == .msix ? (d.gsi ?? 24 + 8 * i) : (d.irq ?? 0), thread: thread))
            for q in 0..<queues { vectorDevice[(d.vector ?? 0x40) + q] = i }
        }
    }

    var eventCount: Int { out.eventCount }
    var deviceCount: Int { devices.count }
    func queueCount(_ i: Int) -> Int { devices[i].targets.count }
    func queueTarget(_ i: Int, _ q: Int) -> (vcpu: Int, vector: Int) { (devices[i].targets[q], devices[i].vector + q) }

    // MARK: output


    mutating func emit(_ line: KVMX86Line, thread: Int, _ a: Int64 = 0, _ b: Int64 = 0, _ c: Int64 = 0, _ d: Int64 = 0,
                       _ e: Int64 = 0, _ f: Int64 = 0, _ g: Int64 = 0) throws {
        try lines.emit(line.rawValue, thread: thread, time: tick(), a, b, c, d, e, f, g)
    }

    mutating func exit(_ v: Int, _ reason: KVMX86Line) throws {
        try emit(reason, thread: vcpuThreads[v], Int64(v), reason == .exitHLT ? Self.ripHLT : Self.rip, 0, 0, 0, 0, 0)
    }

    mutating func entry(_ v: Int) throws {
        try emit(.entry, thread: vcpuThreads[v], Int64(v), Self.rip, 0, 0)
    }

    // MARK: run

    /// The consequences of faults still in effect at the end, as ground truth (CLI conventions: a
    /// consequence is its own finding with `caused_by`): vectors pending for longer than the lost
    /// window on a vCPU with a vector stuck in service (those it blocks), a vCPU that was never woken,
    /// or a level storm that still runs.
    mutating func consequences() {
        let end = now
        let primaries = faults.truth.enumerated().filter { $0.element.causedBy == nil }
        for (index, g) in primaries {
            let c = g.cpu
            guard c >= 0 && c < cpus.count else { continue }
            let inEffect: Bool
            var blocksUpTo = 15
            switch g.fault {
            case "missing-eoi":
                guard let v = g.vector else { continue }
                inEffect = machine.apics[c].isr.contains(UInt8(v))
                blocksUpTo = v >> 4
            case "no-wakeup": inEffect = cpus[c].hung
            case "pir-without-on", "sn-on-race": inEffect = cpus[c].halted
            case "level-storm": inEffect = devices.contains { $0.stuckHigh && $0.asserted }
            default: continue
            }
            guard inEffect else { continue }
            var pending = machine.apics[c].irr
            if posted { pending.formUnion(cpus[c].pid.pir) }
            // (A vector never accepted in the trace — sn-on-race's hidden IOMMU post — is no finding's.)
            for w in pending.vectors where Int(w) != g.vector && Int(w >> 4) <= blocksUpTo && cpus[c].acceptedAt[Int(w)] > 0
                && end - cpus[c].acceptedAt[Int(w)] > lostWindowNs {
                faults.truth.append(GroundTruth(fault: g.fault, expect: "lost_interrupt", timeNs: cpus[c].acceptedAt[Int(w)], cpu: c, vector: Int(w),
                                                detail: "vector \(w) left pending on vCPU \(c) by the \(g.fault) fault", causedBy: index))
            }
        }
    }

    /// Guest start-up: LAPICs enabled, timers armed, RTEs programmed; then the workload's clocks start.
    mutating func boot() throws {
        now = 1_000_000
        for v in 0..<scenario.vcpus {
            // With APICv an x2APIC SPIV write still exits (only TPR, EOI and self-IPI are virtualized).
            try exit(v, posted && x2apicEOI ? .exitMSRWrite : .exitAPICAccess)
            try emit(.apicWriteSPIV, thread: vcpuThreads[v], 0x1FF)
            machine.apics[v].writeSPIV(0x1FF)
            // vmx_vcpu_pi_load: NDST = the pCPU the vCPU thread runs on (its host CPU).
            if posted { cpus[v].pid.load(destination: PostedInterruptDescriptor.destination(apicID: UInt32(v + 1), x2APIC: true)) }
            if let t = scenario.timer {
                try emit(.apicWriteLVTT, thread: vcpuThreads[v], 0x20000 | Int64(timerVector))
                try emit(.apicWriteTMICT, thread: vcpuThreads[v], Int64(t.periodUs * 1000 / 10))
            }
            try entry(v)
        }
        for (i, d) in devices.enumerated() where d.kind != .msix {
            try writeRTE(by: 0, pin: d.pin, vector: UInt8(d.vector), dest: d.targets[0], level: d.kind == .level, masked: false)
            _ = i
        }
        // Workload clocks.
        startDeviceClocks()
        if let t = scenario.timer {
            for v in 0..<scenario.vcpus { queue.schedule(.timer(v), at: now + Int64(t.periodUs * 1000) + Int64(rng.below(1000 * (v + 1)))) }
        }
        startGuestClocks()
    }

    mutating func perform(_ action: X86Action) throws {
        if try performWorkload(action) { return }
        switch action {
        case .device, .deviceBurst, .affinity, .flood:
            break   // performWorkload
        case .timer(let v):
            if let t = scenario.timer { queue.schedule(.timer(v), at: now + Int64(t.periodUs * 1000)) }
            // apic_timer_expired → kvm_apic_local_deliver on the vCPU's thread.
            let acceptance = machine.apics[v].accept(vector: timerVector, trigger: false)
            try emit(.acceptEdge, thread: vcpuThreads[v], Int64(v), Int64(timerVector))
            if case .accepted = acceptance { cpus[v].acceptedAt[Int(timerVector)] = now }
            scheduleKick(v, timerVector)
        case .ipi(let v):
            if let i = scenario.ipis { queue.schedule(.ipi(v), at: now + gap(rateHz: i.rateHz)) }
            try sendIPI(from: v)
        case .interruptPending(let v):
            cpus[v].kickPending = false
            try kick(v)
        case .handlerEnd(let v, let epoch):
            guard cpus[v].epoch == epoch, cpus[v].busy else { return }
            try handlerEnd(v)
        case .idle(let v, let epoch):
            guard cpus[v].epoch == epoch, !cpus[v].busy, !cpus[v].halted else { return }
            // HLT with an interrupt it can take pending does not block (kvm_vcpu_has_events): it is
            // taken first; and the guest does not halt with its TPR raised.
            if cpus[v].tprRaised || machine.deliverable(v) != nil { scheduleIdle(v); return }
            try exit(v, .exitHLT)
            cpus[v].halted = true
            cpus[v].haltStart = now
            if posted { try postedHalt(v) }
        case .tprRaise(let v):
            if let p = scenario.guest.priorityMasking { queue.schedule(.tprRaise(v), at: now + gap(rateHz: p.rateHz)) }
            guard !cpus[v].halted, !cpus[v].tprRaised, let p = scenario.guest.priorityMasking else { return }
            try writeTPR(v, UInt8(truncatingIfNeeded: p.value))
            cpus[v].tprRaised = true
            queue.schedule(.tprLower(v), at: now + Int64(p.holdUs * 1000))
        case .tprLower(let v):
            guard cpus[v].tprRaised else { return }
            if cpus[v].halted || cpus[v].busy { queue.schedule(.tprLower(v), at: now + 2_000); return }
            try writeTPR(v, 0)
            cpus[v].tprRaised = false
            try tryInject(v, exitFirst: false)
        case .delayedEOI(let pin):
            // kvm_ioapic_eoi_inject_work: a level pin still asserted is serviced again.
            let e = machine.ioapic.entries[pin]
            guard e.levelTriggered, !e.remoteIRR, machine.ioapic.irr & (1 << UInt32(pin)) != 0 else { return }
            if case .delivered(let d) = machine.ioapic.service(pin) {
                lastVector = d.entry.vector
                for o in unicast(d.entry.vector, Int(d.entry.destination), level: d.entry.levelTriggered) { try accepted(o, thread: ioThread) }
            }
        }
    }

    // MARK: devices

    mutating func raise(_ i: Int, _ q: Int) throws {
        switch devices[i].kind {
        case .msix:
            let vector = UInt8(devices[i].vector + q), dest = devices[i].targets[q]
            if faults.due(F.vectorZeroRouteLoss, now) {
                // The GSI's MSI route was not re-programmed: userspace injects the GSI, the route gives vector 0.
                try emit(.setIRQ, thread: devices[i].thread, Int64(devices[i].gsi + q), 1, 0)
                try emit(.msi, thread: devices[i].thread, Int64(dest), 0)
                try emit(.setIRQ, thread: devices[i].thread, Int64(devices[i].gsi + q), 0, 0)
                truth("vector0-route-loss", "misrouted_vector", cpu: dest, vector: 0,
                      "GSI \(devices[i].gsi + q) (\(scenario.devices[i].name) queue \(q), vector \(vector)) routed as vector 0: dropped")
                return
            }
            if posted {
                try postMSI(vector, to: dest, thread: devices[i].thread, device: scenario.devices[i].name, queue: q)
                return
            }
            try emit(.msi, thread: devices[i].thread, Int64(dest), Int64(vector))
            if faults.due(F.lostMsi, now) {
                truth("lost-msi", "lost_interrupt", cpu: dest, vector: Int(vector),
                      "MSI of \(scenario.devices[i].name) queue \(q) to APIC \(dest) vector \(vector) accepted by no LAPIC")
                return
            }
            let outcomes = unicast(vector, dest, level: false)
            for o in outcomes {
                try emit(.acceptEdge, thread: devices[i].thread, Int64(machine.apics[o.vcpu].id), Int64(vector))
                if case .accepted = o.acceptance { cpus[o.vcpu].acceptedAt[Int(vector)] = now }
                scheduleKick(o.vcpu, vector)
            }
        case .edge:
            if faults.due(F.maskedEdgeLost, now), !machine.ioapic.entries[devices[i].pin].masked {
                // The guest masks the pin (an affinity change in progress), the edge comes, the guest unmasks.
                let v = cpus.indices.first { !cpus[$0].halted } ?? 0
                try writeRTE(by: v, pin: devices[i].pin, vector: UInt8(devices[i].vector), dest: devices[i].targets[0], level: false, masked: true, exitFirst: !cpus[v].halted)
                try pulse(i)
                try writeRTE(by: v, pin: devices[i].pin, vector: UInt8(devices[i].vector), dest: devices[i].targets[0], level: false, masked: false, exitFirst: !cpus[v].halted)
                truth("masked-edge-lost", "lost_interrupt", cpu: devices[i].targets[0], vector: devices[i].vector, irq: devices[i].pin,
                      "edge on IOAPIC pin \(devices[i].pin) (\(scenario.devices[i].name)) while the pin was masked: never delivered")
                return
            }
            try pulse(i)
        case .level:
            guard !devices[i].asserted else { return }
            devices[i].asserted = true
            if faults.due(F.levelStorm, now) {
                devices[i].stuckHigh = true
                truth("level-storm", "interrupt_storm", cpu: devices[i].targets[0], vector: devices[i].vector, irq: devices[i].pin,
                      "the handler of \(scenario.devices[i].name) never clears its cause: IOAPIC pin \(devices[i].pin) stays asserted and every EOI re-delivers it")
            }
            try setLine(i, level: true)
        }
    }

    /// An edge device's pulse: the line up, then down (as QEMU's KVM_IRQ_LINE pulses).
    mutating func pulse(_ i: Int) throws {
        try setLine(i, level: true)
        try setLine(i, level: false)
    }

    /// `KVM_IRQ_LINE`: kvm_set_irq, the delivery's acceptances, then kvm_ioapic_set_irq.
    mutating func setLine(_ i: Int, level: Bool) throws {
        let d = devices[i]
        try emit(.setIRQ, thread: d.thread, Int64(d.gsi), level ? 1 : 0, 0)
        let (result, outcomes) = machine.setLine(pin: d.pin, level: level, source: 0)
        var coalesced = false
        if case .coalesced = result, d.kind == .edge { coalesced = true }
        if case .delivered(let delivery) = result {
            lastVector = delivery.entry.vector
            if outcomes.isEmpty { coalesced = true }
            for o in outcomes { try accepted(o, thread: d.thread) }
        }
        let e = machine.ioapic.entries[d.pin]
        let line: KVMX86Line
        switch (e.levelTriggered, e.masked, coalesced) {
        case (false, false, false): line = .ioapicEdge
        case (true, false, false): line = .ioapicLevel
        case (false, true, _): line = .ioapicEdgeMasked
        case (true, true, _): line = .ioapicLevelMasked
        case (false, false, true): line = .ioapicEdgeCoalesced
        case (true, false, true): line = .ioapicLevelCoalesced
        }
        try emit(line, thread: d.thread, Int64(d.pin), Int64(e.destination), Int64(e.vector))
    }

    mutating func accepted(_ o: X86Machine.Outcome, thread: Int) throws {
        let a = machine.apics[o.vcpu]
        guard case .accepted = o.acceptance else {
            if case .coalesced = o.acceptance {
                try emit(a.tmr.contains(lastVector) ? .acceptLevel : .acceptEdge, thread: thread, Int64(a.id), Int64(lastVector))
            }
            return
        }
        try emit(a.tmr.contains(lastVector) ? .acceptLevel : .acceptEdge, thread: thread, Int64(a.id), Int64(lastVector))
        cpus[o.vcpu].acceptedAt[Int(lastVector)] = now
        scheduleKick(o.vcpu, lastVector)
    }

    /// The vector of the message being delivered (set before `accepted`).
    var lastVector: UInt8 = 0

    /// Guest RTE write through the IOAPIC window on vCPU `v`'s thread: high half, then low half.
    mutating func writeRTE(by v: Int, pin: Int, vector: UInt8, dest: Int, level: Bool, masked: Bool, exitFirst: Bool = true) throws {
        let t = vcpuThreads[v]
        if exitFirst { try exit(v, .exitEPTMisconfig) }
        let low = UInt32(vector) | (level ? 1 << 15 : 0) | (masked ? 1 << 16 : 0)
        try emit(.mmioWrite, thread: t, 4, 0xFEC0_0000, Int64(0x10 + 2 * pin + 1))
        machine.ioapic.registerSelect = UInt8(0x10 + 2 * pin + 1)
        try emit(.mmioWrite, thread: t, 4, 0xFEC0_0010, Int64(dest) << 24)
        if let d = machine.ioapic.writeRegister(select: UInt8(0x10 + 2 * pin + 1), value: UInt32(dest) << 24) {
            // Any RTE write services a level pin still asserted, unmasked and without Remote IRR
            // (ioapic_write_indirect), the high half too.
            lastVector = d.entry.vector
            for o in unicast(d.entry.vector, Int(d.entry.destination), level: d.entry.levelTriggered) { try accepted(o, thread: t) }
        }
        try emit(.mmioWrite, thread: t, 4, 0xFEC0_0000, Int64(0x10 + 2 * pin))
        machine.ioapic.registerSelect = UInt8(0x10 + 2 * pin)
        try emit(.mmioWrite, thread: t, 4, 0xFEC0_0010, Int64(low))
        if let d = machine.ioapic.writeRegister(select: UInt8(0x10 + 2 * pin), value: low) {
            lastVector = d.entry.vector
            for o in unicast(d.entry.vector, Int(d.entry.destination), level: d.entry.levelTriggered) { try accepted(o, thread: t) }
        }
        if exitFirst { try entry(v) }
    }

    /// Moves one queue of device `i` to another vCPU; false when no vCPU is free to run the guest's code.
    mutating func changeAffinity(_ i: Int) throws -> Bool {
        let d = devices[i]
        guard scenario.vcpus > 1 else { return true }
        let (q, newTarget) = pickMove(d.targets)
        guard d.kind != .msix else {
            devices[i].targets[q] = newTarget  // MSI-X table writes are userspace's: only the new dst shows
            return true
        }
        guard let v = cpus.indices.first(where: { !cpus[$0].halted && !cpus[$0].hung && !cpus[$0].busy }) else { return false }
        devices[i].targets[q] = newTarget
        let e = machine.ioapic.entries[d.pin]
        if d.kind == .level, faults.due(F.eoiWrongPin, now), e.remoteIRR == false, let newPin = (0..<24).first(where: { p in
            p != d.pin && !devices.contains { $0.pin == p && $0.kind != .msix } && machine.ioapic.entries[p].masked && machine.ioapic.entries[p].vector == 0
        }) {
            // The device moves to another pin with the same vector; the old RTE is masked but keeps it.
            let old = d.pin
            try writeRTE(by: v, pin: old, vector: UInt8(d.vector), dest: newTarget, level: true, masked: true)
            try writeRTE(by: v, pin: newPin, vector: UInt8(d.vector), dest: newTarget, level: true, masked: false)
            devices[i].pin = newPin
            devices[i].gsi = newPin
            staleAck[newPin] = old
            // The ground truth is written at the EOI that acks the stale pin (ioapicEOI).
            faultArmed[F.eoiWrongPin] = true
            return true
        }
        try writeRTE(by: v, pin: d.pin, vector: UInt8(d.vector), dest: newTarget, level: d.kind == .level, masked: e.masked)
        return true
    }

    /// A fixed, physical, unicast message (all the simulator sends) to APIC ID `dest` = vCPU index:
    /// the LAPIC's acceptance (KVM __apic_accept_irq), without the bus's general destination search.
    @inline(__always)
    mutating func unicast(_ vector: UInt8, _ dest: Int, level: Bool) -> CollectionOfOne<X86Machine.Outcome> {
        CollectionOfOne(X86Machine.Outcome(vcpu: dest, acceptance: machine.apics[dest].accept(vector: vector, mode: .fixed, level: true, trigger: level)))
    }

    // MARK: vCPUs

    mutating func scheduleKick(_ v: Int, _ vector: UInt8) {
        guard !cpus[v].kickPending, !cpus[v].busy else { return }
        cpus[v].kickPending = true
        cpus[v].kickVector = vector
        queue.schedule(.interruptPending(v), at: now + rng.between(500, 3_000))
    }

    mutating func scheduleIdle(_ v: Int) {
        cpus[v].epoch &+= 1
        queue.schedule(.idle(v, cpus[v].epoch), at: now + timing.runNs(&rng))
    }

    /// An interrupt is pending for vCPU `v`: wake it if halted, kick it out of the guest if running.
    mutating func kick(_ v: Int) throws {
        if posted { try postedKick(v); return }
        guard !cpus[v].busy, !cpus[v].hung else { return }
        let pending = machine.deliverable(v)
        if cpus[v].halted {
            // kvm_vcpu_has_events: only a deliverable interrupt wakes a halted vCPU.
            guard let vector = pending else { return }
            if faults.due(F.noWakeup, now) {
                cpus[v].hung = true
                let first = machine.apics[v].irr.contains(cpus[v].kickVector) ? cpus[v].kickVector : vector
                truth("no-wakeup", "halted_with_pending", cpu: v, vector: Int(first),
                      "vCPU \(v) halted, vector \(first) arrived, deliverable: no wakeup, it stays halted")
                return
            }
            try emit(.wakeup, thread: vcpuThreads[v], now - cpus[v].haltStart)
            cpus[v].halted = false
            try tryInject(v, exitFirst: false)
            return
        }
        if faults.due(F.tprNotHonoured, now), cpus[v].tprRaised, let low = machine.apics[v].irr.highest, pending == nil {
            // The injection path used a stale TPR of 0.
            try exit(v, .exitExternal)
            machine.apics[v].irr.remove(low)
            machine.apics[v].isr.insert(low)
            try emit(.inject, thread: vcpuThreads[v], Int64(low))
            try entry(v)
            truth("tpr-not-honoured", "priority_inversion", cpu: v, vector: Int(low),
                  "vector \(low) injected into vCPU \(v) with TPR 0x\(String(machine.apics[v].tpr, radix: 16)) (class \(low >> 4) ≤ \(machine.apics[v].tpr >> 4))")
            startHandler(v, low)
            return
        }
        guard pending != nil else { return }
        try tryInject(v, exitFirst: true)
    }

    /// At (re-)entry: inject the highest deliverable vector when the guest can take it.
    mutating func tryInject(_ v: Int, exitFirst: Bool) throws {
        guard !cpus[v].busy, !cpus[v].halted, !cpus[v].hung else { return }
        guard let vector = machine.deliverable(v) else {
            if !exitFirst { try entry(v) }
            return
        }
        if exitFirst { try exit(v, .exitExternal) }
        _ = machine.apics[v].acknowledge()
        try emit(.inject, thread: vcpuThreads[v], Int64(vector))
        try entry(v)
        startHandler(v, vector)
    }

    mutating func startHandler(_ v: Int, _ vector: UInt8) {
        cpus[v].busy = true
        cpus[v].handling = vector
        cpus[v].epoch &+= 1
        let t = timing.handlerNs(&rng)
        queue.schedule(.handlerEnd(v, cpus[v].epoch), at: now + t)
    }

    /// The handler returns: a level device's cause is cleared, then EOI.
    mutating func handlerEnd(_ v: Int) throws {
        if posted { postedHandlerEnd(v); return }
        let vector = cpus[v].handling
        let di = vectorDevice[Int(vector)]
        if di >= 0, devices[di].kind == .level, devices[di].asserted, !devices[di].stuckHigh {
            devices[di].asserted = false
            try setLine(di, level: false)
        }
        cpus[v].busy = false
        if faults.due(F.missingEoi, now), machine.apics[v].tmr.contains(vector) == false, vector != timerVector {
            truth("missing-eoi", "stuck_in_service", cpu: v, vector: Int(vector),
                  "vCPU \(v) returns from the handler of vector \(vector) without EOI: it stays in ISR")
            try tryInjectOrIdle(v)
            return
        }
        if faults.due(F.rteRewriteInService, now), di >= 0, devices[di].kind == .level, !orphaned.contains(vector) {
            // Another CPU's affinity code rewrites the RTE to a new vector before this EOI.
            let d = devices[di]
            let newVector = UInt8(d.vector + 0x10 > 0xEF ? d.vector - 0x10 : d.vector + 0x10)
            let writer = cpus.indices.first { $0 != v && !cpus[$0].halted && !cpus[$0].hung } ?? v
            try writeRTE(by: writer, pin: d.pin, vector: newVector, dest: d.targets[0], level: true, masked: false, exitFirst: writer != v)
            orphaned.insert(vector)
            vectorDevice[Int(newVector)] = di
            devices[di].vector = Int(newVector)
            truth("rte-rewrite-in-service", "remote_irr_stuck", cpu: v, vector: Int(vector), irq: d.pin,
                  "IOAPIC pin \(d.pin) rewritten from vector \(vector) to \(newVector) while \(vector) was in service: its EOI matches no pin and Remote IRR stays set")
        }
        try exit(v, x2apicEOI ? .exitMSRWrite : .exitAPICAccess)
        try emit(.apicWriteEOI, thread: vcpuThreads[v], 0)
        let eoi = machine.apics[v].endOfInterrupt()
        try emit(.eoi, thread: vcpuThreads[v], Int64(machine.apics[v].id), eoi.vector.map(Int64.init) ?? -1)
        if let ev = eoi.vector, eoi.broadcastToIOAPIC {
            try ioapicEOI(v, ev)
        }
        cpus[v].kickPending = false
        if machine.deliverable(v) != nil {
            try tryInject(v, exitFirst: false)
        } else {
            try entry(v)
            scheduleIdle(v)
        }
    }

    mutating func tryInjectOrIdle(_ v: Int) throws {
        if machine.deliverable(v) != nil { try kick(v) } else { scheduleIdle(v) }
    }

    /// The IOAPIC's part of a level EOI (kvm_ioapic_update_eoi_one): each pin with the vector is
    /// acked (kvm_ack_irq), its Remote IRR cleared, and a line still asserted re-delivered.
    mutating func ioapicEOI(_ v: Int, _ vector: UInt8) throws {
        let t = vcpuThreads[v]
        if let (pin, stalePin) = staleAck.first(where: { machine.ioapic.entries[$0.key].vector == vector }) {
            // eoi-wrong-pin: the ack path maps the vector to the first (stale) RTE only.
            try emit(.ackIOAPIC, thread: t, Int64(stalePin))
            if faultArmed[F.eoiWrongPin] {
                faultArmed[F.eoiWrongPin] = false
                truth("eoi-wrong-pin", "remote_irr_stuck", cpu: v, vector: Int(vector), irq: pin,
                      "the device of IOAPIC pin \(pin) moved there from pin \(stalePin) (same vector \(vector)); this EOI acks pin \(stalePin) only, and pin \(pin) keeps Remote IRR")
            }
            return
        }
        for effect in machine.ioapic.endOfInterrupt(vector: vector, level: true) {
            switch effect {
            case .remoteIRRCleared(let pin):
                try emit(.ackIOAPIC, thread: t, Int64(pin))
            case .redelivered(let d):
                lastVector = d.entry.vector
                for o in unicast(d.entry.vector, Int(d.entry.destination), level: d.entry.levelTriggered) { try accepted(o, thread: t) }
            case .delayedRedelivery(let pin):
                let e = machine.ioapic.entries[pin]
                try emit(.delayedEOI, thread: t, Int64(e.destination), Int64(e.vector))
                queue.schedule(.delayedEOI(pin), at: now + 10_000_000)
            }
        }
    }

    mutating func writeTPR(_ v: Int, _ value: UInt8) throws {
        try exit(v, .exitAPICAccess)
        try emit(.apicWriteTPR, thread: vcpuThreads[v], Int64(value))
        machine.apics[v].tpr = value
        try entry(v)
    }

    mutating func sendIPI(from v: Int) throws {
        guard !cpus[v].halted, !cpus[v].hung, scenario.vcpus > 1 else { return }
        let target = (v + 1 + rng.below(scenario.vcpus - 1)) % scenario.vcpus
        let vector = ipiVectors[rng.below(ipiVectors.count)]
        let t = vcpuThreads[v]
        try exit(v, .exitAPICAccess)
        try emit(.apicWriteICR2, thread: t, Int64(target) << 24)
        try emit(.apicWriteICR, thread: t, Int64(vector))
        try emit(.ipi, thread: t, Int64(target), Int64(vector))
        lastVector = vector
        for o in unicast(vector, target, level: false) {
            try accepted(o, thread: t)
        }
        try entry(v)
    }
}
