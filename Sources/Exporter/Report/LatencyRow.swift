import Analyzer
import Replayer

/// Latency distributions of one (CPU, interrupt) along the path the timeline shows: raise → accept
/// (a message or line to its acceptance in IRR / pending), accept → deliver (pending time: to the
/// injection or acknowledge), deliver → EOI (time in service). Computed from the ``Timeline`` the
/// same way `stats --latency` computes them from the transitions, so x86 KVM figures agree with it,
/// and GICv2 logs get them too (keyed by INTID).
public struct LatencyRow: Sendable {
    public struct Stage: Sendable {
        public var histogram = Histogram()
        /// Samples per power of two: `bins[k]` counts values in [2^k, 2^(k+1)) ns (`bins[0]` also 0).
        public var bins = [Int](repeating: 0, count: 48)
        mutating func add(_ v: Int64) {
            histogram.add(v)
            let k = v <= 1 ? 0 : min(47, 63 - UInt64(v).leadingZeroBitCount)
            bins[k] += 1
        }
    }

    public var cpu: Int
    /// x86 vector, or -1.
    public var vector: Int
    /// GIC INTID, or -1.
    public var irq: Int
    public var raiseToAccept = Stage()
    public var acceptToDeliver = Stage()
    public var deliverToEOI = Stage()

    static func rows(_ timeline: Timeline) -> [LatencyRow] {
        struct Key: Hashable { var cpu: Int32, vector: Int32, irq: Int32 }
        var rows: [Key: LatencyRow] = [:]
        func key(_ cpu: Int32, _ vector: Int32, _ irq: Int32) -> Key { Key(cpu: cpu, vector: vector, irq: vector >= 0 ? -1 : irq) }
        func row(_ k: Key) -> LatencyRow { rows[k] ?? LatencyRow(cpu: Int(k.cpu), vector: Int(k.vector), irq: Int(k.irq)) }
        var raisedAt: [Key: Int64] = [:]
        for i in timeline.instants where i.cpu >= 0 && (i.vector >= 0 || i.irq >= 0) {
            let k = key(i.cpu, i.vector, i.irq)
            switch i.kind {
            case .raised: if raisedAt[k] == nil { raisedAt[k] = i.time }
            case .coalesced: raisedAt[k] = nil
            case .accepted:
                var r = row(k)
                if let t = raisedAt.removeValue(forKey: k) { r.raiseToAccept.add(i.time - t) }
                rows[k] = r
            default: break
            }
        }
        for f in timeline.flows where f.cpu >= 0 {
            let k = key(f.cpu, f.vector, f.irq)
            var r = row(k)
            r.acceptToDeliver.add(f.toTime - f.fromTime)
            rows[k] = r
        }
        for s in timeline.slices where s.kind == .inService {
            guard let end = s.end else { continue }
            let k = key(s.cpu, s.vector, s.irq)
            var r = row(k)
            r.deliverToEOI.add(end - s.start)
            rows[k] = r
        }
        return rows.values.sorted { ($0.cpu, $0.vector, $0.irq) < ($1.cpu, $1.vector, $1.irq) }
    }
}
