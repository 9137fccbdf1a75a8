import Replayer
import TraceFormat

/// The detectors for x86 (LAPIC, IOAPIC): they read the replay's transitions as they happen and the
/// models' state at the end, never raw events (docs/ANALYZERS.md gives each rule and its source).
struct X86Detectors {
    struct Options {
        /// A vector pending this long at the end of the trace, deliverable, was lost.
        var lostWindowNs: Int64 = 10_000_000
        /// A vector in service (or a Remote IRR set) this long at the end of the trace is stuck.
        var stuckWindowNs: Int64 = 10_000_000
        /// A halted vCPU not woken this long after an interrupt it could take arrived.
        var wakeWindowNs: Int64 = 1_000_000
        /// Successive re-deliveries of a level line (EOI → still asserted → delivered again) that make a storm.
        var stormThreshold = 100
    }

    let options: Options
    var findings: [Finding] = []

    struct Mark { var time: Int64; var event: Int }
    /// Per (APIC ID, vector), one record (a transition reads and writes several of its fields for one
    /// look-up): when it was set in IRR (not re-set by coalesced acceptances), when it was delivered
    /// (IRR → ISR) and when that delivery had been accepted.
    struct VectorState {
        var pendingSince: Mark?
        var inService: Mark?
        var inServiceAccepted: Mark?
    }
    var vectors = DenseKeyTable<VectorState>.perCPUVector()
    /// The first interrupt a halted vCPU could take, accepted while it was halted; `stranded`: posted
    /// (APICv) so that KVM's kick could only be skipped for a vector already in PIR with ON clear
    /// (``PostedInterruptTracking/strandedBit``).
    struct MissedWake { var mark: Mark; var vector: Int16; var stranded: Bool; var routeSinceHalt: Bool }
    /// Per vCPU (APIC ID), one record: since when it is halted, its missed wakeup, its last halt
    /// finding (pvm: never woken / masked by TPR, until it takes an interrupt — the vectors it leaves
    /// pending at the end are its consequences), and its TPR as written.
    struct CPUState {
        var halted: Mark?
        var missedWake: MissedWake?
        var haltPrimary: Int?
        var tpr: Int64?
    }
    var cpus = DenseKeyTable<CPUState>.perCPU()

    struct PinState {
        var remoteSince: Mark?
        /// The vector whose delivery set Remote IRR, and the vCPU that took it.
        var remoteVector: Int16 = -1
        var remoteCPU: Int32 = -1
        var awaitingCPU = false
        var stormStart: Mark?
        var stormCPU: Int32 = -1
        var stormVector: Int16 = -1
        var stormCount = 0
        var stormFinding: Int?
        /// Re-deliveries KVM's storm mitigation delayed (`kvm_ioapic_delayed_eoi_inj`) in this storm.
        var stormDelays = 0
        /// vCPUs the storm's re-deliveries reached.
        var stormCPUs = Set<Int32>()
    }
    var pins = [PinState](repeating: PinState(), count: IOAPIC.pinCount)
    /// Acceptances merged with the same vector pending (coalesced), per (APIC ID << 8 | vector), until
    /// that vector's delivery confirms them (one printed within the cross-CPU clock skew before the
    /// delivery may really have come after it: not reported).
    /// (The first merge of a key in a map of plain values, any later ones in order in `mergedMore`: a
    /// list per key allocated and freed an array per merge, ~20 instructions an event of `analyze`.)
    var merged = IntMap<UInt64, Merge>()
    var mergedMore = IntMap<UInt64, [Merge]>()
    struct Merge { var mark: Mark; var source: Int64; var pin: Int64; var deliverable: Bool; var cpu: Int32; var vector: Int16; var deliveredAt: Mark? }
    /// Merges confirmed, judged at the end (whether another finding explains them): one by one those
    /// that may be warnings (rare), counted per vCPU, vector and source those that are info (an MSI, a
    /// masked vector: frequent in busy traces).
    var merges: [Merge] = []
    struct MergeGroup: Hashable { var cpu: Int32; var vector: Int16; var source: Int64; var pin: Int64; var deliverable: Bool }
    var mergeGroups: [MergeGroup: (first: Merge, count: Int)] = [:]
    /// The vCPUs each storm finding's re-deliveries reached.
    var stormCPUsByFinding: [Int: Set<Int32>] = [:]
    /// Deliveries are EOI'd by the hypervisor at once (kvm_pvm: the `.eoi` comes with the `.delivered`,
    /// same event): a vector left in service is then a delivery that faulted in the guest.
    var eoiAtDelivery = false
    var lastDelivered: (event: Int, cpu: Int32, vector: Int16) = (-1, -1, -1)
    /// The vCPU of the last EOI (re-deliveries happen inside its EOI).
    var lastEOICPU: Int32 = -1
    var lastTime: Int64 = 0
    /// Findings before this index are earlier VMs' (``endVM(_:)``): none explains a later VM's.
    var vmFirstFinding = 0
    /// The final state of each VM that ended within the transitions being consumed
    /// (``Replayer/TransitionBuffer/vmEnds``: set by the consumer before each buffer).
    var vmEnds: [TransitionBuffer.VMEnd] = []

    init(options: Options = Options()) { self.options = options }

    /// Another VM began (VMs one after another in one trace): the ended one gets the end-of-trace
    /// checks on its final state, and the next starts with nothing pending, in service or halted.
    @inline(never)
    mutating func endVM(_ t: Transition) {
        let end = vmEnds[Int(t.value)]
        finish(machine: end.machine, endTime: end.endTime)
        var next = X86Detectors(options: options)
        next.findings = findings
        next.stormCPUsByFinding = stormCPUsByFinding
        next.eoiAtDelivery = eoiAtDelivery
        next.vmFirstFinding = findings.count
        next.vmEnds = vmEnds
        next.lastTime = lastTime
        self = next
    }

    @inline(__always) static func key(_ cpu: Int32, _ vector: Int16) -> UInt64 { DenseKeyTable<Mark>.cpuVector(cpu, vector) }
    @inline(__always) static func cpu(_ cpu: Int32) -> UInt64 { DenseKeyTable<Mark>.cpu(cpu) }

    static func hex(_ v: Int64) -> String { "0x" + String(v, radix: 16) }

    @inline(__always)
    mutating func consume(_ t: Transition) {
        lastTime = t.timeNs
        let mark = Mark(time: t.timeNs, event: t.eventIndex)
        switch t.kind {
        case .accepted:
            vectors.update(Self.key(t.cpu, t.vector), empty: VectorState()) { if $0.pendingSince == nil { $0.pendingSince = mark } }
            if t.value == 1 {
                cpus.update(Self.cpu(t.cpu), empty: CPUState()) { c in
                    guard c.halted != nil, c.missedWake == nil else { return }
                    c.missedWake = MissedWake(mark: mark, vector: t.vector, stranded: t.aux & PostedInterruptTracking.strandedBit != 0,
                                              routeSinceHalt: t.aux & PostedInterruptTracking.routeSinceHaltBit != 0)
                }
            }
            if t.aux & 1 == 1 {
                for p in pins.indices where pins[p].stormCount > 0 && pins[p].stormVector == t.vector { pins[p].stormCPUs.insert(t.cpu) }
                // A level vector: the delivery of a pin whose Remote IRR was just set.
                for p in pins.indices where pins[p].awaitingCPU && pins[p].remoteVector == t.vector {
                    pins[p].remoteCPU = t.cpu
                    pins[p].awaitingCPU = false
                }
            }
        case .delivered:
            let k = Self.key(t.cpu, t.vector)
            if !merged.isEmpty, let first = merged.removeValue(forKey: k) {
                confirmMerge(first, deliveredAt: mark)
                if !mergedMore.isEmpty, let more = mergedMore.removeValue(forKey: k) {
                    for m in more { confirmMerge(m, deliveredAt: mark) }
                }
            }
            lastDelivered = (t.eventIndex, t.cpu, t.vector)
            vectors.update(k, empty: VectorState()) { v in
                v.inServiceAccepted = v.pendingSince
                v.pendingSince = nil
                v.inService = mark
            }
            cpus.update(Self.cpu(t.cpu), empty: CPUState()) { c in
                c.haltPrimary = nil
                c.missedWake = nil
                c.halted = nil
            }
            if t.aux != Int64(t.vector) {
                let ppr = t.value, v = Int64(t.vector)
                if v & 0xF0 <= ppr & 0xF0 {
                    findings.append(Finding(.priorityInversion, .error, time: t.timeNs, cpu: Int(t.cpu), vector: Int(t.vector), events: [t.eventIndex],
                                            "vector \(v) (class \(v >> 4)) was injected while the vCPU's processor priority was \(Self.hex(ppr)) (class \(ppr >> 4)): a vector must be above PPR to be delivered, so the TPR (or the in-service priority) was not honoured"))
                } else if t.aux > v {
                    findings.append(Finding(.priorityInversion, .error, time: t.timeNs, cpu: Int(t.cpu), vector: Int(t.vector), events: [t.eventIndex],
                                            "vector \(v) was injected while the higher vector \(t.aux) was pending and deliverable: the LAPIC delivers the highest IRR vector first"))
                }
            }
        case .eoi:
            if t.vector >= 0 && lastDelivered == (t.eventIndex, t.cpu, t.vector) { eoiAtDelivery = true }
            lastEOICPU = t.cpu
            if t.vector >= 0 { vectors.update(Self.key(t.cpu, t.vector), empty: VectorState()) { $0.inService = nil } }
        case .halted:
            cpus.update(Self.cpu(t.cpu), empty: CPUState()) { $0.halted = mark }
        case .woke:
            let missed = cpus.update(Self.cpu(t.cpu), empty: CPUState()) { c -> MissedWake? in
                c.halted = nil
                defer { c.missedWake = nil }
                return c.missedWake
            }
            if let m = missed, t.timeNs - m.mark.time > options.wakeWindowNs {
                findings.append(Finding(.haltedWithPending, .warning, time: m.mark.time, cpu: Int(t.cpu), vector: Int(m.vector), events: [m.mark.event, t.eventIndex],
                                        "vCPU \(t.cpu) stayed halted \(ms(t.timeNs - m.mark.time)) after vector \(m.vector) arrived that it could take (a late wakeup)"))
            }
        case .haltedWithPending:
            let evidence = KVMX86Adapter.HaltEvidence(rawValue: t.aux) ?? .pendingAtHalt
            guard evidence != .pendingAtHalt else {
                findings.append(Finding(.haltedWithPending, .error, time: t.value, cpu: Int(t.cpu), vector: Int(t.vector), events: [t.eventIndex],
                                        "vCPU \(t.cpu) blocked in HLT while vector \(t.vector) was pending and deliverable: the hypervisor delivers pending interrupts at HLT, so the wakeup was lost"))
                return
            }
            // pvm: a halt seen when it ended (kvm_vcpu_wakeup: blocked at t.value, ended at t.timeNs).
            let accepted = vectors[Self.key(t.cpu, t.vector)]?.pendingSince
            let since = max(accepted?.time ?? t.value, t.value)
            let waited = t.timeNs - since
            guard waited > options.wakeWindowNs else { return }
            let events = [t.eventIndex] + (accepted.map { [$0.event] } ?? [])
            let halt = "vCPU \(t.cpu) was blocked in HLT for \(ms(t.timeNs - t.value)) (kvm_vcpu_wakeup)"
            switch evidence {
            case .wokenByInterrupt:
                findings.append(Finding(.haltedWithPending, .warning, time: since, cpu: Int(t.cpu), vector: Int(t.vector), events: events,
                                        "\(halt); vector \(t.vector) arrived that it could take, and it woke \(ms(waited)) later (a late wakeup)"))
            case .notWoken:
                cpus.update(Self.cpu(t.cpu), empty: CPUState()) { $0.haltPrimary = findings.count }
                findings.append(Finding(.haltedWithPending, .error, time: since, cpu: Int(t.cpu), vector: Int(t.vector), events: events,
                                        "\(halt); vector \(t.vector) arrived \(ms(since - t.value)) into the halt, deliverable by its LAPIC (above PPR), and did not wake it: the halt ended \(ms(waited)) later without an interrupt (the thread left KVM_RUN: a signal or NMI, not the vector). The guest halted with interrupts disabled (cli; hlt: only NMI, INIT or SMI wake it), or the wakeup was lost"))
            case .maskedByTPR:
                let tprNow = cpus[Self.cpu(t.cpu)]?.tpr ?? 0
                cpus.update(Self.cpu(t.cpu), empty: CPUState()) { $0.haltPrimary = findings.count }
                findings.append(Finding(.haltedWithPending, .error, time: since, cpu: Int(t.cpu), vector: Int(t.vector), events: events,
                                        "\(halt) with TPR \(Self.hex(tprNow)) while vector \(t.vector) was pending, at or below the TPR's class \(tprNow >> 4): the TPR masks it, so it cannot wake the vCPU\(tprNow >= 0xF0 ? " (TPR 0xf0 masks every vector: only NMI, INIT or SMI wake it)" : ""); the halt ended \(ms(waited)) later without an interrupt"))
            case .pendingAtHalt:
                break
            }
        case .dropped:
            let dest = Int(t.cpu), v = Int(t.vector)
            switch Transition.DropReason(rawValue: t.aux) {
            case .illegalVector:
                findings.append(Finding(.misroutedVector, .error, time: t.timeNs, cpu: dest, vector: v, events: [t.eventIndex],
                                        "an interrupt message with vector \(v) (0–15 are illegal for fixed delivery) was sent to APIC \(dest) and dropped: its route was not programmed (e.g. a GSI → MSI route lost)"))
            case .noSuchDestination:
                // (`value`: the IOAPIC pin the message came from, -1 for an MSI or IPI.)
                let pin: Int? = t.value >= 0 && t.value < Int64(IOAPIC.pinCount) ? Int(t.value) : nil
                findings.append(Finding(.misroutedVector, .error, time: t.timeNs, dest: dest, vector: v, irq: pin, events: [t.eventIndex],
                                        "an interrupt message for vector \(v)\(pin.map { " from IOAPIC pin \($0)" } ?? "") was sent to APIC ID \(dest), which no vCPU has: nobody accepted it"))
            default:
                findings.append(Finding(.lostInterrupt, .error, time: t.timeNs, cpu: dest, vector: v, events: [t.eventIndex],
                                        "an interrupt message for vector \(v) to APIC \(dest) was sent (kvm_msi_set_irq / kvm_apic_ipi / IOAPIC) but no LAPIC accepted it"))
            }
        case .maskedEdge:
            let everUnmasked = t.aux == 1
            findings.append(Finding(.lostInterrupt, everUnmasked ? .error : .info, time: t.timeNs, cpu: t.cpu >= 0 ? Int(t.cpu) : nil,
                                    vector: Int(t.vector), irq: Int(t.irq), events: [t.eventIndex],
                                    everUnmasked
                                        ? "an edge arrived on IOAPIC pin \(t.irq) while the guest had it masked: the IOAPIC drops masked edges, and the unmask does not replay it"
                                        : "an edge arrived on IOAPIC pin \(t.irq) before the guest first unmasked it (boot-time; dropped)"))
        case .remoteIRRSet:
            let p = Int(t.irq)
            guard p >= 0 && p < pins.count else { return }
            pins[p].remoteSince = mark
            pins[p].remoteVector = t.vector
            pins[p].awaitingCPU = true
        case .remoteIRRCleared:
            let p = Int(t.irq)
            guard p >= 0 && p < pins.count else { return }
            pins[p].remoteSince = nil
        case .ackMissing:
            let p = Int(t.irq)
            guard p >= 0 && p < pins.count else { return }
            pins[p].remoteSince = mark
            pins[p].remoteVector = t.vector
            pins[p].remoteCPU = t.cpu
            pins[p].awaitingCPU = false
        case .redelivered:
            let p = Int(t.irq)
            guard p >= 0 && p < pins.count else { return }
            if pins[p].stormCount == 0 {
                pins[p].stormStart = mark
                pins[p].stormCPU = lastEOICPU
                pins[p].stormVector = t.vector
                pins[p].stormFinding = nil
                pins[p].stormDelays = 0
                pins[p].stormCPUs = [lastEOICPU]
            }
            pins[p].stormCount += 1
            if t.aux >= Int64(IOAPIC.successiveEOILimit) { pins[p].stormDelays += 1 }
            if pins[p].stormCount == options.stormThreshold, let start = pins[p].stormStart {
                pins[p].stormFinding = findings.count
                findings.append(Finding(.interruptStorm, .warning, time: start.time, cpu: Int(pins[p].stormCPU), vector: Int(t.vector), irq: p,
                                        events: [start.event, t.eventIndex],
                                        "level-triggered IOAPIC pin \(p) (vector \(t.vector)) was re-delivered at \(options.stormThreshold) successive EOIs without its line going low: the guest handler does not clear the device's cause"))
            }
        case .lineLowered:
            let p = Int(t.irq)
            guard p >= 0 && p < pins.count else { return }
            if let f = pins[p].stormFinding {
                stormCPUsByFinding[f] = pins[p].stormCPUs
                findings[f].explanation += "; the line went low after \(pins[p].stormCount) re-deliveries" + stormDelayNote(p)
            }
            pins[p].stormCount = 0
            pins[p].stormStart = nil
            pins[p].stormFinding = nil
        case .coalesced:
            let k = Self.key(t.cpu, t.vector)
            let m = Merge(mark: mark, source: t.aux & 0xFF, pin: t.value, deliverable: t.aux & 0x100 != 0, cpu: t.cpu, vector: t.vector)
            if merged.contains(key: k) { mergedMore[k, default: []].append(m) } else { merged[k] = m }
        case .priorityWritten:
            cpus.update(Self.cpu(t.cpu), empty: CPUState()) { $0.tpr = t.value }
        case .vmStarted:
            endVM(t)
        case .raised, .routeWritten, .deactivated, .misrouted:
            break
        }
    }

    /// End-of-trace checks on the models' final state.
    mutating func finish(machine: X86Machine, endTime: Int64) {
        var primaryOfCPU: [Int32: [(index: Int, blocksClassUpTo: Int?, vector: Int16)]] = [:]
        // pvm: vCPUs whose last halt no interrupt ended.
        let cpuStates = cpus.sortedByCPU()
        for (cpu, c) in cpuStates {
            guard let f = c.haltPrimary else { continue }
            primaryOfCPU[cpu, default: []].append((f, nil, Int16(truncatingIfNeeded: findings[f].vector ?? -1)))
        }
        // Halted vCPUs that an interrupt they could take never woke.
        for (cpu, c) in cpuStates {
            guard let m = c.missedWake, let halt = c.halted, endTime - m.mark.time > options.wakeWindowNs else { continue }
            primaryOfCPU[cpu, default: []].append((findings.count, nil, m.vector))
            if m.stranded {
                findings.append(Finding(.lostInterrupt, .error, time: m.mark.time, cpu: Int(cpu), vector: Int(m.vector),
                                        events: [m.mark.event, halt.event],
                                        "vector \(m.vector) was posted (kvm_apicv_accept_irq) to vCPU \(cpu) while it was blocked in HLT, and KVM never woke it (no kvm_vcpu_wakeup or entry by the end of the trace, \(ms(endTime - m.mark.time)) later). KVM's post kicks a blocked vCPU unless the vector is already in its PIR or ON is already set; ON set would have woken it (KVM kicks when it sets ON, and an IOMMU post can set it only through a posted route, which the vCPU had before it blocked — none was set up since — so it blocked with the wakeup vector). So the vector was in PIR with ON clear: a post made while the vCPU was preempted (SN=1) whose ON KVM did not recompute when clearing SN (Linux c112b5f50232). No sync moves it to the IRR: the interrupt is lost (or the guest halted with IF=0)"))
                continue
            }
            findings.append(Finding(.haltedWithPending, .error, time: m.mark.time, cpu: Int(cpu), vector: Int(m.vector),
                                    events: [halt.event, m.mark.event],
                                    "vCPU \(cpu) halted, then vector \(m.vector) arrived that it could take (above its PPR), and it was never woken (no wakeup or entry by the end of the trace, \(ms(endTime - m.mark.time)) later)"
                                        + (m.routeSinceHalt ? ". It was posted (kvm_apicv_accept_irq) after a VT-d posted route was set up for the vCPU while it was blocked (kvm_pi_irte_update): its descriptor kept the ordinary notification vector, so an IOMMU post could set ON and notify a pCPU not running it, and KVM's post, finding ON set, skipped the kick (real-bugs row 7, Linux a2486020a82e)" : "")))
        }
        let apicOf = Dictionary(machine.apics.enumerated().map { (Int32($1.id), $0) }, uniquingKeysWith: { a, _ in a })
        // Vectors left in service.
        let vectorStates = vectors.sorted()
        for (k, state) in vectorStates {
            guard let m = state.inService, endTime - m.time > options.stuckWindowNs else { continue }
            let cpu = Int32(truncatingIfNeeded: k >> 8), v = UInt8(truncatingIfNeeded: k)
            guard let a = apicOf[cpu].map({ machine.apics[$0] }), a.isr.contains(v) else { continue }
            let blocked = a.irr.vectors.filter { $0 & 0xF0 <= v & 0xF0 }
            primaryOfCPU[cpu, default: []].append((findings.count, Int(v >> 4), Int16(v)))
            let how = eoiAtDelivery
                ? "vector \(v) went from IRR to ISR at vCPU \(cpu) without the hypervisor's delivery-time EOI (on kvm_pvm every delivery is EOI'd at once, so this one faulted in the guest, e.g. no IDT gate for vector \(v); the LAPIC register read at event \(m.event) shows it in service) and no EOI has retired it since"
                : "vector \(v) was delivered to vCPU \(cpu) and never EOI'd"
            findings.append(Finding(.stuckInService, .error, time: m.time, cpu: Int(cpu), vector: Int(v),
                                    events: [m.event] + (state.inServiceAccepted.map { [$0.event] } ?? []),
                                    how + ": it stays in ISR, holding the processor priority at class \(v >> 4)"
                                        + (blocked.isEmpty ? "" : "; it blocks the pending vectors \(blocked.map(String.init).joined(separator: ", "))")))
        }
        // Level pins whose Remote IRR no EOI will clear.
        for p in pins.indices {
            guard let since = pins[p].remoteSince, endTime - since.time > options.stuckWindowNs, machine.ioapic.entries[p].remoteIRR else { continue }
            let v = UInt8(truncatingIfNeeded: pins[p].remoteVector)
            let pendingSomewhere = machine.apics.contains { $0.isr.contains(v) || $0.irr.contains(v) }
            guard !pendingSomewhere else { continue }
            let e = machine.ioapic.entries[p]
            findings.append(Finding(.remoteIRRStuck, .error, time: since.time, cpu: pins[p].remoteCPU >= 0 ? Int(pins[p].remoteCPU) : nil, vector: Int(v), irq: p,
                                    events: [since.event],
                                    "IOAPIC pin \(p) has Remote IRR set since vector \(v) was delivered, and no vCPU has vector \(v) pending or in service, so no EOI will clear it: the pin (now vector \(e.vector)) delivers nothing more"
                                        + (e.vector != v ? " (its RTE was rewritten to vector \(e.vector) while \(v) was in service)" : "")))
        }
        // Storms still going at the end.
        for p in pins.indices {
            guard let f = pins[p].stormFinding else { continue }
            findings[f].severity = .error
            findings[f].explanation += "; still asserted at the end of the trace (\(pins[p].stormCount) re-deliveries)" + stormDelayNote(p)
            primaryOfCPU[pins[p].stormCPU, default: []].append((f, nil, pins[p].stormVector))
        }
        // Vectors pending since long before the end: lost, or the consequence of a finding on their vCPU.
        for (k, state) in vectorStates {
            guard let m = state.pendingSince, endTime - m.time > options.lostWindowNs else { continue }
            let cpu = Int32(truncatingIfNeeded: k >> 8), v = UInt8(truncatingIfNeeded: k)
            guard let a = apicOf[cpu].map({ machine.apics[$0] }), a.irr.contains(v) else { continue }
            let primaries = primaryOfCPU[cpu] ?? []
            if primaries.contains(where: { $0.vector == Int16(v) }) { continue }
            if let cause = primaries.first(where: { $0.blocksClassUpTo.map { Int(v >> 4) <= $0 } ?? true }) {
                findings.append(Finding(.lostInterrupt, .error, time: m.time, cpu: Int(cpu), vector: Int(v), events: [m.event],
                                        "vector \(v) has been pending at vCPU \(cpu) for \(ms(endTime - m.time)) and is never delivered, because of finding \(cause.index)",
                                        causedBy: cause.index))
            } else if (v & 0xF0) > a.ppr {
                findings.append(Finding(.lostInterrupt, .error, time: m.time, cpu: Int(cpu), vector: Int(v), events: [m.event],
                                        "vector \(v) has been pending and deliverable at vCPU \(cpu) for \(ms(endTime - m.time)) (PPR \(Self.hex(Int64(a.ppr)))) and was never delivered"))
            }
        }
        // Interrupts merged with the same vector pending (coalesced), those never delivered included.
        for (k, first) in merged.sorted(by: { $0.key < $1.key }) {
            confirmMerge(first)
            for m in mergedMore[k] ?? [] { confirmMerge(m) }
        }
        merged.removeAll()
        mergedMore.removeAll()
        for p in pins.indices { if let f = pins[p].stormFinding { stormCPUsByFinding[f] = pins[p].stormCPUs } }
        let primaries = (vmFirstFinding..<findings.count).filter { f in
            findings[f].causedBy == nil && findings[f].severity >= .warning && [.haltedWithPending, .stuckInService, .interruptStorm].contains(findings[f].kind)
        }
        // Explained by a fault on that vCPU that began before it (it was not taking interrupts).
        func cause(_ m: Merge) -> Int? {
            primaries.first { f in
                let x = findings[f]
                guard x.timeNs <= m.mark.time else { return false }
                return x.cpu == Int(m.cpu) || (x.kind == .interruptStorm && stormCPUsByFinding[f]?.contains(m.cpu) == true)
            }
        }
        var judged = merges.map { (m: $0, count: 1) } + mergeGroups.values.map { (m: $0.first, count: $0.count) }
        judged.sort { ($0.m.mark.time, $0.m.mark.event) < ($1.m.mark.time, $1.m.mark.event) }
        for j in judged { coalescedFinding(j.m, count: j.count, cause: cause(j.m)) }
        merges = []
        mergeGroups = [:]
    }
}

extension X86Detectors {
    /// A vector sent again while still pending at its vCPU: the LAPIC keeps one IRR bit per vector, so
    /// the two became one interrupt for the guest. A warning for an IPI, an IOAPIC edge or a local (LVT)
    /// interrupt when nothing explains why the vCPU had not taken the first one yet (it was
    /// deliverable); info for an MSI (merging a device's MSIs is by design), when the vector was masked
    /// then (TPR, a vector in service), or when a fault on that vCPU explains it (`caused_by`).
    ///
    /// A merge whose vector was then delivered: confirmed unless the delivery came within the
    /// cross-CPU clock skew of it (printed before it, it may really have come after).
    mutating func confirmMerge(_ m: Merge, deliveredAt mark: Mark) {
        guard mark.time - m.mark.time > KVMX86Adapter.reorderWindowNs else { return }
        var m = m
        m.deliveredAt = mark
        confirmMerge(m)
    }

    /// A merge confirmed (its vector delivered later than the clock skew, or never): kept for the end.
    mutating func confirmMerge(_ m: Merge) {
        if m.source != KVMX86Adapter.MessageSource.msi.rawValue && m.deliverable {
            merges.append(m)
        } else {
            let g = MergeGroup(cpu: m.cpu, vector: m.vector, source: m.source, pin: m.pin, deliverable: m.deliverable)
            if let e = mergeGroups[g] { mergeGroups[g] = (e.first, e.count + 1) } else { mergeGroups[g] = (m, 1) }
        }
    }

    mutating func coalescedFinding(_ m: Merge, count: Int, cause: Int?) {
        let from = KVMX86Adapter.MessageSource(rawValue: m.source) ?? .msi
        let what: String
        switch from {
        case .msi: what = "an MSI"
        case .ipi: what = "an IPI"
        case .ioapic: what = "an edge of IOAPIC pin \(m.pin)"
        case .local: what = "a local interrupt (LVT)"
        }
        var text = "vector \(m.vector) (\(what)) was accepted at vCPU \(m.cpu) while the same vector was already pending in its IRR, and merged with it (coalesced)"
            + (count > 1 ? ", \(count) times: each time the guest takes one interrupt for two sends; the first" : ": the guest takes one interrupt for the two, the pending one")
            + (m.deliveredAt.map { " delivered \(ms($0.time - m.mark.time)) later" } ?? " still pending at the end")
        let severity: Finding.Severity
        if let cause {
            severity = .info
            text += "; a consequence of finding \(cause) (the vCPU was not taking interrupts)"
        } else if from == .msi {
            severity = .info
            text += "; a device's MSIs are edges its driver handles per batch (the handler finds all the device's work), so merging them is by design"
        } else if !m.deliverable {
            severity = .info
            text += "; the vector was masked then (TPR or a vector in service at or above its class), so it waited and merged"
        } else {
            severity = .warning
            text += "; it was deliverable, so the vCPU was not taking interrupts (IF=0, not running): one interrupt lost to a guest that counts them (a timer tick, an IPI per request; a device driver that handles all its work per interrupt loses nothing)"
        }
        findings.append(Finding(.lostInterrupt, severity, time: m.mark.time, cpu: Int(m.cpu), vector: Int(m.vector),
                                irq: from == .ioapic && m.pin >= 0 ? Int(m.pin) : nil,
                                events: [m.mark.event] + (m.deliveredAt.map { [$0.event] } ?? []), text, causedBy: cause))
    }

    func stormDelayNote(_ p: Int) -> String {
        let d = pins[p].stormDelays
        return d == 0 ? "" : "; KVM's storm mitigation delayed the re-delivery \(d) time\(d == 1 ? "" : "s") (kvm_ioapic_delayed_eoi_inj after \(IOAPIC.successiveEOILimit) successive EOIs)"
    }
}

func ms(_ ns: Int64) -> String {
    let us = ns / 1000
    return us >= 1000 ? "\(us / 1000).\(String(us % 1000 / 100)) ms" : "\(us) µs"
}
