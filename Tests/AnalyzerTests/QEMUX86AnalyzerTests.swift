import Foundation
import Testing
@testable import Analyzer
import Replayer
import Simulator
import TraceFormat

/// The IOAPIC and message rules on QEMU x86 logs, against the simulator's qemu-x86 output.
@Suite("Analyzer: QEMU x86")
struct QEMUX86AnalyzerTests {
    /// The x86 faults a QEMU log can show (the catalog's `outputs`), stale-irte included.
    static let faults = FaultCatalog.all.filter { $0.outputs["qemu-x86"] != nil }.map(\.name)

    @Test("every x86 fault a QEMU log can show is found, and nothing else", arguments: faults)
    func faultsFound(name: String) throws {
        let kind = FaultCatalog.named(name)!
        for seed: UInt64 in [1, 2, 3] {
            let reader = try AnalyzerTestSupport.simulate(kind.scenario, faults: [name], seed: seed, output: "qemu-x86")
            let truth = reader.metadata.groundTruth ?? []
            #expect(truth.filter { $0.causedBy == nil }.count == 1, "\(name) seed \(seed) fired \(truth.count) times")
            let report = try Analyzer.analyze(reader)
            #expect(report.adapter == "qemu-x86")
            #expect((report.divergences == 0) == (kind.outputs["qemu-x86"] == "consistent"), "\(name) seed \(seed): \(report.divergences) divergences")
            let score = Score(findings: report.findings, truth: truth)
            #expect(score.precision == 1 && score.recall == 1,
                    "\(name) seed \(seed): missed \(score.missed.map(\.detail)), spurious \(score.spurious.map(\.explanation))")
        }
    }

    @Test("faults QEMU's events cannot show are refused for qemu-x86, with the reason")
    func notExpressible() throws {
        for name in ["lost-msi", "missing-eoi", "no-wakeup", "eoi-wrong-pin", "tpr-not-honoured"] {
            let kind = try #require(FaultCatalog.named(name))
            #expect(kind.outputs["qemu-x86"] == nil && kind.notExpressible["qemu-x86"] != nil)
            var o = Simulator.Options(scenario: BuiltinScenarios.named(kind.scenario)!, faults: [try FaultRequest(parsing: name)])
            o.output = "qemu-x86"
            #expect(throws: IrqtraceError.self) { try Simulator.run(o, to: OutputFile()) }
        }
    }

    @Test("the KVM scenarios written as QEMU prints them: no warning or error findings when clean", arguments: ["x86-virtio", "x86-legacy", "x86-tpr"])
    func cleanRuns(scenario: String) throws {
        for seed: UInt64 in [1, 2] {
            let report = try Analyzer.analyze(try AnalyzerTestSupport.simulate(scenario, seed: seed, output: "qemu-x86"))
            #expect(report.findings.filter { $0.severity >= .warning }.isEmpty, "\(scenario) seed \(seed): \(report.findings.map(\.explanation))")
        }
    }

    @Test("rte-rewrite-in-service: the finding proves the EOI came and names the new vector")
    func remoteIRRStuckExplanation() throws {
        let reader = try AnalyzerTestSupport.simulate("x86-legacy", faults: ["rte-rewrite-in-service"], seed: 5, output: "qemu-x86")
        let report = try Analyzer.analyze(reader)
        let f = try #require(report.findings.first { $0.kind == .remoteIRRStuck })
        #expect(f.severity == .error && f.events.count == 2 && f.events[0] < f.events[1])
        #expect(f.explanation.contains("ioapic_eoi_broadcast") && f.explanation.contains("rewritten to vector"))
    }
}
