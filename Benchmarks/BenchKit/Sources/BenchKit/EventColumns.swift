import Foundation
import Recorder
import TraceFormat

/// Events decoded once, kept as plain columns, ready to be fed to a ``TraceWriter`` again.
public struct EventColumns: Sendable {
    public struct Template: Sendable {
        public var name: String
        public var skeleton: [UInt8]
        public var arity: Int
        /// Slots holding an index into ``EventColumns/strings``.
        public var stringSlots: [Int]
    }

    public var templates: [Template] = []
    public var times: [Int64] = []
    public var cpus: [Int32] = []
    public var threads: [Int32] = []
    public var domains: [ClockDomain] = []
    /// Index into ``templates`` of each event.
    public var templateIndex: [UInt32] = []
    /// Slot values of all events, back to back (each event has its template's arity).
    public var values: [Int64] = []
    /// Strings of string slots (deduplicated over the whole set).
    public var strings: [[UInt8]] = []

    public var count: Int { times.count }

    public init() {}

    /// Decodes every event of `reader`.
    public init(reader: TraceReader) throws {
        var byCatalogID: [UInt32: UInt32] = [:]
        var stringIndex: [[UInt8]: Int64] = [:]
        try reader.forEachBatch { b in
            times.reserveCapacity(times.count + b.count)
            for i in 0..<b.count {
                let gid = b.templates[i]
                let tid: UInt32
                if let t = byCatalogID[gid] {
                    tid = t
                } else {
                    let t = reader.catalog[gid]
                    tid = UInt32(templates.count)
                    templates.append(Template(name: t.name, skeleton: t.skeleton, arity: t.valueCount,
                                              stringSlots: (0..<t.valueCount).filter { t.slotIsString($0) }))
                    byCatalogID[gid] = tid
                }
                let info = templates[Int(tid)]
                times.append(b.times[i])
                cpus.append(b.cpus[i])
                threads.append(b.threads[i])
                domains.append(ClockDomain(rawValue: b.domains[i]) ?? .none)
                templateIndex.append(tid)
                for s in 0..<info.arity {
                    var v = b.value(i, slot: s)
                    if info.stringSlots.contains(s), v >= 0, Int(v) < b.strings.count {
                        let bytes = b.strings[Int(v)]
                        if let k = stringIndex[bytes] { v = k } else {
                            v = Int64(strings.count)
                            strings.append(bytes)
                            stringIndex[bytes] = v
                        }
                    }
                    values.append(v)
                }
            }
        }
    }

    /// The events of all sample logs (one round, ~121k events), imported and decoded once.
    public static func samples() throws -> EventColumns {
        let path = try Samples.writeTemporary(try Samples.round(), name: "round.log")
        defer { unlink(path) }
        let out = OutputFile()
        _ = try Recorder.record(inputs: [path], to: out, options: RecordOptions(chunkSize: 1 << 20, level: 1))
        return try EventColumns(reader: TraceReader(data: Data(out.memory), path: "<samples>"))
    }

    /// `rounds` copies back to back; each copy's non-zero times are shifted past the previous copy's,
    /// so the result reads as one long trace (times stay whole microseconds).
    public func replicated(_ rounds: Int) -> EventColumns {
        var lo = Int64.max, hi = Int64.min
        for t in times where t != 0 { lo = min(lo, t); hi = max(hi, t) }
        let period: Int64 = lo <= hi ? hi - lo + 1_000_000 : 0
        var out = EventColumns()
        out.templates = templates
        out.strings = strings
        out.times.reserveCapacity(count * rounds)
        out.values.reserveCapacity(values.count * rounds)
        for r in 0..<rounds {
            let shift = Int64(r) * period
            out.times += times.lazy.map { $0 == 0 ? 0 : $0 &+ shift }
            out.cpus += cpus
            out.threads += threads
            out.domains += domains
            out.templateIndex += templateIndex
            out.values += values
        }
        return out
    }

    /// Writes every event through a ``TraceWriter`` into memory; returns the `.irqt` bytes.
    public func encode(level: Int32, chunkSize: Int = 1 << 20) throws -> [UInt8] {
        let out = OutputFile()
        let writer = TraceWriter(output: out, metadata: TraceMetadata(source: .qemuLog), chunkSize: chunkSize, level: level)
        var ids: [UInt32] = []
        for t in templates { ids.append(try writer.catalog.intern(name: t.name, skeleton: t.skeleton)) }
        let arity = templates.map(\.arity)
        let hasStrings = templates.map { !$0.stringSlots.isEmpty }
        let scratch = UnsafeMutableBufferPointer<Int64>.allocate(capacity: (arity.max() ?? 0) + 1)
        defer { scratch.deallocate() }
        try values.withUnsafeBufferPointer { vp in
            var offset = 0
            for i in 0..<count {
                let t = Int(templateIndex[i])
                let a = arity[t]
                var slots = UnsafeBufferPointer(rebasing: vp[offset..<offset + a])
                if hasStrings[t] {
                    for s in 0..<a { scratch[s] = vp[offset + s] }
                    for s in templates[t].stringSlots { scratch[s] = writer.internString(strings[Int(scratch[s])]) }
                    slots = UnsafeBufferPointer(rebasing: scratch[0..<a])
                }
                try writer.append(time: times[i], cpu: cpus[i], thread: threads[i], domain: domains[i],
                                  template: ids[t], values: slots)
                offset += a
            }
        }
        try writer.finish()
        return out.memory
    }
}
