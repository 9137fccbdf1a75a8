import Testing
@testable import Simulator

@Suite("Simulator: event queue")
struct EventQueueTests {
    @Test("actions pop in (time, scheduling order), however they were scheduled and interleaved with pops")
    func order() {
        var rng = SimRandom(seed: 7)
        var queue = EventQueue<Int>()
        // The reference: every pending (time, sequence), kept sorted.
        var pending: [(time: Int64, seq: Int)] = []
        var seq = 0
        for round in 0..<4_000 {
            // Few distinct times, so ties are common; near and far deadlines like a simulation's.
            let time = Int64(round / 4) + (rng.chance(0.5) ? Int64(rng.below(4)) : Int64(rng.below(400)))
            queue.schedule(seq, at: time)
            pending.append((time, seq))
            seq += 1
            if rng.chance(0.45) {
                pending.sort { $0.time < $1.time || ($0.time == $1.time && $0.seq < $1.seq) }
                let want = pending.removeFirst()
                let got = queue.pop()
                #expect(got?.time == want.time && got?.action == want.seq)
            }
        }
        pending.sort { $0.time < $1.time || ($0.time == $1.time && $0.seq < $1.seq) }
        for want in pending {
            let got = queue.pop()
            #expect(got?.time == want.time && got?.action == want.seq)
        }
        #expect(queue.pop() == nil && queue.isEmpty)
    }
}
