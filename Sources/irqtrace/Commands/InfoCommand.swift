import ArgumentParser
import Recorder
import TraceFormat

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a trace's header, counts, chunk table and damage report.")

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Flag(name: .long, help: "JSON output (docs/CLI.md).")
    var json = false

    func run() throws {
        let reader = try source.open()
        let m = reader.metadata
        let events = reader.eventCount
        if json {
            let chunks: [JSONValue] = reader.chunks.enumerated().map { k, c in
                .object([
                    ("index", .int(k)), ("offset", .int(c.offset)), ("first_event", .int(c.firstEvent)),
                    ("events", .int(c.eventCount)), ("raw_bytes", .int(c.rawSize)), ("compressed_bytes", .int(c.compressedSize)),
                    ("min_time_ns", .int(c.minTime)), ("max_time_ns", .int(c.maxTime)),
                    ("intact", .bool(c.isIntact)), ("problem", c.problem.map { .string($0) } ?? .null),
                ])
            }
            let v: JSONValue = .object([
                ("file", .string(trace)),
                ("file_bytes", .int(reader.fileSize)),
                ("format_version", .string("\(reader.formatMajor).\(reader.formatMinor)")),
                ("source", .string(m.source.rawValue)),
                ("arch", .string(m.arch.rawValue)),
                ("clock", .string(m.clock.name)),
                ("kvm_flavour", m.kvmFlavour.map { .string($0) } ?? .null),
                ("recorder", .string(m.recorder)),
                ("command_line", .array(m.commandLine.map { .string($0) })),
                ("topology", .object([
                    ("vcpus", m.topology.vcpus.map { .int($0) } ?? .null),
                    ("apic_ids", m.topology.apicIDs.map { .array($0.map { .int($0) }) } ?? .null),
                    ("ioapic_pins", m.topology.ioapicPins.map { .int($0) } ?? .null),
                    ("gic_lines", m.topology.gicLines.map { .int($0) } ?? .null),
                ])),
                ("inputs", .array(m.inputs.map { i in
                    .object([("path", .string(i.path)), ("format", .string(i.format)), ("bytes", .int(i.bytes)),
                             ("lines", .int(i.lines)), ("first_event", .int(i.firstEvent)), ("events", .int(i.events)),
                             ("malformed_lines", .int(i.malformedLines))]
                            + (i.overwrittenEvents.map { [("overwritten_events", JSONValue.int($0))] } ?? []))
                })),
                ("simulation", m.simulation.map { sim in
                    .object([("scenario", .string(sim.scenario)), ("seed", .int(Int(truncatingIfNeeded: sim.seed))),
                             ("output", .string(sim.output)), ("faults", .array(sim.faults.map { .string($0) }))])
                } ?? .null),
                ("ground_truth", m.groundTruth.map { truth in .array(truth.map(groundTruthJSON)) } ?? .null),
                ("live", m.live.map(liveJSON) ?? .null),
                ("events", .int(events)),
                ("templates", .int(reader.catalog.count)),
                ("bytes_per_event", events > 0 ? .double(Double(reader.fileSize) / Double(events)) : .null),
                ("chunks", .array(chunks)),
                ("damaged", .bool(reader.damage.isDamaged)),
                ("lost_events", .int(reader.damage.lostEvents)),
                ("tail_unknown", .bool(reader.damage.tailUnknown)),
                ("problems", .array(reader.damage.problems.map { .string($0) })),
            ])
            Console.out(v.serialized(pretty: true) + "\n")
            return
        }
        var s = ""
        s += "file:      \(trace) (\(reader.fileSize) bytes, format \(reader.formatMajor).\(reader.formatMinor))\n"
        s += "source:    \(m.source.rawValue), arch \(m.arch.rawValue), clock \(m.clock.name)"
        s += (m.kvmFlavour.map { ", kvm \($0)" } ?? "") + "\n"
        s += "recorder:  \(m.recorder)\n"
        if !m.commandLine.isEmpty { s += "command:   \(m.commandLine.joined(separator: " "))\n" }
        if let sim = m.simulation {
            s += "simulated: scenario \(sim.scenario), seed \(sim.seed), output \(sim.output)\(sim.faults.isEmpty ? "" : ", faults " + sim.faults.joined(separator: " "))\n"
            for g in m.groundTruth ?? [] {
                s += "  \(g.causedBy.map { "(consequence of #\($0)) " } ?? "")fault \(g.fault) at \(seconds(g.timeNs)) cpu \(g.cpu)\(g.vector.map { " vector \($0)" } ?? "")\(g.irq.map { " irq \($0)" } ?? ""): expect \(g.expect) — \(g.detail)\n"
            }
        }
        if let l = m.live {
            s += "live:      \(l.method)\(l.instance.map { " instance \($0)" } ?? "")\(l.traceClock.map { ", clock \($0)" } ?? ""), \(l.bufferKB.map { "\($0) KiB/CPU, " } ?? "")"
                + "\(l.hostCPUs.map { "\($0) host CPUs" } ?? "")\(l.kvmModules.map { ", modules " + $0.joined(separator: " ") } ?? "")"
                + "\(l.apicv.map { ", apicv \($0 ? "on" : "off")" } ?? "")\(l.avic.map { ", avic \($0 ? "on" : "off")" } ?? "")\n"
            s += "           kernel \(l.kernelVersion ?? "?")\n"
            if let d = l.durationNs {
                s += "           \(format(Double(d) / 1e9, 3)) s, stopped by \(l.stopReason ?? "?"); lost events \(l.lostEvents ?? 0)"
                    + "\(l.missedMarkers.map { ", missed-event marks \($0)" } ?? "")\(l.ringDroppedEvents.map { ", dropped from the ring \($0)" } ?? "")"
                    + "\(l.midFlight == true ? "; starts mid-flight" : "")\n"
            } else {
                s += "           (no final record: the recorder did not finish)\n"
            }
            if let e = l.events { s += "           events: \(e.joined(separator: " "))\n" }
        }
        for i in m.inputs {
            s += "input:     \(i.path) (\(i.format), \(i.bytes) bytes, \(i.lines) lines, \(i.events) events, \(i.malformedLines) malformed)\n"
            if let n = i.overwrittenEvents, n > 0 {
                s += "           its header says the ring buffer dropped \(n) older events: it starts mid-flight (`replay --mid-flight` adopts the state from before it)\n"
            }
        }
        let perEvent = events > 0 ? format(Double(reader.fileSize) / Double(events), 3) : "-"
        s += "events:    \(events) in \(reader.chunks.count) chunk\(reader.chunks.count == 1 ? "" : "s") (\(perEvent) bytes/event)\n"
        s += "chunks:\n"
        s += "  #     offset     events      first        raw   compressed  status\n"
        for (k, c) in reader.chunks.enumerated() {
            s += "  " + pad(k, 3) + " " + pad(c.offset, 10) + " " + pad(c.eventCount, 10) + " " + pad(c.firstEvent, 10)
                + " " + pad(c.rawSize, 10) + " " + pad(c.compressedSize, 12) + "  " + (c.problem ?? "ok") + "\n"
        }
        if reader.damage.isDamaged {
            s += "damage:    \(reader.damage.lostEvents) events lost\(reader.damage.tailUnknown ? " (and an unknown number at the end)" : "")\n"
            for p in reader.damage.problems { s += "  - \(p)\n" }
        } else {
            s += "damage:    none\n"
        }
        Console.out(s)
    }
}

func pad(_ v: Int, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

/// A live recording's facts as JSON (the metadata's keys).
func liveJSON(_ l: LiveRecordingInfo) -> JSONValue {
    func int(_ v: Int?) -> JSONValue { v.map { .int($0) } ?? .null }
    func str(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }
    func bool(_ v: Bool?) -> JSONValue { v.map { .bool($0) } ?? .null }
    return .object([
        ("method", .string(l.method)), ("kernel_version", str(l.kernelVersion)), ("host_cpus", int(l.hostCPUs)),
        ("kvm_modules", l.kvmModules.map { .array($0.map { .string($0) }) } ?? .null),
        ("apicv", bool(l.apicv)), ("avic", bool(l.avic)), ("trace_clock", str(l.traceClock)), ("instance", str(l.instance)),
        ("buffer_kb", int(l.bufferKB)), ("events", l.events.map { .array($0.map { .string($0) }) } ?? .null),
        ("ring_bytes", int(l.ringBytes)), ("ring_dropped_events", int(l.ringDroppedEvents)),
        ("duration_ns", l.durationNs.map { .int($0) } ?? .null), ("stop_reason", str(l.stopReason)),
        ("lost_by_cpu", l.lostByCPU.map { d in .object(d.sorted { Int($0.key) ?? 0 < Int($1.key) ?? 0 }.map { ($0.key, .int($0.value)) }) } ?? .null),
        ("lost_events", int(l.lostEvents)), ("missed_markers", int(l.missedMarkers)), ("mid_flight", bool(l.midFlight)),
    ])
}

/// One ground-truth entry as JSON: "vector" or "irq" (or both) as the fault concerns them.
func groundTruthJSON(_ g: GroundTruth) -> JSONValue {
    var fields: [(String, JSONValue)] = [("fault", .string(g.fault)), ("expect", .string(g.expect)), ("time_ns", .int(g.timeNs)), ("cpu", .int(g.cpu))]
    if let v = g.vector { fields.append(("vector", .int(v))) }
    if let i = g.irq { fields.append(("irq", .int(i))) }
    fields.append(("detail", .string(g.detail)))
    if let c = g.causedBy { fields.append(("caused_by", .int(c))) }
    return .object(fields)
}
