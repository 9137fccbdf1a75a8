import Replayer
import TraceFormat

/// The detectors for arm64 GICv2 (QEMU's `gic_*` events): they read the QEMU GIC adapter's
/// transitions as they happen and the GIC model's state at the end, never raw events
/// (docs/ANALYZERS.md, "GICv2"). Findings name the CPU interface (`cpu`) and the interrupt ID
/// (`irq`); GIC interrupts have no vector.
///
/// QEMU's GIC events do not show WFI (the vCPU's halt is not a GIC operation), so there is no
/// `halted_with_pending` rule here; Remote IRR does not exist on the GIC.
struct GICDetectors {
    struct Options {
        /// An interrupt pending this long at the end of the trace, deliverable, was lost.
        var lostWindowNs: Int64 = 10_000_000
        /// An interrupt active this long at the end of the trace is stuck.
        var stuckWindowNs: Int64 = 10_000_000
        /// Successive acknowledges of a level interrupt without its line going low that make a storm.
        var stormThreshold = 100
    }

    let options: Options
    var findings: [Finding] = []

    struct Mark { var time: Int64; var event: Int }
    /// (cpu << 10 | irq) → when it became pending at that CPU (not re-set while it stays pending).
    var pendingSince: [Int: Mark] = [:]
    struct Service {
        var mark: Mark
        /// The running priority the acknowledge set (the interrupt's group priority).
        var priority: Int
        /// The GICC_EOIR priority drop, when it came.
        var dropped: Mark?
    }
    /// (cpu << 10 | irq) → acknowledged and not deactivated yet.
    var inService: [Int: Service] = [:]
    /// (cpu << 10 | irq) → the misrouted_vector finding of an SPI made pending outside its ITARGETSR.
    var misrouted: [Int: Int] = [:]
    /// (cpu << 10 | irq) → time of the loss reported as it happened (a dropped edge, a merged SGI).
    var lostReported: [Int: Int64] = [:]
    /// ((cpu * 16 + sgi) << 3 | source) → the GICD_SGIR write that made the SGI pending from that source.
    var sgiSent: [Int: Mark] = [:]
    struct Storm { var start: Mark; var count: Int; var finding: Int? }
    /// (cpu << 10 | irq) of level interrupts → successive acknowledges without the line going low.
    var storms: [Int: Storm] = [:]
    var spuriousAcks = 0

    init(options: Options = Options()) { self.options = options }

    @inline(__always) static func key(_ cpu: Int32, _ irq: Int32) -> Int { Int(cpu) << 10 | Int(irq & 0x3FF) }
    static func hex(_ v: Int) -> String { "0x" + String(v, radix: 16) }
    static func cpus(_ mask: Int64) -> String {
        let l = (0..<8).filter { mask & (1 << $0) != 0 }
        return l.isEmpty ? "none" : l.map(String.init).joined(separator: ", ")
    }
    static func name(_ irq: Int) -> String { irq < 16 ? "SGI \(irq)" : irq < 32 ? "PPI \(irq)" : "SPI \(irq)" }

    mutating func consume(_ t: Transition) {
        let mark = Mark(time: t.timeNs, event: t.eventIndex)
        let k = Self.key(t.cpu, t.irq)
        switch t.kind {
        case .raised:
            let irq = Int(t.irq)
            // An SPI made pending on a CPU its ITARGETSR does not name (QEMU's gic_set_irq passes the
            // distributor's target mask: arm_gic.c gic_set_irq_generic).
            if irq >= 32 {
                let outside = t.value & ~t.aux & 0xFF
                for c in 0..<8 where outside & (1 << c) != 0 {
                    let mk = c << 10 | irq
                    guard misrouted[mk] == nil else { continue }
                    misrouted[mk] = findings.count
                    findings.append(Finding(.misroutedVector, .error, time: t.timeNs, cpu: c, irq: irq, events: [t.eventIndex],
                                            "\(Self.name(irq)) was made pending on CPU \(c) (gic_set_irq target \(Self.hex(Int(t.value)))), but its ITARGETSR names CPU \(Self.cpus(t.aux)) only: the distributor routed it outside its targets"))
                }
            }
        case .accepted:
            if pendingSince[k] == nil { pendingSince[k] = mark }
            if t.irq < 16 { sgiSent[(Int(t.cpu) * 16 + Int(t.irq)) << 3 | Int(t.value & 7)] = mark }
        case .coalesced:
            break
        case .lineLowered:
            for c in 0..<8 where t.value & (1 << c) != 0 { pendingSince[c << 10 | Int(t.irq)] = nil }
            if t.aux == 1 {
                for c in 0..<8 {
                    let sk = c << 10 | Int(t.irq)
                    guard let s = storms[sk] else { continue }
                    if let f = s.finding { findings[f].explanation += "; the line went low after \(s.count) acknowledges" }
                    storms[sk] = nil
                }
            }
        case .routeWritten:
            // CPUs the SPI no longer targets: it is no longer pending there.
            for c in 0..<8 where t.aux & ~t.value & (1 << c) != 0 { pendingSince[c << 10 | Int(t.irq)] = nil }
        case .delivered:
            delivered(t, mark, k)
        case .eoi:
            inService[k]?.dropped = mark
        case .deactivated:
            inService[k] = nil
        case .dropped:
            let c = Int(t.cpu), irq = Int(t.irq)
            switch Transition.DropReason(rawValue: t.aux) {
            case .merged:
                let lost = (0..<8).filter { t.value & (1 << $0) != 0 }
                let sent = lost.compactMap { sgiSent[(c * 16 + irq) << 3 | $0] }.sorted { $0.event < $1.event }
                let first = sent.first ?? mark
                lostReported[k] = first.time
                findings.append(Finding(.lostInterrupt, .error, time: first.time, cpu: c, irq: irq, events: sent.map(\.event) + [t.eventIndex],
                                        "SGI \(irq) sent to CPU \(c) by CPU \(Self.cpus(t.value)) (GICD_SGIR) while the same SGI from another CPU was pending there was never acknowledged: the GIC merged it (GICv2 keeps one pending state per SGI and source CPU), and its update at event \(t.eventIndex) shows SGI \(irq) no longer pending at CPU \(c)"))
            default:
                lostReported[k] = t.timeNs
                findings.append(Finding(.lostInterrupt, .error, time: t.timeNs, cpu: c, irq: irq, events: [t.eventIndex],
                                        "an edge of \(Self.name(irq)) reached the distributor (gic_set_irq) for CPU \(c), which could take it, but left no pending state: the update after it names no \(Self.name(irq)) for CPU \(c), so this interrupt is never acknowledged (e.g. a hypervisor list register overwritten)"))
            }
        case .priorityWritten, .halted, .woke, .haltedWithPending, .remoteIRRSet, .remoteIRRCleared, .ackMissing, .maskedEdge, .redelivered, .misrouted, .vmStarted:
            break
        }
    }

    mutating func delivered(_ t: Transition, _ mark: Mark, _ k: Int) {
        let c = Int(t.cpu), irq = Int(t.irq)
        guard irq < 1020 else {
            // A spurious IAR read (1023): nothing was taken. Benign on its own (a race with another
            // CPU, a priority change); when the model expected an interrupt the replay diverged.
            spuriousAcks += 1
            return
        }
        pendingSince[k] = nil
        let a = QEMUGICAdapter.Ack(t.value)
        // Acknowledged by a CPU that should not have it.
        if irq >= 32 && a.targets & UInt8(1 << c) == 0 {
            if let f = misrouted[k] {
                findings[f].events.append(t.eventIndex)
                findings[f].explanation += "; CPU \(c) acknowledged it"
                misrouted[k] = nil
            } else {
                findings.append(Finding(.misroutedVector, .error, time: t.timeNs, cpu: c, irq: irq, events: [t.eventIndex],
                                        "CPU \(c) acknowledged \(Self.name(irq)), but its ITARGETSR names CPU \(Self.cpus(Int64(a.targets))) only: it was pending on a CPU outside its targets"))
            }
        } else if irq < 16 && !a.modelPending && !a.modelTook {
            findings.append(Finding(.misroutedVector, .error, time: t.timeNs, cpu: c, irq: irq, events: [t.eventIndex],
                                    "CPU \(c) acknowledged SGI \(irq), but no GICD_SGIR write named CPU \(c) for it since its last acknowledge"))
        }
        // Acknowledged against the priority rules (the model would have given another interrupt).
        if t.aux != t.irq && a.modelPending {
            let p = a.priority
            if p >= a.priorityMask {
                findings.append(Finding(.priorityInversion, .error, time: t.timeNs, cpu: c, irq: irq, events: [t.eventIndex],
                                        "CPU \(c) acknowledged \(Self.name(irq)) (priority \(Self.hex(p))) while its priority mask (GICC_PMR) was \(Self.hex(a.priorityMask)): an interrupt is signalled only when its priority is higher (numerically lower) than the PMR"))
            } else if p >= a.runningBefore {
                findings.append(Finding(.priorityInversion, .error, time: t.timeNs, cpu: c, irq: irq, events: [t.eventIndex],
                                        "CPU \(c) acknowledged \(Self.name(irq)) (priority \(Self.hex(p))) while its running priority was \(Self.hex(a.runningBefore)): an interrupt preempts only with a higher (numerically lower) group priority, so the active one was not honoured"))
            } else if t.aux < 1020 && a.expectedPriority < p {
                findings.append(Finding(.priorityInversion, .error, time: t.timeNs, cpu: c, irq: irq, events: [t.eventIndex],
                                        "CPU \(c) acknowledged \(Self.name(irq)) (priority \(Self.hex(p))) while \(Self.name(Int(t.aux))) (priority \(Self.hex(a.expectedPriority))) was pending and could be taken: the GIC signals the highest-priority pending interrupt"))
            }
        }
        inService[k] = Service(mark: mark, priority: a.runningAfter, dropped: nil)
        // A level interrupt taken again and again while its line stays high.
        if a.levelTriggered {
            var s = storms[k] ?? Storm(start: mark, count: 0, finding: nil)
            s.count += 1
            if s.count == options.stormThreshold {
                s.finding = findings.count
                findings.append(Finding(.interruptStorm, .warning, time: s.start.time, cpu: c, irq: irq, events: [s.start.event, t.eventIndex],
                                        "level-triggered \(Self.name(irq)) was acknowledged by CPU \(c) \(options.stormThreshold) times in a row without its line going low: the handler does not clear the device's cause"))
            }
            storms[k] = s
        }
    }

    /// Pending at `cpu` (latched, or a level line high), enabled, targeted and not active: what the
    /// CPU interface would consider (QEMU gic_update).
    static func waiting(_ g: GICv2, _ irq: Int, _ cpu: Int) -> Bool {
        let m = UInt8(1 << cpu)
        guard g.enabled[irq] & m != 0, g.active[irq] & m == 0, irq < 32 || g.targets[irq] & m != 0 else { return false }
        return g.pending[irq] & m != 0 || (!g.edgeTriggered[irq] && g.level[irq] & m != 0)
    }

    /// End-of-trace checks on the GIC model's final state.
    mutating func finish(gic g: GICv2, endTime: Int64) {
        struct Primary { var index: Int; var blocksFrom: Int?; var irq: Int }
        var primaryOfCPU: [Int: [Primary]] = [:]
        // Interrupts left active: no EOIR (the running priority still holds), or EOIR without DIR.
        for (k, s) in inService.sorted(by: { $0.key < $1.key }) where endTime - s.mark.time > options.stuckWindowNs {
            let c = k >> 10, irq = k & 0x3FF
            guard c < g.cpuCount, irq < g.irqCount, g.active[irq] & UInt8(1 << c) != 0 else { continue }
            let blocksFrom = s.dropped == nil ? s.priority : nil
            var blocked: [Int] = []
            for j in 0..<g.irqCount where j != irq && Self.waiting(g, j, c) && blocksFrom.map({ g.priority(j, cpu: c) >= $0 }) == true { blocked.append(j) }
            let again = g.pending[irq] & UInt8(1 << c) != 0 || (!g.edgeTriggered[irq] && g.level[irq] & UInt8(1 << c) != 0)
            primaryOfCPU[c, default: []].append(Primary(index: findings.count, blocksFrom: blocksFrom, irq: irq))
            var text: String
            if s.dropped == nil {
                text = "\(Self.name(irq)) was acknowledged by CPU \(c) and never written to GICC_EOIR: it stays active and CPU \(c)'s running priority stays at \(Self.hex(s.priority)), so no interrupt of equal or lower priority is signalled to it"
                if !blocked.isEmpty { text += "; it blocks the pending \(blocked.map { Self.name($0) }.joined(separator: ", "))" }
            } else {
                text = "\(Self.name(irq)) was acknowledged by CPU \(c) and its priority dropped (GICC_EOIR with EOImode 1), but it was never deactivated (no GICC_DIR): it stays active, and the GIC does not signal it to CPU \(c) again"
            }
            if again { text += s.dropped == nil ? "; it is pending again itself" : "; it is pending again, blocked" }
            var events = [s.mark.event]
            if let d = s.dropped { events.append(d.event) }
            findings.append(Finding(.stuckInService, .error, time: s.mark.time, cpu: c, irq: irq, events: events, text))
        }
        // Level storms still going at the end.
        for (k, s) in storms.sorted(by: { $0.key < $1.key }) {
            guard let f = s.finding else { continue }
            findings[f].severity = .error
            findings[f].explanation += "; still asserted at the end of the trace (\(s.count) acknowledges)"
            primaryOfCPU[k >> 10, default: []].append(Primary(index: f, blocksFrom: nil, irq: k & 0x3FF))
        }
        // Interrupts pending since long before the end: lost, or the consequence of a finding on their CPU.
        for (k, m) in pendingSince.sorted(by: { $0.key < $1.key }) where endTime - m.time > options.lostWindowNs {
            let c = k >> 10, irq = k & 0x3FF
            guard c < g.cpuCount, irq < g.irqCount, Self.waiting(g, irq, c) else { continue }
            if let at = lostReported[k], at >= m.time { continue }
            let primaries = primaryOfCPU[c] ?? []
            if primaries.contains(where: { $0.irq == irq }) { continue }
            let p = g.priority(irq, cpu: c)
            if let cause = primaries.first(where: { $0.blocksFrom.map { p >= $0 } ?? false }) {
                findings.append(Finding(.lostInterrupt, .error, time: m.time, cpu: c, irq: irq, events: [m.event],
                                        "\(Self.name(irq)) has been pending at CPU \(c) for \(ms(endTime - m.time)) and is never acknowledged, because of finding \(cause.index)",
                                        causedBy: cause.index))
            } else if g.distributorEnabled && g.cpuEnabled[c] && p < g.priorityMask[c] && p < g.runningPriority[c] {
                findings.append(Finding(.lostInterrupt, .error, time: m.time, cpu: c, irq: irq, events: [m.event],
                                        "\(Self.name(irq)) has been pending at CPU \(c) for \(ms(endTime - m.time)) and was never acknowledged, though the CPU could take it (priority \(Self.hex(p)), PMR \(Self.hex(g.priorityMask[c])), running priority \(Self.hex(g.runningPriority[c])))"))
            }
        }
    }
}
