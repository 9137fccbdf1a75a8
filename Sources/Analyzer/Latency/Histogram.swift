/// A log-bucketed histogram of non-negative nanosecond values with fixed memory: 8 sub-buckets per
/// power of two, so a percentile is exact to within 12.5% (the bucket's upper bound is reported,
/// clamped to the largest value seen). Enough for latency distributions over any trace length.
public struct Histogram: Sendable, Equatable {
    static let sub = 8
    private var buckets = [UInt64](repeating: 0, count: 64 * 8)
    public private(set) var count: UInt64 = 0
    public private(set) var max: Int64 = 0
    public private(set) var min: Int64 = .max
    public private(set) var sum: Double = 0

    public init() {}

    @inline(__always)
    static func bucket(_ v: Int64) -> Int {
        let x = UInt64(Swift.max(0, v))
        if x < UInt64(sub) { return Int(x) }
        let log = 63 - x.leadingZeroBitCount          // ≥ 3
        let shift = log - 3
        return (log - 2) * sub + Int((x >> UInt64(shift)) & UInt64(sub - 1))
    }

    /// The largest value in bucket `b`.
    static func upper(_ b: Int) -> Int64 {
        if b < sub { return Int64(b) }
        let log = b / sub + 2, frac = b % sub
        let shift = log - 3
        return Int64((UInt64(sub + frac) << UInt64(shift)) + (UInt64(1) << UInt64(shift)) - 1)
    }

    @inline(__always)
    public mutating func add(_ v: Int64) {
        buckets[Self.bucket(v)] += 1
        count += 1
        if v > max { max = v }
        if v < min { min = v }
        sum += Double(v)
    }

    /// The value below which a fraction `q` (0…1) of the samples fall (within 12.5%).
    public func percentile(_ q: Double) -> Int64 {
        guard count > 0 else { return 0 }
        let rank = UInt64((Double(count) * q).rounded(.up))
        var seen: UInt64 = 0
        for (b, n) in buckets.enumerated() where n > 0 {
            seen += n
            if seen >= Swift.max(rank, 1) { return Swift.min(Self.upper(b), max) }
        }
        return max
    }

    public var mean: Double { count == 0 ? 0 : sum / Double(count) }
}
