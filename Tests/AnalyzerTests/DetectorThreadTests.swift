import Testing
@testable import Analyzer
@testable import Replayer

@Suite("Analyzer: detectors on a second thread")
struct DetectorThreadTests {
    /// Buffers handed over one after another reach the consumer whole and in order, however far the
    /// producer runs ahead of a slow consumer (the queue holds at most `depth`), and each hand-over
    /// leaves the producer an empty buffer to fill (a recycled one when the consumer has given one back).
    @Test("transitions arrive whole and in order; the producer gets an empty buffer back")
    func order() {
        final class Seen: @unchecked Sendable { var events: [Int] = []; var vmEnds = 0 }
        let seen = Seen()
        let thread = DetectorThread(depth: 2) { b in
            b.forEach { seen.events.append($0.eventIndex) }
            seen.vmEnds += b.vmEnds.count
            if b.count % 7 == 0 { for _ in 0..<2_000 { _ = seen.events.count.hashValue } }   // a slow consumer now and then
        }
        var buffer = TransitionBuffer()
        var next = 0
        for slice in 0..<500 {
            for _ in 0..<(slice % 13 + 1) {
                buffer.append(Transition(.raised, event: next, time: Int64(next), cpu: 0, vector: 0x30))
                next += 1
            }
            if slice % 100 == 99 { buffer.vmEnds.append(.init(machine: X86Machine(vcpus: 1, behaviour: .kvm), endTime: Int64(next))) }
            thread.submit(&buffer)
            #expect(buffer.isEmpty && buffer.vmEnds.isEmpty)
        }
        thread.submit(&buffer)   // (empty: nothing handed over)
        thread.finish()
        thread.finish()          // (idempotent)
        #expect(seen.events == Array(0..<next))
        #expect(seen.vmEnds == 5)
    }
}
