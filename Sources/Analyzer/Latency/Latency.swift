import Replayer
import TraceFormat

/// Latency distributions along the interrupt path, per (vCPU, vector), from the replay's transitions:
/// raise → accept (a message to its acceptance in IRR), accept → deliver (pending time: IRR to the
/// injection or acknowledge), deliver → EOI (time in service).
public struct LatencyReport: Sendable {
    public struct Entry: Sendable {
        public var cpu: Int
        public var vector: Int
        public var raiseToAccept = Histogram()
        public var acceptToDeliver = Histogram()
        public var deliverToEOI = Histogram()
    }
    public var entries: [Entry] = []

    public func json() -> JSONValue {
        func h(_ x: Histogram) -> JSONValue {
            .object([("count", .int(Int(x.count))), ("p50_ns", .int(Int(x.percentile(0.5)))), ("p90_ns", .int(Int(x.percentile(0.9)))),
                     ("p99_ns", .int(Int(x.percentile(0.99)))), ("max_ns", .int(Int(x.max))), ("mean_ns", .int(Int(x.mean.rounded())))])
        }
        return .array(entries.map { e in
            .object([("cpu", .int(e.cpu)), ("vector", .int(e.vector)), ("raise_to_accept", h(e.raiseToAccept)),
                     ("accept_to_deliver", h(e.acceptToDeliver)), ("deliver_to_eoi", h(e.deliverToEOI))])
        })
    }
}

public enum Latency {
    /// Replays an x86 KVM trace with transitions and measures.
    public static func measure(_ reader: TraceReader) throws -> LatencyReport {
        // Per (APIC ID << 8 | vector): the open raise, acceptance and delivery times.
        var raisedAt = IntMap<UInt64, Int64>(), acceptedAt = IntMap<UInt64, Int64>(), deliveredAt = IntMap<UInt64, [Int64]>()
        var entries = IntMap<UInt64, LatencyReport.Entry>()
        func key(_ t: Transition) -> UInt64 { UInt64(UInt32(bitPattern: t.cpu)) << 8 | UInt64(UInt8(truncatingIfNeeded: t.vector)) }
        func entry(_ k: UInt64) -> LatencyReport.Entry {
            entries[k] ?? LatencyReport.Entry(cpu: Int(Int32(truncatingIfNeeded: k >> 8)), vector: Int(k & 0xFF))
        }
        _ = try TransitionReplay.kvmX86(reader, what: "stats --latency") { t in
            if t.kind == .vmStarted {
                // Another VM from reset: nothing the last one left open is completed in it.
                raisedAt = IntMap(); acceptedAt = IntMap(); deliveredAt = IntMap()
                return
            }
            guard t.cpu >= 0 && t.vector >= 0 else { return }
            let k = key(t)
            switch t.kind {
            case .raised: if raisedAt[k] == nil { raisedAt[k] = t.timeNs }
            case .accepted:
                var e = entry(k)
                if let r = raisedAt.removeValue(forKey: k) { e.raiseToAccept.add(t.timeNs - r) }
                entries[k] = e
                acceptedAt[k] = t.timeNs
            case .coalesced: raisedAt[k] = nil
            case .delivered:
                var e = entry(k)
                if let a = acceptedAt.removeValue(forKey: k) { e.acceptToDeliver.add(t.timeNs - a) }
                entries[k] = e
                deliveredAt[k, default: []].append(t.timeNs)
            case .eoi:
                // The EOI retires the vector most recently delivered (the highest in service).
                if var d = deliveredAt[k], let start = d.popLast() {
                    var e = entry(k)
                    e.deliverToEOI.add(t.timeNs - start)
                    entries[k] = e
                    deliveredAt[k] = d
                }
            default: break
            }
        }
        return LatencyReport(entries: entries.sorted { $0.key < $1.key }.map(\.value))
    }
}
