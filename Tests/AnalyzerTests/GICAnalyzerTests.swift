import Foundation
import Testing
@testable import Analyzer
import Recorder
import Replayer
import Simulator
import TraceFormat

@Suite("Analyzer: arm64 GICv2 (QEMU gic_* events)")
struct GICAnalyzerTests {
    static let armFaults = FaultCatalog.all.filter { $0.platform == "arm64" }.map(\.name)

    /// Precision and recall against the simulator's ground truth (the 20-seed figures come from
    /// `irqtrace-bench analyze-faults`; three seeds here keep the suite fast).
    @Test("every simulated arm64 fault is found, with its consequences, and nothing else", arguments: armFaults)
    func faultsFound(name: String) throws {
        let kind = FaultCatalog.named(name)!
        for seed: UInt64 in [1, 2, 3] {
            let reader = try AnalyzerTestSupport.simulate(kind.scenario, faults: [name], seed: seed)
            let truth = reader.metadata.groundTruth ?? []
            #expect(truth.contains { $0.causedBy == nil && $0.expect == kind.expect })
            let report = try Analyzer.analyze(reader)
            #expect(report.adapter == "qemu-gicv2")
            let score = Score(findings: report.findings, truth: truth)
            #expect(score.precision == 1 && score.recall == 1,
                    "\(name) seed \(seed): missed \(score.missed.map { "\($0.expect) cpu \($0.cpu) irq \($0.irq ?? -1)" }), spurious \(score.spurious.map { "\($0.kind.rawValue) cpu \($0.cpu ?? -1) irq \($0.irq ?? -1): \($0.explanation)" })")
            // GIC findings name the interrupt ID, never a vector; consequences point at their cause.
            for f in report.findings {
                #expect(f.vector == nil && f.irq != nil && f.cpu != nil)
                if let c = f.causedBy { #expect(c < report.findings.count && report.findings[c].causedBy == nil) }
            }
        }
    }

    @Test("lr-overwrite seed 16: the lost SPI edge is not taken for a misplaced banked write (no cascade, no spurious finding)")
    func lostEdgeIsNotABankedWrite() throws {
        // Found by `irqtrace-bench analyze-faults 20`: QEMU printed CPU 1's line where the model expected
        // CPU 0's for the lost SPI 80; the banked-write repair "explained" it by moving a CPU's SGI
        // priorities, and 14,810 divergences and a second lost_interrupt followed.
        let reader = try AnalyzerTestSupport.simulate("arm-gicv2", faults: ["lr-overwrite"], seed: 16)
        let truth = reader.metadata.groundTruth ?? []
        let report = try Analyzer.analyze(reader)
        #expect(report.divergences < 100)
        let score = Score(findings: report.findings, truth: truth)
        #expect(score.precision == 1 && score.recall == 1, "spurious \(score.spurious.map(\.explanation))")
    }

    @Test("a missing EOIR blocks the CPU: its pending interrupts are consequences, as the ground truth lists them")
    func missingEOIConsequences() throws {
        let reader = try AnalyzerTestSupport.simulate("arm-gicv2", faults: ["gic-missing-eoi"], seed: 1)
        let truth = reader.metadata.groundTruth ?? []
        let primary = try #require(truth.first { $0.causedBy == nil })
        #expect(truth.count > 1)
        #expect(truth.filter { $0.causedBy != nil }.allSatisfy { $0.expect == "lost_interrupt" && $0.cpu == primary.cpu && $0.causedBy == 0 })
        let report = try Analyzer.analyze(reader)
        let stuck = try #require(report.findings.firstIndex { $0.kind == .stuckInService })
        #expect(report.findings[stuck].explanation.contains("GICC_EOIR"))
        let consequences = report.findings.filter { $0.causedBy == stuck }
        #expect(consequences.count == truth.count - 1)
        #expect(consequences.allSatisfy { $0.kind == .lostInterrupt && $0.cpu == primary.cpu })
    }

    @Test("lost-sgi-source: the replay follows QEMU after the merged SGI (one divergence, not thousands)")
    func lostSGIFollows() throws {
        for seed: UInt64 in [1, 2, 3] {
            let reader = try AnalyzerTestSupport.simulate("arm-gicv2", faults: ["lost-sgi-source"], seed: seed)
            let g = try #require(reader.metadata.groundTruth?.first)
            let replay = try Replayer.check(reader)
            #expect(!replay.divergences.isEmpty && replay.divergences.count <= 3, "seed \(seed): \(replay.divergences.count) divergences")
            #expect(replay.divergences.allSatisfy { $0.timeNs >= g.timeNs })
            let report = try Analyzer.analyze(reader)
            #expect(report.findings.count == 1)
            #expect(report.findings.first?.kind == .lostInterrupt && report.findings.first?.irq == g.irq && report.findings.first?.cpu == g.cpu)
        }
    }

    @Test("clean simulated runs have no warning or error findings")
    func cleanRuns() throws {
        for scenario in ["arm-gicv2", "arm-gicv2-el2"] {
            for seed: UInt64 in [1, 2, 3] {
                let report = try Analyzer.analyze(try AnalyzerTestSupport.simulate(scenario, seed: seed))
                #expect(report.findings.filter { $0.severity >= .warning }.isEmpty, "\(scenario) seed \(seed): \(report.findings.map(\.explanation))")
                #expect(report.divergences == 0)
            }
        }
    }

    @Test("real QEMU GICv2 recordings: no error findings")
    func realRecordings() throws {
        let dir = AnalyzerTestSupport.root.appendingPathComponent("traces").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("qemu-arm64-virt-gicv2-") && $0.hasSuffix(".log.zst") }.sorted()
        #expect(files.count >= 4)
        for f in files {
            let (reader, _) = try Recorder.open(dir + "/" + f)
            let report = try Analyzer.analyze(reader)
            #expect(report.adapter == "qemu-gicv2")
            #expect(report.divergences == 0)
            #expect(report.findings.filter { $0.severity == .error }.isEmpty, "\(f): \(report.findings.map(\.explanation))")
        }
    }

    @Test("transitions cost nothing when off and do not change what the replay reports")
    func transitionsOff() throws {
        let reader = try AnalyzerTestSupport.simulate("arm-gicv2", faults: ["wrong-itargetsr"], seed: 2)
        var on = try QEMUGICAdapter.forTrace(reader), off = try QEMUGICAdapter.forTrace(reader)
        on.recordTransitions = true
        var recorded = 0
        try reader.forEachBatch { b in
            for i in 0..<b.count {
                on.handle(b, i, catalog: reader.catalog)
                off.handle(b, i, catalog: reader.catalog)
                recorded += on.transitions.count
                on.transitions.removeAll(keepingCapacity: true)
            }
        }
        #expect(off.transitions.isEmpty)
        #expect(recorded > 1000)
        let a = on.finish(), b = off.finish()
        #expect(a.divergences == b.divergences && a.digest == b.digest && a.observationsChecked == b.observationsChecked)
        #expect(b.divergences == (try Replayer.check(reader)).divergences)
    }
}
