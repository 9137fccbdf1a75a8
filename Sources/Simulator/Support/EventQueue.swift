/// The pending timed actions, ordered by (time, sequence): actions due at the same nanosecond run
/// in the order they were scheduled, which keeps a simulation deterministic.
///
/// A sorted array, latest first, rather than a binary heap: a simulation has few actions pending
/// (10–35 in the shipped scenarios: one per device queue, timer and IPI clock, and a few per vCPU)
/// and most new ones are due soon (an interrupt taken in microseconds, a handler's end), so an
/// insertion shifts only the few entries due before it, in one predictable loop, and the next
/// action is the last entry (no sift-down). A heap paid two unpredictable branches per level on
/// both ends of every action: 15–20 % of a qemu-x86 run, which has about one action per event.
/// An insertion is O(pending) at worst (an action due after all others); with tens pending that
/// is still a short copy. Pop order is the same as the heap's: (time, sequence) is a total order.
struct EventQueue<Action> {
    struct Entry {
        var time: Int64
        var seq: UInt64
        var action: Action
    }
    /// Latest first: `entries.last` is due next.
    private var entries: [Entry] = []
    private var nextSeq: UInt64 = 0

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var nextTime: Int64? { entries.last?.time }

    init() { entries.reserveCapacity(256) }

    mutating func schedule(_ action: Action, at time: Int64) {
        entries.append(Entry(time: time, seq: nextSeq, action: action))
        nextSeq &+= 1
        entries.withUnsafeMutableBufferPointer { h in
            // Its place: after every entry due later. Its sequence number is the largest, so an
            // entry due at the same time is due before it. Found by comparing times only, and the
            // new entry is moved only when it is not due first (then the entries due before it
            // move one place toward the end): the usual action, due in microseconds, stays where
            // `append` put it, without a copy through the stack.
            let last = h.count - 1
            var k = last
            while k > 0 && h[k - 1].time <= time { k -= 1 }
            guard k < last else { return }
            let e = h[last]
            var j = last
            while j > k {
                h[j] = h[j - 1]
                j -= 1
            }
            h[k] = e
        }
    }

    @inline(__always)
    mutating func pop() -> (time: Int64, action: Action)? {
        guard let next = entries.popLast() else { return nil }
        return (next.time, next.action)
    }
}
