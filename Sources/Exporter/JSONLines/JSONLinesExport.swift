import Analyzer
import TraceFormat

/// `irqtrace export FILE --format jsonl`: one JSON object per line, for pandas
/// (`pd.read_json(path, lines=True)`) and DuckDB (`read_json_auto`):
/// - each event: `{"type":"event","index","time_ns","cpu","thread","name","vector","irq","fields":{…},"line"}`
///   — `cpu`/`vector`/`irq` by the schema's field roles (null when the event has none), `fields` every
///   typed field of its schema (numbers as numbers, the rest as text), `line` the source's own text;
/// - then each finding (when the analyzers support the source): `{"type":"finding", …}` with the keys
///   of `analyze --json`.
public enum JSONLinesExport {
    @discardableResult
    public static func write(_ reader: TraceReader, to out: OutputFile, findings: Bool = true) throws -> (events: Int, findings: Int) {
        var j = JSONSink(out)
        var roles = RoleTable()
        var line: [UInt8] = []
        var events = 0
        try reader.forEachBatch { b in
            for i in 0..<b.count {
                let id = b.templates[i]
                let t = reader.catalog[id]
                let r = roles.roles(id, in: reader.catalog)
                j.raw("{\"type\":\"event\",\"index\":"); j.int(b.eventIndex(i))
                j.raw(",\"time_ns\":"); j.int(b.times[i])
                j.raw(",\"cpu\":"); if let c = b.cpu(i, roles: r) { j.int(c) } else { j.raw("null") }
                j.raw(",\"thread\":"); if b.threads[i] >= 0 { j.int(b.threads[i]) } else { j.raw("null") }
                j.raw(",\"name\":"); j.string(t.name)
                j.raw(",\"vector\":"); if let v = r.vector.flatMap({ b.number(i, $0) }) { j.int(v) } else { j.raw("null") }
                j.raw(",\"irq\":"); if let q = r.irq.flatMap({ b.number(i, $0) }) { j.int(q) } else { j.raw("null") }
                j.raw(",\"fields\":{")
                if let bind = t.binding {
                    var firstField = true
                    for (f, src) in zip(bind.schema.fields, bind.sources) {
                        if !firstField { j.raw(",") }
                        firstField = false
                        j.string(f.name); j.raw(":")
                        if let n = b.number(i, src) { j.int(n) } else { j.string(b.text(i, src, template: t)) }
                    }
                }
                j.raw("},\"line\":")
                line.removeAll(keepingCapacity: true)
                LinePrinter.append(i, of: b, template: t, to: &line)
                line.withUnsafeBytes { j.string(bytes: $0) }
                j.raw("}\n")
                events += 1
                try j.flushIfLarge()
            }
        }
        var count = 0
        if findings, let report = try? Analyzer.analyze(reader) {
            for f in report.findings {
                guard case .object(var fields) = f.json() else { continue }
                fields.insert(("type", .string("finding")), at: 0)
                j.value(.object(fields)); j.raw("\n")
                count += 1
            }
        }
        try j.flush()
        return (events, count)
    }
}
