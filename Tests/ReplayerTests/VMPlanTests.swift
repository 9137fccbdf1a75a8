import Testing
@testable import Replayer
import TraceFormat

/// ``VMTracking/plan(binding:spans:)`` on thread spans made up to the shapes real host traces take.
@Suite("VMs one after another: the plan")
struct VMPlanTests {
    static func plan(_ threads: [(Int32, UInt32?, Int, Int)]) -> VMTracking {
        var binding = IntMap<Int32, UInt32>(), spans = IntMap<Int32, VMTracking.Span>()
        for (t, a, first, last) in threads {
            if let a { binding[t] = a }
            spans[t] = VMTracking.Span(first: first, last: last)
        }
        return VMTracking.plan(binding: binding, spans: spans)
    }

    @Test("one VM: no start, whatever order its vCPU threads begin and end in")
    func oneVM() {
        // vCPU 1's thread begins after vCPU 0's stopped (vCPU 0 halted for good): still one VM.
        let p = Self.plan([(10, 0, 0, 50), (11, 1, 60, 100), (12, nil, 5, 90)])
        #expect(p.starts.isEmpty && p.concurrent == nil && p.nextStart == Int.max)
    }

    @Test("three VMs one after another, the next VM starting at its earliest vCPU thread")
    func sequential() {
        let p = Self.plan([(10, 0, 0, 50), (11, 1, 2, 49),
                           (20, nil, 60, 90), (21, 1, 65, 95), (22, 0, 70, 99),   // thread 20: vCPU 0, bound by no event
                           (30, 0, 120, 150), (31, 1, 121, 140)])
        #expect(p.starts == [60, 120])
        #expect(p.concurrent == nil)
        #expect(p.nextStart == 60)
    }

    @Test("a vCPU run by two threads at once: concurrent VMs, no split from there")
    func concurrent() {
        let p = Self.plan([(10, 0, 0, 50), (11, 1, 2, 49), (20, 0, 30, 90)])
        #expect(p.starts.isEmpty)
        #expect(p.concurrent == VMTracking.Concurrent(apicID: 0, thread: 20, other: 10, event: 30))
        // A thread of the old VM still running when the new one begins is the same verdict.
        let q = Self.plan([(10, 0, 0, 50), (11, 1, 2, 80), (20, 0, 60, 90)])
        #expect(q.starts.isEmpty && q.concurrent != nil)
        #expect(p.concurrentUntil == nil && p.concurrentPeriods == 1)
    }

    @Test("a VM begun after concurrent VMs have all stopped starts from reset again")
    func afterConcurrent() {
        let p = Self.plan([(10, 0, 0, 50), (11, 1, 2, 49), (20, 0, 30, 90), (21, 1, 31, 95),
                           (30, 0, 100, 120), (31, 1, 101, 110)])
        #expect(p.concurrent?.event == 30)
        #expect(p.starts == [100])
        #expect(p.concurrentUntil == 100)
        #expect(p.concurrentPeriods == 1)
    }

    @Test("a hostile trace with more VM starts than the reset budget stops splitting, and says where")
    func budget() {
        let apics = 1000
        var threads: [(Int32, UInt32?, Int, Int)] = (0..<apics).map { (Int32($0), UInt32($0), 0, 0) }
        let vms = VMTracking.resetBudget / apics + 5
        for k in 1...vms { threads.append((Int32(apics + k), 0, 2 * k, 2 * k)) }
        let p = Self.plan(threads)
        #expect(p.starts.count == VMTracking.resetBudget / apics)
        #expect(p.limitedAt != nil)
    }
}
