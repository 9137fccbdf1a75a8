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
    /// (APIC ID << 8 | vector) → when it was set in IRR (not re-set by coalesced acceptances).
    var pendingSince: [UInt64: Mark] = [:]
    /// (APIC ID << 8 | vector) → when it was delivered (IRR → ISR).
    var inService: [UInt64: Mark] = [:]
    var halted: [Int32: Mark] = [:]
    /// The first interrupt a halted vCPU could take, accepted while it was halted.
    var missedWake: [Int32: (mark: Mark, vector: Int16)] = [:]

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
    }
    var pins = [PinState](repeating: PinState(), count: IOAPIC.pinCount)
    /// The vCPU of the last EOI (re-deliveries happen inside its EOI).
    var lastEOICPU: Int32 = -1
    var lastTime: Int64 = 0

    init(options: Options = Options()) { self.options = options }

    @inline(__always) static func key(_ cpu: Int32, _ vector: Int16) -> UInt64 { UInt64(UInt32(bitPattern: cpu)) << 8 | UInt64(UInt8(truncatingIfNeeded: vector)) }

    static func hex(_ v: Int64) -> String { "0x" + String(v, radix: 16) }

    mutating func consume(_ t: Transition) {
        lastTime = t.timeNs
        let mark = Mark(time: t.timeNs, event: t.eventIndex)
        switch t.kind {
        case .accepted:
            let k = Self.key(t.cpu, t.vector)
            if pendingSince[k] == nil { pendingSince[k] = mark }
            if halted[t.cpu] != nil, t.value == 1, missedWake[t.cpu] == nil { missedWake[t.cpu] = (mark, t.vector) }
            if t.aux == 1 {
                // A level vector: the delivery of a pin whose Remote IRR was just set.
                for p in pins.indices where pins[p].awaitingCPU && pins[p].remoteVector == t.vector {
                    pins[p].remoteCPU = t.cpu
                    pins[p].awaitingCPU = false
                }
            }
        case .delivered:
            let k = Self.key(t.cpu, t.vector)
            pendingSince[k] = nil
            inService[k] = mark
            missedWake[t.cpu] = nil
            halted[t.cpu] = nil
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
            lastEOICPU = t.cpu
            if t.vector >= 0 { inService[Self.key(t.cpu, t.vector)] = nil }
        case .halted:
            halted[t.cpu] = mark
        case .woke:
            halted[t.cpu] = nil
            if let m = missedWake.removeValue(forKey: t.cpu), t.timeNs - m.mark.time > options.wakeWindowNs {
                findings.append(Finding(.haltedWithPending, .warning, time: m.mark.time, cpu: Int(t.cpu), vector: Int(m.vector), events: [m.mark.event, t.eventIndex],
                                        "vCPU \(t.cpu) stayed halted \(ms(t.timeNs - m.mark.time)) after vector \(m.vector) arrived that it could take (a late wakeup)"))
            }
        case .haltedWithPending:
            findings.append(Finding(.haltedWithPending, .error, time: t.value, cpu: Int(t.cpu), vector: Int(t.vector), events: [t.eventIndex],
                                    "vCPU \(t.cpu) blocked in HLT while vector \(t.vector) was pending and deliverable: the hypervisor delivers pending interrupts at HLT, so the wakeup was lost"))
        case .dropped:
            let dest = Int(t.cpu), v = Int(t.vector)
            switch Transition.DropReason(rawValue: t.aux) {
            case .illegalVector:
                findings.append(Finding(.misroutedVector, .error, time: t.timeNs, cpu: dest, vector: v, events: [t.eventIndex],
                                        "an interrupt message with vector \(v) (0–15 are illegal for fixed delivery) was sent to APIC \(dest) and dropped: its route was not programmed (e.g. a GSI → MSI route lost)"))
            case .noSuchDestination:
                findings.append(Finding(.misroutedVector, .error, time: t.timeNs, dest: dest, vector: v, events: [t.eventIndex],
                                        "an interrupt message for vector \(v) was sent to APIC ID \(dest), which no vCPU has: nobody accepted it"))
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
            }
            pins[p].stormCount += 1
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
                findings[f].explanation += "; the line went low after \(pins[p].stormCount) re-deliveries"
            }
            pins[p].stormCount = 0
            pins[p].stormStart = nil
            pins[p].stormFinding = nil
        case .raised, .coalesced, .routeWritten, .priorityWritten:
            break
        }
    }

    /// End-of-trace checks on the models' final state.
    mutating func finish(machine: X86Machine, endTime: Int64) {
        var primaryOfCPU: [Int32: [(index: Int, blocksClassUpTo: Int?, vector: Int16)]] = [:]
        // Halted vCPUs that an interrupt they could take never woke.
        for (cpu, m) in missedWake.sorted(by: { $0.key < $1.key }) where halted[cpu] != nil && endTime - m.mark.time > options.wakeWindowNs {
            primaryOfCPU[cpu, default: []].append((findings.count, nil, m.vector))
            findings.append(Finding(.haltedWithPending, .error, time: m.mark.time, cpu: Int(cpu), vector: Int(m.vector),
                                    events: [halted[cpu]!.event, m.mark.event],
                                    "vCPU \(cpu) halted, then vector \(m.vector) arrived that it could take (above its PPR), and it was never woken (no wakeup or entry by the end of the trace, \(ms(endTime - m.mark.time)) later)"))
        }
        let apicOf = Dictionary(machine.apics.enumerated().map { (Int32($1.id), $0) }, uniquingKeysWith: { a, _ in a })
        // Vectors left in service.
        for (k, m) in inService.sorted(by: { $0.key < $1.key }) where endTime - m.time > options.stuckWindowNs {
            let cpu = Int32(truncatingIfNeeded: k >> 8), v = UInt8(truncatingIfNeeded: k)
            guard let a = apicOf[cpu].map({ machine.apics[$0] }), a.isr.contains(v) else { continue }
            let blocked = a.irr.vectors.filter { $0 & 0xF0 <= v & 0xF0 }
            primaryOfCPU[cpu, default: []].append((findings.count, Int(v >> 4), Int16(v)))
            findings.append(Finding(.stuckInService, .error, time: m.time, cpu: Int(cpu), vector: Int(v), events: [m.event],
                                    "vector \(v) was delivered to vCPU \(cpu) and never EOI'd: it stays in ISR, holding the processor priority at class \(v >> 4)"
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
            findings[f].explanation += "; still asserted at the end of the trace (\(pins[p].stormCount) re-deliveries)"
            primaryOfCPU[pins[p].stormCPU, default: []].append((f, nil, pins[p].stormVector))
        }
        // Vectors pending since long before the end: lost, or the consequence of a finding on their vCPU.
        for (k, m) in pendingSince.sorted(by: { $0.key < $1.key }) where endTime - m.time > options.lostWindowNs {
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
    }
}

func ms(_ ns: Int64) -> String {
    let us = ns / 1000
    return us >= 1000 ? "\(us / 1000).\(String(us % 1000 / 100)) ms" : "\(us) µs"
}
