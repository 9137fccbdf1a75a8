import Foundation
import Testing
@testable import Analyzer
import Replayer
import Simulator
import TraceFormat

/// arm64 KVM vGIC tracepoints (the simulator's kvm-arm64 output): what a hardware vGIC leaves visible.
@Suite("Analyzer: arm64 KVM")
struct KVMArm64AnalyzerTests {
    @Test("lr-overwrite (kvm-arm64): the vCPU woken for the SPI waits again at once; found, and nothing else")
    func lrOverwrite() throws {
        for seed: UInt64 in [1, 2, 3] {
            let reader = try AnalyzerTestSupport.simulate("arm-gicv2", faults: ["lr-overwrite"], seed: seed, output: "kvm-arm64")
            let truth = reader.metadata.groundTruth ?? []
            #expect(truth.count == 1)
            let report = try Analyzer.analyze(reader)
            #expect(report.adapter == "kvm-arm64" && report.divergences == 0)
            let score = Score(findings: report.findings, truth: truth)
            #expect(score.precision == 1 && score.recall == 1,
                    "seed \(seed): missed \(score.missed.map(\.detail)), spurious \(score.spurious.map(\.explanation))")
            let f = try #require(report.findings.first)
            #expect(f.kind == .lostInterrupt && f.severity == .error && f.irq == truth[0].irq && f.events.count == 3)
        }
    }

    @Test("clean kvm-arm64 runs: no findings", arguments: ["arm-gicv2", "arm-gicv2-el2"])
    func cleanRuns(scenario: String) throws {
        for seed: UInt64 in [1, 2] {
            let report = try Analyzer.analyze(try AnalyzerTestSupport.simulate(scenario, seed: seed, output: "kvm-arm64"))
            #expect(report.findings.isEmpty, "\(scenario) seed \(seed): \(report.findings.map(\.explanation))")
        }
    }

    @Test("a vCPU woken for an SPI that runs before its next WFI took it; a wakeup long after the injection is not its kick")
    func windows() {
        var d = KVMArm64Detectors()
        d.consume(Transition(.raised, event: 0, time: 1_000_000, irq: 80))
        d.consume(Transition(.woke, event: 1, time: 1_001_000, cpu: 2))
        d.consume(Transition(.halted, event: 2, time: 1_040_000, cpu: 2))      // ran 39 µs: took it
        d.consume(Transition(.raised, event: 3, time: 2_000_000, irq: 81))
        d.consume(Transition(.woke, event: 4, time: 2_100_000, cpu: 1))        // 100 µs later: not the SPI's kick
        d.consume(Transition(.halted, event: 5, time: 2_100_500, cpu: 1))
        #expect(d.findings.isEmpty)
        d.consume(Transition(.raised, event: 6, time: 3_000_000, irq: 82))
        d.consume(Transition(.woke, event: 7, time: 3_001_000, cpu: 3))
        d.consume(Transition(.halted, event: 8, time: 3_001_600, cpu: 3))
        #expect(d.findings.count == 1 && d.findings.first?.cpu == 3 && d.findings.first?.irq == 82 && d.findings.first?.events == [6, 7, 8])
    }
}
