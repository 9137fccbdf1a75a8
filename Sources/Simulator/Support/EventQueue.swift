/// A binary min-heap of timed actions, ordered by (time, sequence): actions due at the same
/// nanosecond run in the order they were scheduled, which keeps a simulation deterministic.
struct EventQueue<Action> {
    struct Entry {
        var time: Int64
        var seq: UInt64
        var action: Action
        @inline(__always) func before(_ o: Entry) -> Bool { time < o.time || (time == o.time && seq < o.seq) }
    }
    private var heap: [Entry] = []
    private var nextSeq: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: Int64? { heap.first?.time }

    init() { heap.reserveCapacity(256) }

    mutating func schedule(_ action: Action, at time: Int64) {
        let e = Entry(time: time, seq: nextSeq, action: action)
        nextSeq &+= 1
        heap.append(e)
        heap.withUnsafeMutableBufferPointer { h in
            var k = h.count - 1
            while k > 0 {
                let parent = (k - 1) / 2
                guard e.before(h[parent]) else { break }
                h[k] = h[parent]
                k = parent
            }
            h[k] = e
        }
    }

    mutating func pop() -> (time: Int64, action: Action)? {
        guard let top = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap.withUnsafeMutableBufferPointer { h in
                // Sift the last entry down from the root.
                let n = h.count
                var k = 0
                while true {
                    let l = 2 * k + 1
                    if l >= n { break }
                    var m = l
                    if l + 1 < n && h[l + 1].before(h[l]) { m = l + 1 }
                    guard h[m].before(last) else { break }
                    h[k] = h[m]
                    k = m
                }
                h[k] = last
            }
        }
        return (top.time, top.action)
    }
}
