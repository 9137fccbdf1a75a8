import TraceFormat

/// Replays x86 KVM tracepoints (arch/x86/kvm: lapic.c, ioapic.c, irq_comm.c, x86.c) on the x86
/// models with KVM's rules, in the footprint of the host's KVM flavour:
///
/// - **kvm_pvm** (shared/reference/real-sources.md §1): no kvm_entry/kvm_exit/kvm_inj_virq; the
///   hypervisor delivers a pending vector by EOI-ing it at once (`kvm_apic: apic_write APIC_EOI` +
///   `kvm_eoi: apicid A vector V`), so a delivered vector is never left in ISR, and a level vector's
///   delivery-time EOI reaches the IOAPIC at once (`kvm_ack_irq`), re-delivering a line still asserted.
///   A delivery that faults in the guest (no IDT gate) gets no EOI and leaves the vector in ISR, with no
///   event: a LAPIC ISR/PPR read showing it in service is where the model takes that delivery, and the
///   guest's own EOI (`kvm_mmio` write to 0xfee000b0 before the `kvm_eoi`) retires it. A halt shows only
///   when it ends (`kvm_vcpu_wakeup` with the time it blocked); the next event on its thread tells
///   whether an interrupt ended it (the delivery-time EOI) or not (``HaltEvidence``).
/// - **VMX / SVM** (kvm_intel, kvm_amd): `kvm_inj_virq` is the injection of the highest deliverable
///   vector on the vCPU's thread (IRR → ISR, `kvm_cpu_get_interrupt`); `kvm_eoi` is the guest's EOI
///   (the highest ISR vector retired, `apic_set_eoi`), so a missing EOI blocks lower classes; a
///   `[reinjected]` injection is a vector already in service (an interrupted injection re-queued);
///   `Soft/INTn` is an INT instruction, not the LAPIC's. With APICv/AVIC (`kvm_apicv_accept_irq`)
///   the hardware delivers and EOIs (edge) without KVM seeing it: that vCPU's IRR/ISR become
///   unknown and its deliveries and EOIs are counted unchecked.
///
/// Checked observations (both flavours):
/// - each `kvm_apic_accept_irq` after an MSI (`kvm_msi_set_irq`), an IPI (`kvm_apic_ipi`), an IOAPIC
///   line change (`kvm_set_irq`) or an IOAPIC re-delivery: vector, trigger, and that the APIC is a
///   destination of the message; a message whose sending call ends (another kvm event on its thread,
///   or the end of the trace) with no acceptance reached nobody (`dropped`; a divergence unless no vCPU
///   has its destination, which is what the models say too);
/// - each delivery (pvm: delivery-time `kvm_eoi`; VMX/SVM: `kvm_inj_virq`): the highest vector the
///   LAPIC model can deliver (IRR above PPR, so TPR blocking and priority order are checked);
/// - VMX/SVM: each `kvm_eoi` vector is the highest in service (`vector -1` only with an empty ISR),
///   each `kvm_pv_eoi` repeats its `kvm_eoi`; reinjected vectors are in service;
/// - each `kvm_ack_irq` of the IOAPIC: a pin whose level vector was just EOI'd;
/// - each `kvm_ioapic_set_irq`: vector, destination, trigger and mask of the pin's redirection entry
///   as the guest programmed it (IOAPIC MMIO writes seen as `kvm_mmio`);
/// - LAPIC register reads (`kvm_apic: apic_read`): PPR, IRR, ISR, TMR;
/// - pvm: a vCPU that blocks in HLT (`kvm_vcpu_wakeup wait`) with a deliverable vector pending (pvm
///   delivers at HLT, so that is a lost wakeup). On VMX/SVM a guest may halt with IF=0 and a vector
///   pending (a guest bug, not a model mismatch): left to the analyzers.
///
/// The vCPU of a thread is learnt in a first pass: from `kvm_entry`/`kvm_exit` ("vcpu N"; KVM's
/// APIC ID is the vcpu_id unless userspace changes it) on VMX/SVM, from the first `kvm_eoi` on pvm;
/// or, as the events come, from the guest's read of its APIC ID register (`kvm_apic: apic_read APIC_ID`).
/// LAPIC register writes seen before a thread is known are applied once it is, in order.
public struct KVMX86Adapter {
    /// The host's KVM backend, as far as its footprint tells.
    public enum Flavour: String, Sendable, Codable {
        case pvm
        case vmx
        case svm
        /// kvm_entry/kvm_inj_virq but no exit reason that tells Intel from AMD.
        case hardware

        var delegatesDeliveryToGuestEOI: Bool { self != .pvm }
    }
    public let flavour: Flavour
    public internal(set) var machine = X86Machine(vcpus: 0, behaviour: .kvm)
    public internal(set) var report: ReplayReport

    /// APIC ID (KVM prints the vcpu_id, equal to the initial APIC ID) → index in `machine.apics`.
    var apicIndex = IntMap<UInt32, Int>()
    /// Thread → APIC ID, once known.
    /// (Set only through ``setBinding(_:_:)``, which keeps ``boundAPICs`` in step.)
    private(set) var binding = IntMap<Int32, UInt32>()
    /// The APIC IDs some thread is bound to (`binding`'s values, kept for the per-acceptance check).
    private(set) var boundAPICs = APICIDSet()

    /// Which VM the events belong to: VMs one after another in one trace (``VMTracking``).
    var vms = VMTracking()
    /// The first pass's record of each thread's first and last KVM event (for ``planVMs()``).
    var threadSpans = ThreadSpans()
    /// The first VM started before the trace (``midFlight`` applies to it only: later VMs start from reset).
    var startedMidFlight = false

    mutating func setBinding(_ thread: Int32, _ apicID: UInt32) {
        binding[thread] = apicID
        boundAPICs.insert(apicID)
        recentBindings.forget(thread)
    }

    /// Whether two threads are bound to one vCPU (several VMs, or a vCPU that changed threads).
    var sharesAVCPU: Bool {
        var seen = APICIDSet()
        for (_, a) in binding { if seen.contains(a) { return true }; seen.insert(a) }
        return false
    }

    /// Restores the thread bindings (a snapshot); ``boundAPICs`` follows from them.
    mutating func restoreBindings(_ b: IntMap<Int32, UInt32>) {
        binding = b
        boundAPICs.removeAll()
        for (_, a) in b { boundAPICs.insert(a) }
        recentBindings = RecentBindings()
    }

    /// ``binding`` of the threads looked up lately (most events ask their thread's vCPU).
    private var recentBindings = RecentBindings()

    /// The APIC ID of the vCPU `thread` runs (``binding``), nil while unknown.
    @inline(__always)
    mutating func boundAPIC(_ thread: Int32) -> UInt32? {
        if let a = recentBindings[thread] { return a }
        guard let a = binding[thread] else { return nil }
        recentBindings.remember(thread, a)
        return a
    }
    /// LAPIC register writes of threads not yet bound: (register name or offset, value).
    var unbound = IntMap<Int32, [(String, UInt32)]>()
    /// Per thread: the messages whose acceptances must follow on it, the event that sent the last of
    /// them, its last acceptance, and whether its KVM call is still open (``MessageThread``). One
    /// record, so a message or an acceptance costs one hash look-up, not one per table.
    var messageThreads = IntMap<Int32, MessageThread>()
    /// How many threads are open (`messageThreads[t].open`): most events see none and skip the look-up.
    var openThreadCount = 0
    /// Pins whose IOAPIC ack must follow on a thread.
    var pendingAcks = IntMap<Int32, [Int]>()
    /// Acceptances the model merged with a pending vector (coalesced), by (APIC, vector): with
    /// per-CPU trace clocks, a delivery printed just after such an acceptance on another CPU may have
    /// happened before it, so the acceptance may really have set IRR again. `armed`: a delivery on
    /// another CPU came within the skew window after it, so a second delivery is explained.
    var coalescedAccepts = IntMap<UInt64, (time: Int64, cpu: Int32, armed: Bool)>()
    /// Cross-CPU ordering uncertainty: per-CPU `local` trace clocks differ by microseconds.
    public static let reorderWindowNs: Int64 = 50_000
    var handlers = TemplateHandlers<Kind, Field> { Self.kind(of: $0) }

    /// The schema fields this adapter reads.
    enum Field: Int, FieldKey {
        case apicid, dest, gpa, gsi, level, pin, source, time_ns, value, vector, delivery_mode, dest_mode, irqchip, kind, masked, redirection_hint, reg, rw, shorthand, trigger_mode, type, reinjected
        case chip, port, coalesced, state, vcpu, reason
    }

    enum Kind { case mmio, apic, msi, setIRQ, ioapicSetIRQ, accept, eoi, ack, ipi, wakeup, inject, pvEOI, apicvAccept, entry, exit, picSetIRQ, pio, postedIRTE, delayedEOI }
    /// When each vector was accepted, by (APIC, vector), and on which CPU's clock.
    var acceptTimes = IntMap<UInt64, AcceptTime>()
    struct AcceptTime: Codable { var time: Int64; var cpu: Int32 }
    /// Injections of a vector not (yet) accepted: printed on one CPU, the acceptance may follow on
    /// another within the clock-skew window.
    var deferred: [(apicID: UInt32, vector: UInt8, time: Int64, cpu: Int32, eventIndex: Int, state: String)] = []

    /// APICs whose deliveries the hardware makes (APICv/AVIC): IRR/ISR unknown to the model.
    var hardwareDelivered = APICIDSet()
    /// LVT entries per APIC (timer, thermal, PMC, LINT0, LINT1, error), as the guest wrote them:
    /// an acceptance with no message before it is a local interrupt (kvm_apic_local_deliver) of one
    /// of them — the LAPIC timer above all.
    var lvt = IntMap<UInt32, [UInt32]>()
    /// Level pins whose re-delivery KVM delayed (`kvm_ioapic_delayed_eoi_inj`): a kworker services
    /// them about 10 ms later (kvm_ioapic_eoi_inject_work), with no message traced before the acceptance.
    var delayedPins: [Int] = []
    /// The last `kvm_eoi` vector per thread, which a `kvm_pv_eoi` repeats.
    var lastEOI = IntMap<Int32, Int64>()
    /// ExtINT injections from the 8259 PIC are possible (kvm_pic_set_irq seen).
    var picActive = false
    /// KVM's 8259 pair (arch/x86/kvm/i8259.c: the same rules as QEMU's; ELCR writes are seen as
    /// kvm_pio to 0x4d0/0x4d1, so every input's mode is known).
    public internal(set) var pic: PIC8259 = {
        var p = PIC8259()
        p.master.elcrKnown = true
        p.slave.elcrKnown = true
        return p
    }()
    /// Line levels per GSI below 16 as the PIC sees them (KVM ORs the sources in `irq_states`).
    var picLines = IntMap<Int, Set<Int>>()
    /// The PIC line level the last kvm_set_irq on a thread left (kvm_pic_set_irq follows it).
    var lastSetIRQ = IntMap<Int32, Bool>()

    /// When set, every model transition is appended to ``transitions`` (for the analyzers); the
    /// consumer drains the buffer as it goes.
    public var recordTransitions = false
    /// The trace starts mid-flight (docs/RECORDING.md): observations about state from before it are adopted.
    public var midFlight = false
    var mid = MidFlightKnowledge()
    public var transitions = TransitionBuffer()
    /// Pins the guest has unmasked at least once (an edge on a pin never unmasked is boot noise).
    var everUnmasked: UInt32 = 0
    /// vCPUs (APIC IDs) halted in HLT (VMX/SVM: between a HLT exit and the wakeup or next entry).
    var haltedAPICs = APICIDSet()
    /// Threads with IOAPIC acks still expected after their EOI (pendingAcks non-empty).
    var threadsAwaitingAcks = 0
    /// VMX/SVM: KVM's posted interrupts (APICv) per vCPU (`KVMX86Adapter-posted.swift`).
    var pi = PostedInterruptTracking()
    /// Unchecked observations counted without hashing a string per event (merged at the end).
    var tally = UncheckedTally()

    @inline(__always)
    mutating func note(_ kind: Transition.Kind, _ b: EventBatch, _ i: Int, cpu: Int64 = -1, vector: Int64 = -1, irq: Int64 = -1,
                       value: Int64 = 0, aux: Int64 = 0) {
        guard recordTransitions else { return }
        transitions.append(Transition(kind, event: b.eventIndex(i), time: b.time(i), cpu: Int32(truncatingIfNeeded: cpu),
                                      vector: Int16(truncatingIfNeeded: vector), irq: Int32(truncatingIfNeeded: irq), value: value, aux: aux))
    }

    /// Why a message nobody accepted reached nobody.
    func dropReason(_ m: X86Machine.Message) -> Transition.DropReason {
        if m.vector < 16 { return .illegalVector }
        let exists = m.shorthand != .none || m.logical || m.destination == 0xFF || apicIndex[m.destination] != nil
        return exists ? .notAccepted : .noSuchDestination
    }

    /// pvm: threads whose last MMIO write was the guest's own EOI (0xFEE000B0): their next `kvm_eoi`
    /// is the guest's (it retires the highest vector in service), not a delivery.
    var guestEOIWrites = IntSet<Int32>()

    /// pvm: how a halt looked (``Transition/Kind/haltedWithPending``'s `aux`). A halt shows only when it
    /// ends, as `kvm_vcpu_wakeup` with the time it blocked; whether an interrupt ended it shows next on
    /// its thread (the delivery-time EOI) or not (the thread left KVM_RUN: a signal, an NMI).
    public enum HaltEvidence: Int64, Sendable {
        /// A vector the LAPIC could deliver was pending when the vCPU blocked (pvm delivers at HLT).
        case pendingAtHalt = 0
        /// A vector the LAPIC could deliver arrived while it was blocked, and the halt ended without an
        /// interrupt: IF=0 (`cli; hlt`) or a lost wakeup.
        case notWoken = 1
        /// The halt ended without an interrupt while vectors were pending that its TPR masks.
        case maskedByTPR = 2
        /// A deliverable vector arrived while it was blocked and an interrupt ended the halt (how late:
        /// the analyzer's wakeup window).
        case wokenByInterrupt = 3
    }
    struct HaltEnd: Codable { var apic: UInt32; var blockedAt: Int64; var event: Int; var time: Int64 }
    /// pvm: halts that just ended, decided at the next event on their thread.
    var haltEnds = IntMap<Int32, HaltEnd>()

    /// The vectors pending at a halt that ended: the one that tells most about it (transitions only).
    mutating func decideHalt(_ h: HaltEnd, endedByInterrupt: Bool) {
        guard recordTransitions, let k = apicIndex[h.apic] else { return }
        let a = machine.apics[k]
        var arrived: (vector: UInt8, at: Int64)?, masked: (vector: UInt8, since: Int64)?
        for v in a.irr.vectors {
            let at = acceptTimes[UInt64(h.apic) << 8 | UInt64(v)]?.time ?? h.blockedAt
            if (v & 0xF0) > a.ppr {
                // (pending before the halt: the wakeup check reported it as pendingAtHalt)
                if at + Self.reorderWindowNs >= h.blockedAt, arrived.map({ at < $0.at }) ?? true { arrived = (v, at) }
            } else if (v & 0xF0) <= (a.tpr & 0xF0) {
                let since = max(at, h.blockedAt)
                if masked.map({ since < $0.since }) ?? true { masked = (v, since) }
            }
        }
        if let arrived {
            transitions.append(Transition(.haltedWithPending, event: h.event, time: h.time, cpu: Int32(h.apic), vector: Int16(arrived.vector),
                                          value: h.blockedAt, aux: (endedByInterrupt ? HaltEvidence.wokenByInterrupt : .notWoken).rawValue))
        } else if !endedByInterrupt, let masked {
            transitions.append(Transition(.haltedWithPending, event: h.event, time: h.time, cpu: Int32(h.apic), vector: Int16(masked.vector),
                                          value: h.blockedAt, aux: HaltEvidence.maskedByTPR.rawValue))
        }
    }

    /// pvm: a vector whose delivery faulted in the guest (no IDT gate, …) went from IRR to ISR without
    /// the delivery-time EOI, and no event shows it. A read of ISR that shows it in service (or of PPR
    /// that shows its class) is the evidence: the model takes the delivery there, if that vector is the
    /// one the LAPIC would have delivered. It stays in service until an EOI retires it.
    mutating func adoptFaultedDelivery(_ b: EventBatch, _ i: Int, k: Int, offset: UInt32, value: UInt32) {
        let a = machine.apics[k]
        var candidates: [UInt8] = []
        switch offset {
        case 0x100...0x170 where offset % 0x10 == 0:
            let r = Int(offset - 0x100) / 0x10
            let extra = value & ~a.isr.register(r) & a.irr.register(r)
            guard extra != 0 else { return }
            for bit in (0..<32).reversed() where extra & (1 << UInt32(bit)) != 0 { candidates.append(UInt8(r * 32 + bit)) }
        case 0xA0:
            guard value & 0xF0 > UInt32(a.ppr & 0xF0), let d = a.deliverable, UInt32(d & 0xF0) == value & 0xF0 else { return }
            candidates = [d]
        default: return
        }
        for v in candidates {
            guard machine.apics[k].deliverable == v else { break }
            note(.delivered, b, i, cpu: Int64(a.id), vector: Int64(v), value: Int64(machine.apics[k].ppr), aux: Int64(v))
            machine.apics[k].irr.remove(v)
            machine.apics[k].isr.insert(v)
        }
    }

    struct Send: Codable { var event: Int; var time: Int64; var source: MessageSource; var pin: Int32 }

    /// Where an interrupt came from (``Transition/Kind/coalesced``'s `aux` & 0xFF; `aux` & 0x100: the
    /// vector was deliverable then, above PPR; `value` = the IOAPIC pin or -1).
    public enum MessageSource: Int64, Sendable, Codable {
        case msi = 1, ipi = 2, ioapic = 3
        /// An LVT entry of the LAPIC itself (timer, LINT, error).
        case local = 4
    }
    /// A message no APIC accepted. A destination no vCPU has is what the models say too (nobody
    /// accepts it: no divergence); a destination that exists, or an illegal vector, is a divergence.
    /// `origin`: the event that sent the thread's last message (the transition is placed there).
    mutating func dropped(_ m: X86Machine.Message, at now: (event: Int, time: Int64), origin sent: Send?, observed: String, state: String = "") {
        let reason = dropReason(m)
        let origin = sent ?? Send(event: now.event, time: now.time, source: .msi, pin: -1)
        if recordTransitions {
            // (`value`: the IOAPIC pin it came from, -1 for an MSI or IPI.)
            transitions.append(Transition(.dropped, event: origin.event, time: origin.time, cpu: Int32(truncatingIfNeeded: m.destination),
                                          vector: Int16(m.vector), value: Int64(origin.pin), aux: reason.rawValue))
        }
        report.observationsTotal &+= 1
        report.observationsChecked &+= 1
        guard reason != .noSuchDestination else { return }
        report.add(Divergence(
            eventIndex: now.event, timeNs: now.time, what: "interrupt message accepted by no APIC",
            expected: "vector \(m.vector) \(m.levelTriggered ? "level" : "edge") to \(m.logical ? "logical" : "physical") \(m.destination) accepted",
            observed: observed, state: state))
    }

    public init(flavour: Flavour = .pvm) {
        self.flavour = flavour
        report = ReplayReport(adapter: "kvm-\(flavour.rawValue)", behaviour: "kvm")
    }

    static func kind(of name: String) -> Kind? {
        switch name {
        case "kvm_mmio": .mmio
        case "kvm_apic": .apic
        case "kvm_msi_set_irq": .msi
        case "kvm_set_irq": .setIRQ
        case "kvm_ioapic_set_irq": .ioapicSetIRQ
        case "kvm_apic_accept_irq": .accept
        case "kvm_eoi": .eoi
        case "kvm_ack_irq": .ack
        case "kvm_apic_ipi": .ipi
        case "kvm_vcpu_wakeup": .wakeup
        case "kvm_inj_virq": .inject
        case "kvm_pv_eoi": .pvEOI
        case "kvm_apicv_accept_irq": .apicvAccept
        case "kvm_entry": .entry
        case "kvm_exit": .exit
        case "kvm_pic_set_irq": .picSetIRQ
        case "kvm_pio": .pio
        case "kvm_pi_irte_update": .postedIRTE
        case "kvm_ioapic_delayed_eoi_inj": .delayedEOI
        default: nil
        }
    }

    /// ``apicIndex`` of the small APIC IDs looked up so far (index + 1; 0: not yet): every event
    /// finds its APIC, and APIC IDs are small. Entries never change once made (APICs are only added).
    var smallAPICIndex: [Int32] = Array(repeating: 0, count: 64)

    @inline(__always)
    mutating func apic(_ id: UInt32) -> Int {
        if id < 64, case let k = smallAPICIndex[Int(id)], k > 0 { return Int(k) &- 1 }
        return apicSlow(id)
    }

    mutating func apicSlow(_ id: UInt32) -> Int {
        if let k = apicIndex[id] {
            if id < 64 { smallAPICIndex[Int(id)] = Int32(k + 1) }
            return k
        }
        machine.apics.append(Self.resetAPIC(id, midFlight: midFlight))
        apicIndex[id] = machine.apics.count - 1
        return machine.apics.count - 1
    }

    /// A vCPU's LAPIC as the trace first meets it: from reset it is software-disabled until the guest
    /// writes SPIV; a running guest's (mid-flight) was enabled long before the trace.
    static func resetAPIC(_ id: UInt32, midFlight: Bool) -> LocalAPIC {
        var a = LocalAPIC(id: id, behaviour: .kvm)
        a.spiv = midFlight ? 0x1FF : 0xFF
        return a
    }

    mutating func diverge(_ b: EventBatch, _ i: Int, _ what: String, expected: String, observed: String, state: String = "") {
        report.add(Divergence(eventIndex: b.eventIndex(i), timeNs: b.time(i), what: what,
                                             expected: expected, observed: observed, state: state))
    }

    func describe(_ k: Int) -> String {
        let a = machine.apics[k]
        return "APIC \(a.id): IRR \(a.irr) ISR \(a.isr) TPR 0x\(String(a.tpr, radix: 16)) PPR 0x\(String(a.ppr, radix: 16))"
    }

    /// APIC register offsets by KVM's symbolic names (kvm_apic's `__print_symbolic`).
    static let registers: [String: UInt32] = [
        "APIC_ID": 0x20, "APIC_LVR": 0x30, "APIC_TASKPRI": 0x80, "APIC_ARBPRI": 0x90, "APIC_PROCPRI": 0xA0,
        "APIC_EOI": 0xB0, "APIC_RRR": 0xC0, "APIC_LDR": 0xD0, "APIC_DFR": 0xE0, "APIC_SPIV": 0xF0,
        "APIC_ISR": 0x100, "APIC_TMR": 0x180, "APIC_IRR": 0x200, "APIC_ESR": 0x280, "APIC_ICR": 0x300, "APIC_ICR2": 0x310,
        "APIC_LVTT": 0x320, "APIC_LVTTHMR": 0x330, "APIC_LVTPC": 0x340, "APIC_LVT0": 0x350, "APIC_LVT1": 0x360,
        "APIC_LVTERR": 0x370, "APIC_TMICT": 0x380, "APIC_TMCCT": 0x390, "APIC_TDCR": 0x3E0, "APIC_SELF_IPI": 0x3F0,
    ]

    /// Register offsets by template (the register name is template text): no string hashing per event.
    var offsetByTemplate: [Int64] = []

    @inline(__always)
    mutating func registerOffset(_ reg: String, template id: UInt32) -> UInt32? {
        let k = Int(id)
        if k < offsetByTemplate.count, offsetByTemplate[k] != -2 { return offsetByTemplate[k] < 0 ? nil : UInt32(offsetByTemplate[k]) }
        let o = Self.offset(reg)
        // Only a name that is fixed in the template may be cached (a hex offset may be a slot).
        if !reg.hasPrefix("0x") {
            while offsetByTemplate.count <= k { offsetByTemplate.append(-2) }
            offsetByTemplate[k] = o.map(Int64.init) ?? -1
        }
        return o
    }

    static func offset(_ reg: String) -> UInt32? {
        if let r = registers[reg] { return r }
        if reg.hasPrefix("0x") { return UInt32(reg.dropFirst(2), radix: 16) }
        return nil
    }

    mutating func write(_ k: Int, _ offset: UInt32, _ value: UInt32, thread: Int32) {
        switch offset {
        case 0x80:
            machine.apics[k].tpr = UInt8(truncatingIfNeeded: value)
            mid.tprKnown.insert(machine.apics[k].id)
            if recordTransitions { transitions.append(Transition(.priorityWritten, event: -1, time: lastTime, cpu: Int32(machine.apics[k].id), value: Int64(value))) }
        case 0xF0: machine.apics[k].writeSPIV(value)
        case 0xD0:
            machine.apics[k].writeLDR(value)
            mid.ldrKnown.insert(machine.apics[k].id)
        case 0xE0: machine.apics[k].writeDFR(value)
        case 0x320...0x370 where offset % 0x10 == 0:
            let id = machine.apics[k].id
            var entries = lvt[id] ?? resetLVT(id)
            entries[Int(offset - 0x320) / 0x10] = value
            lvt[id] = entries
        default: break
        }
    }

    /// LVT entries from reset: all masked, but the BSP's LINT0 is ExtINT, unmasked (kvm_lapic_reset
    /// with KVM_X86_QUIRK_LINT0_REENABLED), the virtual-wire mode that lets the 8259 reach it.
    func resetLVT(_ id: UInt32) -> [UInt32] {
        var e = Array(repeating: UInt32(1 << 16), count: 6)
        if id == 0 && !midFlight { e[3] = 0x700 }
        return e
    }

    /// Whether APIC `id` takes the 8259's output (KVM `kvm_apic_accept_pic_intr`: LVT0 unmasked, in
    /// ExtINT mode; the hardware-disabled case is not modelled); nil when its LVT0 is unknown (mid-flight).
    func acceptsPICInterrupts(_ id: UInt32) -> Bool? {
        guard let e = lvt[id] ?? (midFlight ? nil : resetLVT(id)) else { return nil }
        return e[3] & (1 << 16) == 0 && (e[3] >> 8) & 7 == 7
    }

    /// The LVT entry (register name) a local interrupt of `vector` at APIC `apicID` comes from:
    /// unmasked, fixed delivery, that vector.
    func localSource(apicID: UInt32, vector: UInt8) -> String? {
        guard let entries = lvt[apicID] else { return nil }
        let names = ["LVTT", "LVTTHMR", "LVTPC", "LVT0", "LVT1", "LVTERR"]
        for (k, e) in entries.enumerated() where e & (1 << 16) == 0 && (e >> 8) & 7 == 0 && UInt8(truncatingIfNeeded: e) == vector {
            return names[k]
        }
        return nil
    }

    /// First pass: which thread runs which vCPU (a static fact of the trace), so register writes and
    /// reads are attributed from the start: pvm from the `kvm_eoi` events (delivery-time EOIs run on
    /// the target's thread) and the guest's reads of its APIC ID register, VMX/SVM from
    /// `kvm_entry`/`kvm_exit` "vcpu N".
    /// Per template: where a thread-binding event keeps its vCPU (resolved once per template).
    var learnSources: [FieldSource?] = []
    /// Per template, bits 0–1: 0 binds nothing; 1 the field is the APIC ID; 2 it is an APIC ID
    /// register's value (xAPIC: bits 31:24; x2APIC: the whole ID). Bit 2: an event only a vCPU's
    /// thread makes (``vcpuContextEvents``: its span is noted, ``threadSpans``). Kept apart so the
    /// per-event test copies no enum payload.
    var learnBinds: [UInt8] = []
    /// The thread of the last binding event looked at (bound by then, or never bindable by it).
    var lastLearnt: Int32 = .min

    /// What of each chunk a replay reads: times, the per-event columns, and the slot values of the
    /// events it handles or learns vCPU threads from (a real host trace is mostly other events —
    /// instruction emulation, system calls, scheduling — whose values are then read past, not stored).
    public var decodeScope: DecodeScope {
        let flavour = self.flavour
        return .timesAndValues(of: { t in t.binding != nil && (Self.kind(of: t.name) != nil || Self.bindsThreads(t, flavour: flavour)) })
    }

    /// Whether the first pass learns bindings from events of template `t`: the only templates whose
    /// slot values it needs (``DecodeScope/values(of:)``).
    public static func bindsThreads(_ t: EventTemplate, flavour: Flavour) -> Bool { threadBinding(t, flavour: flavour) != nil }

    /// Where an event of template `t` names its thread's vCPU, and how (``learnBinds``). pvm: `kvm_eoi`'s
    /// APIC ID, and a guest's read of its APIC ID register (`kvm_apic: apic_read APIC_ID`): a vCPU that
    /// takes no interrupt still reads it at bring-up, and binding its thread from the start puts its
    /// first events (the 8259 masked through port 0x21, its LAPIC set up) in the right VM.
    static func threadBinding(_ t: EventTemplate, flavour: Flavour) -> (FieldSource, UInt8)? {
        switch (flavour, t.name) {
        case (.pvm, "kvm_eoi"): return t.binding?.source(role: .apicID).map { ($0, 1) }
        case (.pvm, "kvm_apic"):
            guard let b = t.binding, case .text("read")? = b.source(named: "rw"), case .text("APIC_ID")? = b.source(named: "reg"),
                  let v = b.source(named: "value") else { return nil }
            return (v, 2)
        case (.pvm, _): return nil
        case (_, "kvm_entry"), (_, "kvm_exit"): return t.binding?.source(role: .cpu).map { ($0, 1) }
        default: return nil
        }
    }

    /// KVM tracepoints made only inside KVM_RUN, on the vCPU's thread: a thread that makes them runs a
    /// vCPU even when no event names which (its span places it in a VM, ``VMTracking``). Not the
    /// VM-wide ones a VMM's or kworker's thread also makes (kvm_set_irq, kvm_msi_set_irq,
    /// kvm_ioapic_set_irq, kvm_pic_set_irq, kvm_apic_accept_irq, kvm_update_master_clock).
    static let vcpuContextEvents: Set<String> = [
        "kvm_entry", "kvm_exit", "kvm_pio", "kvm_mmio", "kvm_apic", "kvm_userspace_exit", "kvm_emulate_insn", "kvm_vcpu_wakeup",
        "kvm_fpu", "kvm_msr", "kvm_cpuid", "kvm_hypercall", "kvm_page_fault", "kvm_inj_virq", "kvm_eoi", "kvm_pv_eoi", "kvm_cr",
        "kvm_inj_exception",
    ]

    /// The APIC ID a binding event of kind `how` (``learnBinds``) names, from its field's value.
    @inline(__always)
    static func boundID(_ value: Int64, how: UInt8) -> UInt32? {
        guard value >= 0, value < 1 << 32 else { return nil }
        let v = UInt32(truncatingIfNeeded: value)
        let id = how == 2 && v & 0xFF_FFFF == 0 ? v >> 24 : v
        return id < 1 << 20 ? id : nil
    }

    /// (`spans`: note the threads' spans for ``planVMs()``; the single pass, which plans nothing, does not.)
    public mutating func learnThreads(_ b: EventBatch, catalog: TemplateCatalog, spans: Bool = true) {
        resolveLearnSources(catalog)
        let binds = learnBinds
        let spanMask: UInt8 = spans ? 4 : 0
        binds.withUnsafeBufferPointer { binds in
            b.templates.withUnsafeBufferPointer { templates in
                b.threads.withUnsafeBufferPointer { threads in
                    for i in 0..<b.count {
                        let k = Int(templates[i]), thread = threads[i], flags = binds[k]
                        guard flags != 0 else { continue }
                        if flags & spanMask != 0 { threadSpans.note(thread, b.eventIndex(i)) }
                        guard flags & 3 != 0, thread != lastLearnt, let src = learnSources[k] else { continue }
                        if boundAPIC(thread) != nil { lastLearnt = thread; continue }
                        guard let value = b.number(i, src), let id = Self.boundID(value, how: flags & 3) else { continue }
                        setBinding(thread, id)
                        lastLearnt = thread
                        _ = apic(id)
                    }
                }
            }
        }
    }

    /// Whether ``learnThreads(_:catalog:)`` would bind a thread outside `known` from batch `b`
    /// (binding nothing itself): the check of a replay that learns its bindings as it goes
    /// (``Replayer/kvmX86SinglePass(_:midFlight:)``).
    mutating func learnsThread(_ b: EventBatch, outside known: IntSet<Int32>, catalog: TemplateCatalog) -> Bool {
        resolveLearnSources(catalog)
        let sources = learnSources
        return learnBinds.withUnsafeBufferPointer { binds in
            b.templates.withUnsafeBufferPointer { templates in
                b.threads.withUnsafeBufferPointer { threads in
                    // The last two threads found in `known` (vCPU threads take turns: no lookup for them).
                    var checked: Int32 = .min, checkedBefore: Int32 = .min
                    for i in 0..<b.count {
                        let k = Int(templates[i]), thread = threads[i]
                        guard binds[k] & 3 != 0, thread != checked, thread != checkedBefore, let src = sources[k] else { continue }
                        if known.contains(thread) { checkedBefore = checked; checked = thread; continue }
                        if let value = b.number(i, src), Self.boundID(value, how: binds[k] & 3) != nil { return true }
                    }
                    return false
                }
            }
        }
    }

    /// Every template of the catalog is resolved up front (a batch's are all in it once decoded),
    /// so the per-event loops read plain flags.
    private mutating func resolveLearnSources(_ catalog: TemplateCatalog) {
        while learnBinds.count < catalog.count {
            let t = catalog[UInt32(learnBinds.count)]
            let found = Self.threadBinding(t, flavour: flavour)
            learnSources.append(found?.0)
            learnBinds.append((found?.1 ?? 0) | (Self.vcpuContextEvents.contains(t.name) ? 4 : 0))
        }
    }


    /// Learns that `thread` runs the vCPU of APIC `apicID`; applies its earlier register writes.
    mutating func bind(_ thread: Int32, to apicID: UInt32) {
        setBinding(thread, apicID)
        let k = apic(apicID)
        for (reg, value) in unbound.removeValue(forKey: thread) ?? [] {
            if let o = Self.offset(reg) { write(k, o, value, thread: thread) }
        }
    }

    /// Time of the event being handled (for transitions made below the event's own handler).
    var lastTime: Int64 = 0

    /// (Inlined into the drivers' per-batch loops: a call per event cost ~25 instructions of prologue
    /// and reloaded the batch's columns; callgrind, 1 M events: replay 683 -> 653 M instructions.)
    @inline(__always)
    public mutating func handle(_ b: EventBatch, _ i: Int, catalog: TemplateCatalog) {
        handle(b, i, catalog: catalog, vmStarts: true)
    }

    /// ``handle(_:_:catalog:)``; `vmStarts` false where no VM plan can exist (the single pass, which
    /// gives way to the first pass when two threads share a vCPU): the per-event test then folds away
    /// (~5 instructions an event).
    @inline(__always)
    mutating func handle(_ b: EventBatch, _ i: Int, catalog: TemplateCatalog, vmStarts: Bool) {
        report.events &+= 1   // (an event count: no overflow check per event)
        // (Before the event's time is taken: the VM that ends here ended at its last event.)
        if vmStarts, b.eventIndex(i) >= vms.nextStart { startNextVM(b, i) }
        let id = Int(b.template(i))
        guard let (kind, f) = handlers.resolve(UInt32(id), in: catalog) else { return }
        let thread = b.thread(i)
        lastTime = b.time(i)
        let row = b.row(i)
        let ev = EventAt(i: i, f: f, row: row, thread: thread)
        // Mid-flight: the first interrupt event of a thread may continue a KVM call begun before the trace.
        let firstOnThread = midFlight && mid.threadsSeen.insert(thread).inserted
        // KVM traces the IOAPIC's acks (and re-deliveries) of a level EOI right after its kvm_eoi, on
        // the same thread (kvm_ioapic_update_eoi_one): any other event there means the rest never came.
        if threadsAwaitingAcks > 0, kind != .ack && kind != .accept, let missed = pendingAcks[thread], !missed.isEmpty {
            missingAcks(b, i, thread: thread, pins: missed)
        }
        // pvm: what follows a halt's end on its thread tells whether an interrupt ended it (the
        // delivery-time EOI: kvm_apic then kvm_eoi) or not.
        if !haltEnds.isEmpty, kind != .apic, let h = haltEnds.removeValue(forKey: thread) {
            decideHalt(h, endedByInterrupt: kind == .eoi && n(.vector, b, ev) >= 0 && !guestEOIWrites.contains(thread))
        }
        // A message's acceptances follow it on its thread (kvm_pic_set_irq may come between, an IOAPIC
        // ack and its re-delivery too); any other event there means its KVM call is over.
        if openThreadCount > 0, kind != .accept && kind != .apicvAccept && kind != .picSetIRQ && kind != .ack,
           !(midFlight && kind == .delayedEOI), isOpen(thread) {
            closeSends(at: (b.eventIndex(i), b.time(i)), thread: thread, observed: "no acceptance before this event on the sending thread")
        }

        switch kind {
        case .mmio: onMMIO(b, ev, catalog)
        case .apic: onAPICRegister(b, ev, catalog)
        case .msi: onMSI(b, ev, catalog)
        case .ipi: onIPI(b, ev, catalog)
        case .setIRQ: onSetIRQ(b, ev, catalog)
        case .ioapicSetIRQ: onIOAPICSetIRQ(b, ev, catalog)
        case .accept: onAccept(b, ev, catalog, firstOnThread: firstOnThread)
        case .eoi where flavour.delegatesDeliveryToGuestEOI: onGuestEOI(b, ev, catalog)
        case .inject: onInject(b, ev, catalog)
        case .pvEOI: onPVEOI(b, ev, catalog)
        case .apicvAccept: onAPICvAccept(b, ev, catalog)
        case .exit: onExit(b, ev, catalog)
        case .entry: onEntry(b, ev, catalog)
        case .delayedEOI: onDelayedEOI(b, ev, catalog)
        case .postedIRTE: onPostedIRTE(b, ev, catalog)
        case .pio: onPIO(b, ev, catalog)
        case .picSetIRQ: onPICSetIRQ(b, ev, catalog)
        case .eoi: onDeliveryEOI(b, ev, catalog)
        case .wakeup: onWakeup(b, ev, catalog)
        case .ack: onAck(b, ev, catalog)
        }
    }

    /// VMX/SVM: `kvm_inj_virq` on the vCPU's thread — the LAPIC's highest deliverable vector, acknowledged.
    mutating func inject(_ b: EventBatch, _ i: Int, vector v: UInt8, reinjected: Bool, thread: Int32) {
        if !deferred.isEmpty { flushDeferred(before: b.time(i)) }   // (usually none: no call)
        report.observationsTotal &+= 1
        guard let a = boundAPIC(thread) else { report.unchecked["kvm_inj_virq (vCPU not known)", default: 0] += 1; return }
        let k = apic(a)
        if hardwareDelivered.contains(a) { report.unchecked["kvm_inj_virq (APICv: IRR kept by hardware)", default: 0] += 1; return }
        if reinjected {
            // An injection interrupted by an exit, queued again: already acknowledged.
            report.observationsChecked &+= 1
            if !machine.apics[k].isr.contains(v) {
                diverge(b, i, "reinjected vector in service at APIC \(a)", expected: "vector \(v) in ISR", observed: "not in service", state: describe(k))
            }
            return
        }
        // ExtINT (KVM kvm_cpu_get_interrupt): with the 8259's output high and LINT0 taking it, the
        // vector is the PIC's acknowledge (kvm_pic_read_irq: pic_intack on master and slave, then
        // pic_update_irq), ahead of any LAPIC vector; the LAPIC's IRR and ISR are not touched.
        if picActive, pic.output, acceptsPICInterrupts(a) == true {
            let known = !pic.uncertain && (!midFlight || mid.picKnown == 3)
            let (irq, vector) = pic.acknowledge()
            pic.cascade()
            guard known else { report.unchecked["kvm_inj_virq (ExtINT: 8259 programmed before the trace)", default: 0] += 1; return }
            report.observationsChecked &+= 1
            if vector != Int(v) {
                diverge(b, i, "ExtINT vector injected into the vCPU of APIC \(a) (8259 acknowledge)", expected: "vector \(vector) (irq \(irq))",
                        observed: "vector \(v)", state: "master IRR 0x\(String(pic.master.irr, radix: 16)) IMR 0x\(String(pic.master.imr, radix: 16)) "
                            + "ISR 0x\(String(pic.master.isr, radix: 16)); slave IRR 0x\(String(pic.slave.irr, radix: 16)) IMR 0x\(String(pic.slave.imr, radix: 16))")
            }
            return
        }
        var expected = machine.apics[k].deliverable
        if expected != v, vectorUnknown(a, v) {
            adopt("injection of a vector")
            note(.delivered, b, i, cpu: Int64(a), vector: Int64(v), value: Int64(machine.apics[k].ppr), aux: -1)
            machine.apics[k].irr.remove(v)
            machine.apics[k].isr.insert(v)
            return
        }
        if expected != v && !machine.apics[k].irr.contains(v) {
            if picActive && expected == nil && acceptsPICInterrupts(a) == nil {
                // ExtINT, perhaps: whether LINT0 takes the 8259 is unknown (mid-flight).
                report.unchecked["kvm_inj_virq (ExtINT from the PIC, LVT0 unknown)", default: 0] += 1
                return
            }
            // Not accepted yet as printed: the acceptance may come from another CPU's clock.
            deferred.append((a, v, b.time(i), b.cpu(i), b.eventIndex(i), describe(k)))
            return
        }
        if expected != v, (v & 0xF0) > machine.apics[k].ppr {
            // Higher vectors accepted on another CPU within the skew window may really have come later.
            let higher = machine.apics[k].irr.vectors.filter { $0 > v && ($0 & 0xF0) > machine.apics[k].ppr }
            let late = higher.allSatisfy { h in
                let key = UInt64(a) << 8 | UInt64(h)
                return acceptTimes[key].map { $0.cpu != b.cpu(i) && b.time(i) - $0.time <= Self.reorderWindowNs } == true
            }
            if late { expected = v; report.reordered += 1 }
        }
        report.observationsChecked &+= 1
        if expected != v {
            diverge(b, i, "vector injected into the vCPU of APIC \(a)", expected: expected.map { "vector \($0)" } ?? "none deliverable",
                    observed: "vector \(v)", state: describe(k))
        }
        // (PPR is computed for the transition only: not on every injection of a plain --check.)
        if recordTransitions {
            note(.delivered, b, i, cpu: Int64(a), vector: Int64(v), value: Int64(machine.apics[k].ppr), aux: expected.map(Int64.init) ?? -1)
        }
        if recordTransitions, haltedAPICs.remove(a) { note(.woke, b, i, cpu: Int64(a)) }
        machine.apics[k].irr.remove(v)
        machine.apics[k].isr.insert(v)
    }

    /// Injections whose acceptance never came within the window are divergences.
    mutating func flushDeferred(before time: Int64) {
        while let d = deferred.first, time - d.time > Self.reorderWindowNs {
            deferred.removeFirst()
            report.observationsChecked &+= 1
            report.add(Divergence(eventIndex: d.eventIndex, timeNs: d.time, what: "vector injected into the vCPU of APIC \(d.apicID)",
                                                 expected: "a vector accepted and deliverable", observed: "vector \(d.vector) (never accepted)",
                                                 state: d.state))
        }
    }

    /// VMX/SVM: `kvm_eoi` of the guest's EOI write (`apic_set_eoi`): the highest vector in service.
    mutating func guestEOI(_ b: EventBatch, _ i: Int, k: Int, apicID: UInt32, vector: Int64, thread: Int32) {
        lastEOI[thread] = vector
        note(.eoi, b, i, cpu: Int64(apicID), vector: vector)
        report.observationsTotal &+= 1
        if hardwareDelivered.contains(apicID) {
            // APICv: KVM sees EOIs of level vectors only (EOI-induced exits); the ISR is the hardware's.
            report.unchecked["kvm_eoi (APICv: ISR kept by hardware)", default: 0] += 1
            if vector >= 0 { ioapicEOI(b, i, UInt8(truncatingIfNeeded: vector), thread: thread, level: true) }
            return
        }
        report.observationsChecked &+= 1
        let expected = machine.apics[k].isr.highest
        guard vector >= 0 else {
            if let v = expected { diverge(b, i, "EOI with an empty ISR", expected: "vector \(v) retired", observed: "vector -1", state: describe(k)) }
            return
        }
        let v = UInt8(truncatingIfNeeded: vector)
        if expected != v, vectorUnknown(apicID, v) || expected.map({ vectorUnknown(apicID, $0) }) == true {
            adopt("EOI"); report.observationsChecked -= 1
            machine.apics[k].isr.remove(v)
            if machine.apics[k].tmr.contains(v) && !machine.apics[k].directedEOI { ioapicEOI(b, i, v, thread: thread, level: true) }
            else { adoptLevelEOI(b, i, k: k, vector: v, thread: thread) }
            return
        }
        if expected != v {
            diverge(b, i, "EOI at APIC \(apicID)", expected: expected.map { "vector \($0) (highest in service)" } ?? "vector -1 (none in service)",
                    observed: "vector \(v)", state: describe(k))
        }
        machine.apics[k].isr.remove(v)
        if machine.apics[k].tmr.contains(v) && !machine.apics[k].directedEOI { ioapicEOI(b, i, v, thread: thread, level: true) }
    }

    /// The IOAPIC's side of a level EOI: Remote IRR cleared (its ack must follow), a line still high re-delivered.
    mutating func ioapicEOI(_ b: EventBatch, _ i: Int, _ v: UInt8, thread: Int32, level: Bool) {
        for e in machine.ioapic.endOfInterrupt(vector: v, level: level) {
            switch e {
            case .remoteIRRCleared(let pin):
                if pendingAcks[thread]?.isEmpty ?? true { threadsAwaitingAcks += 1 }
                pendingAcks[thread, default: []].append(pin)
                note(.remoteIRRCleared, b, i, vector: Int64(v), irq: Int64(pin))
            case .redelivered(let d):
                send(X86Machine.Message(d.entry), b, i, thread: thread, from: .ioapic, pin: d.pin)
                note(.redelivered, b, i, vector: Int64(d.entry.vector), irq: Int64(d.pin), aux: Int64(machine.ioapic.successiveEOIs[d.pin]))
                note(.remoteIRRSet, b, i, vector: Int64(d.entry.vector), irq: Int64(d.pin))
            case .delayedRedelivery(let pin):
                delayedPins.append(pin)
                note(.redelivered, b, i, vector: Int64(v), irq: Int64(pin), aux: Int64(IOAPIC.successiveEOILimit))
            }
        }
    }

    /// The acks a level EOI owed to `pins` never came: the system left their Remote IRR set, and so do
    /// the models from here on (one divergence; later assertions of those pins are then coalesced, as
    /// they were in the real system).
    mutating func missingAcks(_ b: EventBatch, _ i: Int, thread: Int32, pins: [Int]) {
        diverge(b, i, "IOAPIC ack after a level EOI", expected: "kvm_ack_irq for pin \(pins)", observed: "none before this event on the EOI's thread")
        pendingAcks[thread] = []
        threadsAwaitingAcks -= 1
        for pin in pins {
            machine.ioapic.entries[pin].remoteIRR = true
            // A re-delivery the models made for that pin did not happen either.
            let vector = machine.ioapic.entries[pin].vector
            if let t = messageThreads.slot(of: thread) {
                messageThreads[slot: t].pending.removeAll { $0.vector == vector && $0.levelTriggered }
            }
            closeIfDone(thread)
            note(.ackMissing, b, i, cpu: binding[thread].map(Int64.init) ?? -1, vector: Int64(vector), irq: Int64(pin))
        }
    }

    public mutating func finish() -> ReplayReport {
        settleVM(unaccepted: "no acceptance by the end of the trace", ackMissing: "end of trace")
        tally.merge(into: &report.unchecked)
        tally = UncheckedTally()
        var d = StateDigest()
        for a in machine.apics {
            d.combine(Int(a.id))
            for r in 0..<8 { d.combine(UInt64(a.irr.register(r)) << 32 | UInt64(a.isr.register(r))) }
            d.combine(Int(a.tpr))
        }
        for e in machine.ioapic.entries { d.combine(e.bits) }
        report.digest = d.value
        vmSummary(into: &report)
        return report
    }
}
