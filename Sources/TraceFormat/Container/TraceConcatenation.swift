/// Appends the events of finished traces to a writer, in order, re-interning their templates and
/// string slots into the writer's catalog (the flight recorder joins its kept segments this way).
public enum TraceConcatenation {
    /// Appends every intact event of `reader` to `writer`; returns the events appended.
    @discardableResult
    public static func append(_ reader: TraceReader, to writer: TraceWriter) throws -> Int {
        var map: [UInt32: (id: UInt32, strings: [Bool])] = [:]
        var values: [Int64] = []
        var appended = 0
        try reader.forEachBatch { batch in
            for i in 0..<batch.count {
                let t = batch.templates[i]
                let template = reader.catalog[t]
                let entry: (id: UInt32, strings: [Bool])
                if let m = map[t] { entry = m } else {
                    entry = (try writer.catalog.intern(name: template.name, skeleton: template.skeleton),
                             (0..<reader.catalog.valueCount(t)).map { template.slotIsString($0) })
                    map[t] = entry
                }
                let id = entry.id
                values.removeAll(keepingCapacity: true)
                for s in 0..<entry.strings.count {
                    let v = batch.value(i, slot: s)
                    if entry.strings[s], v >= 0, Int(v) < batch.strings.count {
                        values.append(writer.internString(batch.strings[Int(v)]))
                    } else {
                        values.append(v)
                    }
                }
                try values.withUnsafeBufferPointer {
                    try writer.append(time: batch.times[i], cpu: batch.cpus[i], thread: batch.threads[i],
                                      domain: ClockDomain(rawValue: batch.domains[i]) ?? .none, template: id, values: $0)
                }
                appended += 1
            }
        }
        return appended
    }
}
