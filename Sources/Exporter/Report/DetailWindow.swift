/// A stretch of the timeline embedded in full: every slice, instant and flow that touches
/// [`start`, `end`]. Times are absolute ns here (the JSON makes them relative).
public struct DetailWindow: Sendable {
    public var start: Int64
    public var end: Int64
    /// Why it is embedded: "all" (the whole trace fits), "finding", or "sample".
    public var reason: String
    public var slices: [Timeline.Slice] = []
    public var instants: [Timeline.Instant] = []
    public var flows: [Timeline.Flow] = []
    public var itemCount: Int { slices.count + instants.count + flows.count }

    /// The windows to embed within `budget` items: the whole trace when it fits; else windows of
    /// `around` items on each side of each finding time (in `findingTimes` order: most severe
    /// first), merged where they overlap, then 8 evenly spaced sample windows sharing what is left.
    /// [`start`, `end`]: the trace's span.
    static func select(_ timeline: Timeline, start: Int64, end: Int64, findingTimes: [Int64], budget: Int, around: Int) -> [DetailWindow] {
        let total = timeline.slices.count + timeline.instants.count + timeline.flows.count
        if total <= budget {
            var w = DetailWindow(start: start, end: end, reason: "all")
            w.slices = timeline.slices
            w.instants = timeline.instants
            w.flows = timeline.flows
            return [w]
        }
        // Item start times, sorted: a window of k items around t is [times[i-k], times[i+k]].
        var times = [Int64]()
        times.reserveCapacity(total)
        for s in timeline.slices { times.append(s.start) }
        for i in timeline.instants { times.append(i.time) }
        for f in timeline.flows { times.append(f.fromTime) }
        times.sort()
        func lowerBound(_ t: Int64) -> Int {
            var lo = 0, hi = times.count
            while lo < hi { let mid = (lo + hi) / 2; if times[mid] < t { lo = mid + 1 } else { hi = mid } }
            return lo
        }
        // Items a window holds, estimated by its start times (slices reaching in from before add a few).
        var ranges: [(start: Int64, end: Int64, reason: String)] = []
        var used = 0
        func add(_ t: Int64, _ reason: String, _ around: Int) -> Bool {
            let i = lowerBound(t)
            let lo = max(0, i - around), hi = min(times.count - 1, i + around)
            let (s, e) = (times[lo], times[hi])
            if ranges.contains(where: { $0.start <= t && t <= $0.end }) { return true }
            let cost = hi - lo + 1
            guard used + cost <= budget else { return false }
            used += cost
            ranges.append((s, e, reason))
            return true
        }
        for t in findingTimes where !add(t, "finding", around) { break }
        // Samples share what is left of the budget.
        let samples = 8
        let share = (budget - used) / (2 * samples + 2)
        for k in 0..<samples where share > 0 {
            let t = start + (end - start) * Int64(2 * k + 1) / Int64(2 * samples)
            if !add(t, "sample", share) { break }
        }
        // Merge overlaps.
        ranges.sort { $0.start < $1.start }
        var merged: [DetailWindow] = []
        for r in ranges {
            if let last = merged.last, r.start <= last.end {
                merged[merged.count - 1].end = max(last.end, r.end)
                if r.reason == "finding" { merged[merged.count - 1].reason = "finding" }
            } else {
                merged.append(DetailWindow(start: r.start, end: r.end, reason: r.reason))
            }
        }
        // Distribute items: the first window whose end is ≥ the item's start, onwards while it overlaps.
        func first(_ t: Int64) -> Int {
            var lo = 0, hi = merged.count
            while lo < hi { let mid = (lo + hi) / 2; if merged[mid].end < t { lo = mid + 1 } else { hi = mid } }
            return lo
        }
        for s in timeline.slices {
            let e = s.end ?? end
            var w = first(s.start)
            while w < merged.count && merged[w].start <= e { merged[w].slices.append(s); w += 1 }
        }
        for i in timeline.instants {
            let w = first(i.time)
            if w < merged.count && merged[w].start <= i.time { merged[w].instants.append(i) }
        }
        for f in timeline.flows {
            var w = first(f.fromTime)
            while w < merged.count && merged[w].start <= f.toTime { merged[w].flows.append(f); w += 1 }
        }
        return merged
    }
}
