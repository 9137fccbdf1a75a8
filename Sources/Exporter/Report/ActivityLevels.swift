import Replayer

/// The zoomed-out view of a timeline: per CPU, fixed-width time buckets at several resolutions
/// (each level's buckets are 4 of the next finer level's), with the fraction of the bucket a CPU had
/// an interrupt in service and was halted, and counts of deliveries, acceptances and anomalies.
/// Its size depends on the CPU count and ``Report/Options/finestBuckets``, never on the trace length.
public struct ActivityLevels: Sendable {
    public struct Level: Sendable {
        public var bucketNs: Int64
        public var buckets: Int
        /// Per CPU (in ``ActivityLevels/cpus`` order), one value per bucket.
        public var tracks: [Track]
    }

    public struct Track: Sendable {
        /// Time with at least one interrupt in service, in thousandths of the bucket (nested
        /// handlers are summed, then clamped to 1000).
        public var inServicePermille: [Int32]
        public var haltedPermille: [Int32]
        public var delivered: [Int32]
        public var accepted: [Int32]
        /// Coalesced, dropped, masked-edge, ack-missing, re-delivered and halted-with-pending transitions.
        public var anomalies: [Int32]
    }

    public var cpus: [Int32]
    /// Absolute ns of the first bucket's start.
    public var start: Int64
    /// Finest first.
    public var levels: [Level]

    static let anomalyKinds: Set<Transition.Kind> = [.coalesced, .dropped, .maskedEdge, .ackMissing, .redelivered, .haltedWithPending]

    /// Buckets `timeline` over [`start`, `end`] (absolute ns).
    static func build(_ timeline: Timeline, start: Int64, end: Int64, finestBuckets: Int) -> ActivityLevels {
        let cpus = timeline.cpus
        var row: [Int32: Int] = [:]
        for (k, c) in cpus.enumerated() { row[c] = k }
        // Finest level: a power of 4 buckets, ≥ 256, so every coarser level divides evenly.
        var n = 256
        while n * 4 <= max(256, finestBuckets) { n *= 4 }
        let span = max(1, end - start + 1)
        let width = max(1, (span + Int64(n) - 1) / Int64(n))
        let m = cpus.count
        var inService = [Int64](repeating: 0, count: m * n), halted = [Int64](repeating: 0, count: m * n)
        var delivered = [Int32](repeating: 0, count: m * n), accepted = [Int32](repeating: 0, count: m * n)
        var anomalies = [Int32](repeating: 0, count: m * n)

        func bucket(_ t: Int64) -> Int { Int(min(Int64(n - 1), max(0, (t - start) / width))) }
        func spread(_ a: inout [Int64], _ r: Int, _ s: Int64, _ e: Int64) {
            guard e > s else { return }
            var b = bucket(s)
            let last = bucket(e)
            while b <= last {
                let lo = max(s, start + Int64(b) * width), hi = min(e, start + Int64(b + 1) * width)
                if hi > lo { a[r * n + b] += hi - lo }
                b += 1
            }
        }
        for s in timeline.slices {
            guard let r = row[s.cpu] else { continue }
            let e = s.end ?? end
            switch s.kind {
            case .inService:
                spread(&inService, r, s.start, e)
                delivered[r * n + bucket(s.start)] += 1
            case .halted: spread(&halted, r, s.start, e)
            }
        }
        for i in timeline.instants {
            guard let r = row[i.cpu] else { continue }
            if i.kind == .accepted { accepted[r * n + bucket(i.time)] += 1 }
            if anomalyKinds.contains(i.kind) { anomalies[r * n + bucket(i.time)] += 1 }
        }

        var levels: [Level] = []
        var count = n, w = width
        while true {
            var tracks: [Track] = []
            for r in 0..<m {
                let base = r * count
                func permille(_ a: [Int64]) -> [Int32] { (0..<count).map { Int32(min(1000, a[base + $0] * 1000 / w)) } }
                tracks.append(Track(inServicePermille: permille(inService), haltedPermille: permille(halted),
                                    delivered: Array(delivered[base..<base + count]), accepted: Array(accepted[base..<base + count]),
                                    anomalies: Array(anomalies[base..<base + count])))
            }
            levels.append(Level(bucketNs: w, buckets: count, tracks: tracks))
            guard count > 256 else { break }
            // Merge 4 → 1.
            let next = count / 4
            func merge<T: AdditiveArithmetic>(_ a: [T]) -> [T] {
                var out = [T](repeating: .zero, count: m * next)
                for r in 0..<m { for b in 0..<next { for j in 0..<4 { out[r * next + b] += a[r * count + b * 4 + j] } } }
                return out
            }
            inService = merge(inService); halted = merge(halted)
            delivered = merge(delivered); accepted = merge(accepted); anomalies = merge(anomalies)
            count = next
            w *= 4
        }
        return ActivityLevels(cpus: cpus, start: start, levels: levels)
    }
}
