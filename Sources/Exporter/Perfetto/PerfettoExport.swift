import Analyzer
import Replayer
import TraceFormat

/// `irqtrace export FILE --format perfetto`: Chrome/Perfetto trace-event JSON
/// (https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU, the format
/// ui.perfetto.dev and chrome://tracing open). Built from the ``Timeline``:
/// - process 1 "vCPUs": a thread (track) per vCPU with complete events (`ph: X`) for in-service
///   intervals (name "vector 0x31" / "irq 27"; `args`: vector, irq, the opening and closing event
///   indices; still in service at the end: `args.open`), halts, and instant events (`ph: i`) for what
///   happened at that CPU (accepted, coalesced, dropped, …);
/// - process 2 "interrupt sources": a track per IOAPIC pin / GIC line / MSI vector with instants for
///   raises and line changes that name no CPU;
/// - flows (`ph: s`/`f`, `bp: e`) from each acceptance to the delivery it led to;
/// - findings (when the analyzers support the source) as global instants with their explanation.
/// Times are the trace's, in microseconds with nanosecond decimals.
public enum PerfettoExport {
    public struct Summary: Sendable {
        public var slices = 0
        public var instants = 0
        public var flows = 0
        public var findings = 0
    }

    @discardableResult
    public static func write(_ reader: TraceReader, to out: OutputFile, findings: Bool = true) throws -> Summary {
        guard TransitionStream.supports(reader.metadata) else { return try writeEvents(reader, to: out) }
        let tl = try Timeline.build(reader)
        let found = findings ? ((try? Analyzer.analyze(reader).findings) ?? []) : []
        var j = JSONSink(out)
        var sum = Summary()
        j.raw("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"source\":")
        j.string(reader.metadata.source.rawValue)
        j.raw(",\"arch\":")
        j.string(reader.metadata.arch.rawValue)
        j.raw(",\"file\":")
        j.string(reader.path)
        j.raw(",\"replay_divergences\":")
        j.int(tl.report?.divergenceCount ?? 0)
        j.raw("},\"traceEvents\":[\n")
        var first = true
        func sep(_ j: inout JSONSink) { if first { first = false } else { j.raw(",\n") } }

        // Track names.
        sep(&j); j.raw("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"vCPUs\"}}")
        sep(&j); j.raw("{\"ph\":\"M\",\"pid\":2,\"name\":\"process_name\",\"args\":{\"name\":\"interrupt sources\"}}")
        for c in tl.cpus {
            sep(&j); j.raw("{\"ph\":\"M\",\"pid\":1,\"tid\":"); j.int(c + 1); j.raw(",\"name\":\"thread_name\",\"args\":{\"name\":\"vCPU ")
            j.int(c); j.raw("\"}}")
            sep(&j); j.raw("{\"ph\":\"M\",\"pid\":1,\"tid\":"); j.int(c + 1); j.raw(",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":"); j.int(c); j.raw("}}")
        }
        var sourceTracks = Set<Int64>()
        for s in tl.instants where s.cpu < 0 { sourceTracks.insert(sourceTrack(s)) }
        for t in sourceTracks.sorted() {
            sep(&j); j.raw("{\"ph\":\"M\",\"pid\":2,\"tid\":"); j.int(t); j.raw(",\"name\":\"thread_name\",\"args\":{\"name\":")
            j.string(t >= 1_000_000 ? "vector \(t - 1_000_000)" : t >= 1000 ? "irq \(t - 1000)" : "unrouted"); j.raw("}}")
        }

        // In-service and halted intervals.
        for s in tl.slices {
            sep(&j)
            let end = s.end ?? tl.lastTime
            j.raw("{\"ph\":\"X\",\"pid\":1,\"tid\":"); j.int(s.cpu + 1)
            j.raw(",\"ts\":"); j.micros(s.start); j.raw(",\"dur\":"); j.micros(max(0, end - s.start))
            j.raw(",\"cat\":"); j.string(s.kind.rawValue)
            j.raw(",\"name\":"); j.string(s.kind == .halted ? "halted" : label(vector: s.vector, irq: s.irq))
            j.raw(",\"args\":{\"vector\":"); j.int(s.vector); j.raw(",\"irq\":"); j.int(s.irq)
            j.raw(",\"start_event\":"); j.int(s.startEvent)
            if let e = s.endEvent { j.raw(",\"end_event\":"); j.int(e) } else { j.raw(",\"open\":true") }
            j.raw("}}")
            sum.slices += 1
            try j.flushIfLarge()
        }
        // Instants.
        for s in tl.instants {
            sep(&j)
            if s.kind == .vmStarted {
                // A new VM (VMs one after another in a host trace): a global instant across every track.
                j.raw("{\"ph\":\"i\",\"s\":\"g\",\"pid\":1,\"tid\":0,\"ts\":"); j.micros(s.time)
                j.raw(",\"cat\":\"vm\",\"name\":\"a new VM starts: models reset\",\"args\":{\"event\":"); j.int(s.event); j.raw("}}")
                sum.instants += 1
                continue
            }
            let onCPU = s.cpu >= 0
            j.raw("{\"ph\":\"i\",\"s\":\"t\",\"pid\":"); j.int(onCPU ? 1 : 2)
            j.raw(",\"tid\":"); j.int(onCPU ? Int64(s.cpu + 1) : sourceTrack(s))
            j.raw(",\"ts\":"); j.micros(s.time)
            j.raw(",\"cat\":\"transition\",\"name\":"); j.string("\(s.kind) \(label(vector: s.vector, irq: s.irq))")
            j.raw(",\"args\":{\"kind\":"); j.string("\(s.kind)"); j.raw(",\"vector\":"); j.int(s.vector); j.raw(",\"irq\":"); j.int(s.irq)
            j.raw(",\"event\":"); j.int(s.event); j.raw("}}")
            sum.instants += 1
            try j.flushIfLarge()
        }
        // Flows: acceptance → delivery on the CPU's track (the delivery's slice encloses the end).
        for (k, f) in tl.flows.enumerated() {
            sep(&j)
            j.raw("{\"ph\":\"s\",\"pid\":1,\"tid\":"); j.int(f.cpu + 1); j.raw(",\"ts\":"); j.micros(f.fromTime)
            j.raw(",\"id\":"); j.int(k + 1); j.raw(",\"cat\":\"flow\",\"name\":\"pending\"}")
            sep(&j)
            j.raw("{\"ph\":\"f\",\"bp\":\"e\",\"pid\":1,\"tid\":"); j.int(f.cpu + 1); j.raw(",\"ts\":"); j.micros(f.toTime)
            j.raw(",\"id\":"); j.int(k + 1); j.raw(",\"cat\":\"flow\",\"name\":\"pending\"}")
            sum.flows += 1
            try j.flushIfLarge()
        }
        // Findings.
        for f in found {
            sep(&j)
            j.raw("{\"ph\":\"i\",\"s\":\"g\",\"pid\":1,\"tid\":"); j.int((f.cpu ?? -1) + 1)
            j.raw(",\"ts\":"); j.micros(f.timeNs)
            j.raw(",\"cat\":\"finding\",\"name\":"); j.string("\(f.severity.rawValue): \(f.kind.rawValue)")
            j.raw(",\"args\":"); j.value(f.json()); j.raw("}")
            sum.findings += 1
        }
        j.raw("\n]}\n")
        try j.flush()
        return sum
    }

    /// Sources without model transitions (QEMU x86 logs, arm64 KVM tracepoints, mixed traces): every
    /// event as an instant on its CPU's track (or its thread's, when the source names no CPU), named
    /// by the event, with its vector/irq and its source line in `args`.
    static func writeEvents(_ reader: TraceReader, to out: OutputFile) throws -> Summary {
        var j = JSONSink(out)
        var sum = Summary()
        var roles = RoleTable()
        var tracks = Set<Int64>()
        var line: [UInt8] = []
        j.raw("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"source\":")
        j.string(reader.metadata.source.rawValue)
        j.raw(",\"arch\":"); j.string(reader.metadata.arch.rawValue)
        j.raw(",\"file\":"); j.string(reader.path)
        j.raw(",\"note\":\"no model transitions for this source: raw events as instants\"},\"traceEvents\":[\n")
        var first = true
        try reader.forEachBatch { b in
            for i in 0..<b.count {
                let t = reader.catalog[b.templates[i]]
                let r = roles.roles(b.templates[i], in: reader.catalog)
                // Track: 1 + CPU, or 10,000 + thread when the source names no CPU.
                let tid: Int64 = b.cpu(i, roles: r).map { $0 + 1 } ?? (10_000 + Int64(max(0, b.threads[i])))
                if tracks.insert(tid).inserted {
                    if !first { j.raw(",\n") }
                    first = false
                    j.raw("{\"ph\":\"M\",\"pid\":1,\"tid\":"); j.int(tid); j.raw(",\"name\":\"thread_name\",\"args\":{\"name\":")
                    j.string(tid < 10_000 ? "CPU \(tid - 1)" : "thread \(tid - 10_000)"); j.raw("}}")
                }
                if !first { j.raw(",\n") }
                first = false
                j.raw("{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":"); j.int(tid)
                j.raw(",\"ts\":"); j.micros(max(0, b.times[i]))
                j.raw(",\"cat\":\"event\",\"name\":"); j.string(t.name)
                j.raw(",\"args\":{\"event\":"); j.int(b.eventIndex(i))
                if let v = r.vector.flatMap({ b.number(i, $0) }) { j.raw(",\"vector\":"); j.int(v) }
                if let q = r.irq.flatMap({ b.number(i, $0) }) { j.raw(",\"irq\":"); j.int(q) }
                line.removeAll(keepingCapacity: true)
                LinePrinter.appendBody(i, of: b, template: t, to: &line)
                j.raw(",\"line\":"); line.withUnsafeBytes { j.string(bytes: $0) }
                j.raw("}}")
                sum.instants += 1
                try j.flushIfLarge()
            }
        }
        j.raw("\n]}\n")
        try j.flush()
        return sum
    }

    static func label(vector: Int32, irq: Int32) -> String {
        if vector >= 0 { return "vector 0x" + String(vector, radix: 16) }
        if irq >= 0 { return "irq \(irq)" }
        return "-"
    }

    /// Track of a source-side instant: a pin/line (1000 + irq), an MSI vector (1,000,000 + vector).
    static func sourceTrack(_ s: Timeline.Instant) -> Int64 {
        if s.irq >= 0 { return 1000 + Int64(s.irq) }
        if s.vector >= 0 { return 1_000_000 + Int64(s.vector) }
        return 999
    }
}
