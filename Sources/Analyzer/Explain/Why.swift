import Replayer
import TraceFormat

/// `irqtrace why`: follows one interrupt — a vector at a vCPU, or an IOAPIC pin — through device →
/// route → message → LAPIC → delivery → EOI at a moment of the trace (its end by default), from the
/// replay's transitions and the models' state then, and says where it stopped, with the events that
/// prove each step.
public enum Why {
    public struct Step: Sendable, Equatable {
        /// "vm" (which of several VMs in the trace), "line", "route", "message", "lapic", "delivery", "eoi".
        public var stage: String
        /// True when the interrupt got through this stage (its last occurrence).
        public var ok: Bool
        public var text: String
        public var events: [Int]

        public func json() -> JSONValue {
            .object([("stage", .string(stage)), ("ok", .bool(ok)), ("text", .string(text)), ("events", .array(events.map { .int($0) }))])
        }
    }

    public struct Report: Sendable {
        public var cpu: Int
        public var vector: Int?
        public var irq: Int?
        public var atNs: Int64
        public var steps: [Step] = []
        /// Where it stopped (the first stage not passed), in one sentence.
        public var conclusion = ""

        public func json() -> JSONValue {
            var f: [(String, JSONValue)] = [("cpu", .int(cpu))]
            if let vector { f.append(("vector", .int(vector))) }
            if let irq { f.append(("irq", .int(irq))) }
            f += [("at_ns", .int(atNs)), ("steps", .array(steps.map { $0.json() })), ("conclusion", .string(conclusion))]
            return .object(f)
        }
    }

    struct Mark { var time: Int64; var event: Int }

    /// What the transitions said about the interrupt, the last time each thing happened.
    struct Trail {
        var raised: Mark?, accepted: Mark?, delivered: Mark?, eoi: Mark?, dropped: (Mark, Int64)?
        var coalescedSinceAccept = 0
        var lineRaised: Mark?, lineLowered: Mark?, remoteSet: Mark?, remoteCleared: Mark?, ackMissing: Mark?
        var maskedEdge: Mark?, routeWritten: Mark?, redelivered = 0
        var halted: Mark?, woke: Mark?, priority: (Mark, Int64)?
    }

    public static func explain(_ reader: TraceReader, cpu: Int, vector: Int?, irq: Int?, at: Int64?) throws -> Report {
        var trail = Trail()
        // The vector followed: given, or the pin's RTE vector as the trail goes.
        var followed: Int16? = vector.map { Int16(truncatingIfNeeded: $0) }
        let pin = irq.map(Int32.init)
        let c = Int32(cpu)
        // (VMs one after another in the trace: the answer is about the one running at `at`.)
        var vmStart: (mark: Mark, number: Int64, apic: Int32)?
        let replay = try TransitionReplay.kvmX86(reader, until: at, what: "why") { t in
            let mark = Mark(time: t.timeNs, event: t.eventIndex)
            if t.kind == .vmStarted {
                trail = Trail()
                followed = vector.map { Int16(truncatingIfNeeded: $0) }
                vmStart = (mark, t.aux, t.cpu)
                return
            }
            if let pin, t.irq == pin {
                switch t.kind {
                case .raised: trail.lineRaised = mark
                case .lineLowered: trail.lineLowered = mark
                case .remoteIRRSet: trail.remoteSet = mark; followed = t.vector
                case .remoteIRRCleared: trail.remoteCleared = mark
                case .ackMissing: trail.ackMissing = mark
                case .maskedEdge: trail.maskedEdge = mark
                case .routeWritten: trail.routeWritten = mark; followed = Int16(truncatingIfNeeded: t.value & 0xFF)
                case .redelivered: trail.redelivered += 1
                default: break
                }
                return
            }
            if t.cpu == c {
                switch t.kind {
                case .halted: trail.halted = mark
                case .woke: trail.woke = mark
                case .priorityWritten: trail.priority = (mark, t.value)
                default: break
                }
            }
            guard let v = followed, t.vector == v else { return }
            switch t.kind {
            case .raised where t.cpu == c || pin != nil: trail.raised = mark
            case .dropped where t.cpu == c: trail.dropped = (mark, t.aux)
            case .accepted where t.cpu == c: trail.accepted = mark; trail.coalescedSinceAccept = 0
            case .coalesced where t.cpu == c: trail.coalescedSinceAccept += 1
            case .delivered where t.cpu == c: trail.delivered = mark
            case .eoi where t.cpu == c: trail.eoi = mark
            default: break
            }
        }
        let end = replay.end
        let machine = replay.adapter.machine
        var report = Report(cpu: cpu, vector: followed.map(Int.init), irq: irq, atNs: at ?? end)
        func ev(_ marks: Mark?...) -> [Int] { marks.compactMap { $0?.event } }
        func when(_ mark: Mark) -> String { "at \(seconds(mark.time)) (event \(mark.event))" }
        // (What "never" means: within the trace, or within the VM running at `at`.)
        let scope = vmStart == nil ? "in the trace" : "in this VM"
        if let v = vmStart {
            report.steps.append(Step(stage: "vm", ok: true, text: "the trace holds VMs one after another: this is VM \(v.number + 1), begun \(when(v.mark)), when a new thread took over vCPU \(v.apic); the models restarted from reset there, and what follows is about this VM only",
                                     events: [v.mark.event]))
        }

        // Line and route (IOAPIC pins).
        if let p = irq {
            guard p >= 0 && p < IOAPIC.pinCount else { throw IrqtraceError("--irq \(p): IOAPIC pins are 0–\(IOAPIC.pinCount - 1)") }
            let e = machine.ioapic.entries[p]
            let high = machine.ioapic.irr & (1 << UInt32(p)) != 0
            var line = "line of pin \(p) is \(high ? "asserted" : "low")"
            if let r = trail.lineRaised { line += "; last raised \(when(r))" } else { line += "; never raised \(scope)" }
            if let l = trail.lineLowered { line += ", last lowered \(when(l))" }
            if trail.redelivered > 0 { line += "; re-delivered \(trail.redelivered) times at EOIs while still high" }
            report.steps.append(Step(stage: "line", ok: trail.lineRaised != nil, text: line, events: ev(trail.lineRaised, trail.lineLowered)))
            var route = "RTE \(p): vector \(e.vector), dest \(e.destination) \(e.logical ? "logical" : "physical"), \(e.levelTriggered ? "level" : "edge"), \(e.masked ? "MASKED" : "unmasked")"
            if e.levelTriggered { route += ", Remote IRR \(e.remoteIRR ? "SET" : "clear")" }
            if let s = trail.remoteSet, e.remoteIRR { route += " (set \(when(s)) by the delivery of vector \(followed ?? -1))" }
            if let a = trail.ackMissing, e.remoteIRR { route += "; the EOI \(when(a)) did not reach this pin (no kvm_ack_irq)" }
            if let w = trail.routeWritten { route += "; last written \(when(w))" }
            if let me = trail.maskedEdge { route += "; an edge arrived while masked \(when(me)) and was dropped" }
            let routeOK = !e.masked && !(e.levelTriggered && e.remoteIRR && !machine.apics.contains { $0.isr.contains(UInt8(truncatingIfNeeded: followed ?? -1)) || $0.irr.contains(UInt8(truncatingIfNeeded: followed ?? -1)) })
            report.steps.append(Step(stage: "route", ok: routeOK, text: route, events: ev(trail.routeWritten, trail.remoteSet, trail.ackMissing, trail.maskedEdge)))
        }

        // The message on the APIC bus.
        if let (d, reason) = trail.dropped, trail.accepted.map({ $0.time < d.time }) ?? true {
            let why = Transition.DropReason(rawValue: reason).map { r -> String in
                switch r {
                case .illegalVector: "its vector is 0–15, illegal for fixed delivery"
                case .noSuchDestination: "no vCPU has that APIC ID"
                case .notAccepted: "no LAPIC accepted it"
                case .msixUnmaskNotSent: "its MSI-X vector was unmasked with the pending bit set and the message was not sent"
                case .merged: "it was merged with the same interrupt pending from another source"
                }
            } ?? "no LAPIC accepted it"
            report.steps.append(Step(stage: "message", ok: false, text: "the last message for vector \(followed ?? -1) to APIC \(cpu) \(when(d)) was dropped: \(why)", events: [d.event]))
        } else if let r = trail.raised {
            report.steps.append(Step(stage: "message", ok: true, text: "last sent \(when(r))", events: [r.event]))
        } else if irq == nil {
            report.steps.append(Step(stage: "message", ok: trail.accepted != nil, text: "no message for vector \(followed ?? -1) to APIC \(cpu) \(scope)\(trail.accepted != nil ? " (a local interrupt: LVT)" : "")", events: []))
        }

        // The LAPIC.
        guard let k = machine.apics.firstIndex(where: { $0.id == UInt32(cpu) }) else {
            report.steps.append(Step(stage: "lapic", ok: false, text: "no vCPU with APIC ID \(cpu) in the trace", events: []))
            report.conclusion = "APIC \(cpu) does not exist in this trace"
            return report
        }
        let a = machine.apics[k]
        guard let v16 = followed, v16 >= 0 else {
            report.conclusion = conclusion(report.steps) ?? "no vector known for pin \(irq ?? -1) (its RTE was never programmed)"
            return report
        }
        let v = UInt8(truncatingIfNeeded: v16)
        var lapic = "IRR \(a.irr.contains(v) ? "has" : "does not have") vector \(v), ISR \(a.isr.contains(v) ? "has" : "does not have") it; TPR 0x\(String(a.tpr, radix: 16)), PPR 0x\(String(a.ppr, radix: 16))"
        if let acc = trail.accepted { lapic = "accepted \(when(acc))" + (trail.coalescedSinceAccept > 0 ? ", then \(trail.coalescedSinceAccept) more arrived while it was pending (coalesced)" : "") + "; " + lapic }
        report.steps.append(Step(stage: "lapic", ok: trail.accepted != nil, text: lapic, events: ev(trail.accepted)))

        // Delivery.
        if a.irr.contains(v) {
            var why: String
            var proof = ev(trail.priority?.0, trail.halted)
            if (v & 0xF0) <= a.ppr {
                if let top = a.isr.highest, top & 0xF0 >= v & 0xF0 {
                    why = "blocked: vector \(top) is in service (class \(top >> 4) ≥ \(v >> 4)) and has not been EOI'd"
                        + (top == v ? trail.delivered.map { " (delivered \(when($0)))" } ?? "" : "")
                    proof = top == v ? ev(trail.delivered) : []
                } else {
                    why = "blocked by the TPR 0x\(String(a.tpr, radix: 16)) (class \(a.tpr >> 4) ≥ \(v >> 4))" + (trail.priority.map { " written \(when($0.0))" } ?? "")
                }
            } else if let h = trail.halted, trail.woke.map({ $0.time < h.time }) ?? true {
                why = "deliverable, but the vCPU halted \(when(h)) and was never woken"
            } else if let hi = a.deliverable, hi != v {
                why = "deliverable, but the higher vector \(hi) goes first"
            } else {
                why = "deliverable and waiting for the vCPU's next entry"
            }
            report.steps.append(Step(stage: "delivery", ok: false, text: "pending, not delivered: " + why, events: proof))
        } else if let d = trail.delivered {
            report.steps.append(Step(stage: "delivery", ok: true, text: "delivered (injected) \(when(d))", events: [d.event]))
            if a.isr.contains(v) {
                report.steps.append(Step(stage: "eoi", ok: false, text: "in service since \(when(d)) and not EOI'd: it holds PPR at class \(v >> 4)", events: [d.event]))
            } else if let e = trail.eoi {
                report.steps.append(Step(stage: "eoi", ok: true, text: "EOI'd \(when(e))", events: [e.event]))
            }
        } else {
            report.steps.append(Step(stage: "delivery", ok: false, text: "never delivered to vCPU \(cpu)", events: []))
        }
        report.conclusion = conclusion(report.steps) ?? "vector \(v) went all the way through: delivered and EOI'd"
        return report
    }

    static func conclusion(_ steps: [Step]) -> String? {
        steps.first { !$0.ok }.map { "stopped at the \($0.stage): \($0.text)" }
    }
}
