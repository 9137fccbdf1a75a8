/// A binary min-heap of timed actions, ordered by (time, sequence): actions due at the same
/// nanosecond run in the order they were scheduled, which keeps a simulation deterministic.
struct EventQueue<Action> {
    private var times: [Int64] = []
    private var seqs: [UInt64] = []
    private var actions: [Action] = []
    private var nextSeq: UInt64 = 0

    var isEmpty: Bool { times.isEmpty }
    var count: Int { times.count }
    var nextTime: Int64? { times.first }

    init() {
        times.reserveCapacity(256); seqs.reserveCapacity(256); actions.reserveCapacity(256)
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        times[a] < times[b] || (times[a] == times[b] && seqs[a] < seqs[b])
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        times.swapAt(a, b); seqs.swapAt(a, b); actions.swapAt(a, b)
    }

    mutating func schedule(_ action: Action, at time: Int64) {
        times.append(time); seqs.append(nextSeq); actions.append(action)
        nextSeq &+= 1
        var k = times.count - 1
        while k > 0 {
            let parent = (k - 1) / 2
            guard less(k, parent) else { break }
            swapAt(k, parent)
            k = parent
        }
    }

    mutating func pop() -> (time: Int64, action: Action)? {
        guard !times.isEmpty else { return nil }
        let top = (times[0], actions[0])
        let last = times.count - 1
        if last > 0 { swapAt(0, last) }
        times.removeLast(); seqs.removeLast(); actions.removeLast()
        var k = 0
        let n = times.count
        while true {
            let l = 2 * k + 1, r = l + 1
            var m = k
            if l < n && less(l, m) { m = l }
            if r < n && less(r, m) { m = r }
            if m == k { break }
            swapAt(k, m)
            k = m
        }
        return top
    }
}
