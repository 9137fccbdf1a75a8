/// Counts over a trace: by event name, CPU, vector and IRQ, and the time span.
public struct TraceStats: Sendable {
    public var events = 0
    public var byName: [String: Int] = [:]
    public var byCPU: [Int64: Int] = [:]
    public var cpuUnknown = 0
    public var byVector: [Int64: Int] = [:]
    public var byIRQ: [Int64: Int] = [:]
    public var firstTime: Int64?
    public var lastTime: Int64?
    /// Events whose template matched a schema (typed fields), and those kept with generic fields.
    public var typedEvents = 0

    public init() {}

    /// Counts every intact event of `reader`.
    public static func collect(_ reader: TraceReader) throws -> TraceStats {
        var s = TraceStats()
        var roles = RoleTable()
        var perTemplate: [Int] = []
        try reader.forEachBatch { batch in
            for i in 0..<batch.count {
                let id = batch.templates[i]
                if Int(id) >= perTemplate.count { perTemplate += [Int](repeating: 0, count: Int(id) + 1 - perTemplate.count) }
                perTemplate[Int(id)] += 1
                let r = roles.roles(id, in: reader.catalog)
                if let c = batch.cpu(i, roles: r) { s.byCPU[c, default: 0] += 1 } else { s.cpuUnknown += 1 }
                if let v = r.vector, let x = batch.number(i, v) { s.byVector[x, default: 0] += 1 }
                if let q = r.irq, let x = batch.number(i, q) { s.byIRQ[x, default: 0] += 1 }
            }
            if batch.count > 0 {
                let lo = batch.times.min()!, hi = batch.times.max()!
                s.firstTime = min(s.firstTime ?? lo, lo)
                s.lastTime = max(s.lastTime ?? hi, hi)
            }
            s.events += batch.count
        }
        for (id, n) in perTemplate.enumerated() where n > 0 {
            let t = reader.catalog[UInt32(id)]
            s.byName[t.name, default: 0] += n
            if t.binding != nil { s.typedEvents += n }
        }
        return s
    }

    public func json() -> JSONValue {
        func table(_ d: [Int64: Int]) -> JSONValue {
            .object(d.sorted { $0.key < $1.key }.map { (String($0.key), .int($0.value)) })
        }
        return .object([
            ("events", .int(events)),
            ("typed_events", .int(typedEvents)),
            ("first_time_ns", firstTime.map { .int($0) } ?? .null),
            ("last_time_ns", lastTime.map { .int($0) } ?? .null),
            ("by_name", .object(byName.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { ($0.key, .int($0.value)) })),
            ("by_cpu", table(byCPU)),
            ("cpu_unknown", .int(cpuUnknown)),
            ("by_vector", table(byVector)),
            ("by_irq", table(byIRQ)),
        ])
    }
}
