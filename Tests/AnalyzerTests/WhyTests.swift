import Foundation
import Testing
@testable import Analyzer
import Simulator
import TraceFormat

@Suite("why: where an interrupt stopped")
struct WhyTests {
    /// The ground-truth entry of the only fault of a simulated trace.
    static func fault(_ reader: TraceReader) -> GroundTruth { (reader.metadata.groundTruth ?? []).first { $0.causedBy == nil }! }

    @Test("a pin whose EOI acked another pin stops at its route, Remote IRR set")
    func remoteIRR() throws {
        let reader = try AnalyzerTestSupport.simulate("x86-legacy", faults: ["eoi-wrong-pin"], seed: 3)
        let g = Self.fault(reader)
        let r = try Why.explain(reader, cpu: g.cpu, vector: nil, irq: g.irq, at: nil)
        let stop = r.steps.first { !$0.ok }
        #expect(stop?.stage == "route")
        #expect(stop?.text.contains("Remote IRR SET") == true)
        #expect(stop?.text.contains("did not reach this pin") == true)
        #expect(r.conclusion.hasPrefix("stopped at the route"))
    }

    @Test("a vCPU never woken: the vector is pending and the vCPU halted")
    func halted() throws {
        let reader = try AnalyzerTestSupport.simulate("x86-virtio", faults: ["no-wakeup"], seed: 2)
        let g = Self.fault(reader)
        let r = try Why.explain(reader, cpu: g.cpu, vector: g.vector, irq: nil, at: nil)
        let stop = r.steps.first { !$0.ok }
        #expect(stop?.stage == "delivery")
        #expect(stop?.text.contains("halted") == true)
    }

    @Test("a vector never EOI'd blocks its own next arrival")
    func inService() throws {
        let reader = try AnalyzerTestSupport.simulate("x86-virtio", faults: ["missing-eoi"], seed: 2)
        let g = Self.fault(reader)
        let r = try Why.explain(reader, cpu: g.cpu, vector: g.vector, irq: nil, at: nil)
        let stop = r.steps.first { !$0.ok }
        #expect(stop?.stage == "delivery" || stop?.stage == "eoi")
        #expect(stop?.text.contains("in service") == true)
    }

    @Test("in a clean trace the timer goes all the way through; before the fault, so does the faulty vector")
    func clean() throws {
        let reader = try AnalyzerTestSupport.simulate("x86-virtio", faults: ["missing-eoi"], seed: 2)
        let g = Self.fault(reader)
        let timer = try Why.explain(reader, cpu: g.cpu, vector: 236, irq: nil, at: nil)
        #expect(timer.steps.allSatisfy { $0.ok }, "\(timer.steps)")
        let before = try Why.explain(reader, cpu: g.cpu, vector: g.vector, irq: nil, at: g.timeNs - 1_000_000)
        #expect(before.steps.allSatisfy { $0.ok }, "\(before.steps)")
        #expect(throws: IrqtraceError.self) { try Why.explain(reader, cpu: 0, vector: nil, irq: 30, at: nil) }
    }
}
