import TraceFormat

/// An event as `irqtrace show` prints it: its index, time, and the line the source printed.
public struct EvidenceLine: Sendable, Equatable {
    public var event: Int
    public var time: Int64
    public var line: String
}

enum EvidenceLines {
    /// Reprints the events at `indices` (any order, repeats allowed), decoding each chunk once.
    static func lines(_ reader: TraceReader, _ indices: Set<Int>) throws -> [Int: EvidenceLine] {
        var byChunk: [Int: [Int]] = [:]
        for k in indices where k >= 0 {
            if let c = reader.chunk(containingEvent: k) { byChunk[c, default: []].append(k) }
        }
        var out: [Int: EvidenceLine] = [:]
        var bytes: [UInt8] = []
        for (c, ks) in byChunk.sorted(by: { $0.key < $1.key }) {
            let b = try reader.decodeChunk(c)
            for k in ks {
                let i = k - b.firstEventIndex
                guard i >= 0 && i < b.count else { continue }
                bytes.removeAll(keepingCapacity: true)
                LinePrinter.append(i, of: b, template: reader.catalog[b.templates[i]], to: &bytes)
                out[k] = EvidenceLine(event: k, time: b.times[i], line: String(decoding: bytes, as: UTF8.self))
            }
        }
        return out
    }
}
