import Foundation
import Testing
@testable import Analyzer
import Recorder
import Replayer
import Simulator
import TraceFormat

enum AnalyzerTestSupport {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func simulate(_ scenario: String, faults: [String] = [], seed: UInt64, durationNs: Int64? = nil, output: String? = nil) throws -> TraceReader {
        var o = Simulator.Options(scenario: BuiltinScenarios.named(scenario)!, faults: try faults.map { try FaultRequest(parsing: $0) },
                                  seed: seed, durationNs: durationNs, level: 1)
        o.output = output
        let out = OutputFile()
        _ = try Simulator.run(o, to: out)
        return try TraceReader(data: Data(out.memory))
    }
}

@Suite("Analyzer: x86 KVM")
struct X86AnalyzerTests {
    static let x86Faults = FaultCatalog.all.filter { $0.platform == "x86_64" }.map(\.name)

    /// Precision and recall against the simulator's ground truth (the 20-seed figures come from
    /// `irqtrace-bench analyze-faults`; three seeds here keep the suite fast).
    @Test("every simulated x86 fault is found, with its consequences, and nothing else", arguments: x86Faults)
    func faultsFound(name: String) throws {
        let kind = FaultCatalog.named(name)!
        for seed: UInt64 in [1, 2, 3] {
            let reader = try AnalyzerTestSupport.simulate(kind.scenario, faults: [name], seed: seed)
            let truth = reader.metadata.groundTruth ?? []
            #expect(!truth.isEmpty)
            let report = try Analyzer.analyze(reader)
            let score = Score(findings: report.findings, truth: truth)
            #expect(score.precision == 1 && score.recall == 1,
                    "\(name) seed \(seed): missed \(score.missed.map { "\($0.expect) cpu \($0.cpu) v \($0.vector ?? -1)" }), spurious \(score.spurious.map { "\($0.kind.rawValue) cpu \($0.cpu ?? -1) v \($0.vector ?? -1): \($0.explanation)" })")
            // Consequences point at the finding of their cause.
            for f in report.findings where f.causedBy != nil {
                #expect(f.causedBy! < report.findings.count && report.findings[f.causedBy!].causedBy == nil)
            }
        }
    }

    @Test("clean simulated runs have no warning or error findings")
    func cleanRuns() throws {
        for scenario in ["x86-virtio", "x86-legacy", "x86-tpr", "x86-posted", "x86-q35", "x86-q35-intremap", "x86-q35-vfio"] {
            for seed: UInt64 in [1, 2, 3] {
                let report = try Analyzer.analyze(try AnalyzerTestSupport.simulate(scenario, seed: seed))
                #expect(report.findings.filter { $0.severity >= .warning }.isEmpty, "\(scenario) seed \(seed): \(report.findings.map(\.explanation))")
                #expect(report.divergences == 0)
            }
        }
    }

    @Test("stale-irte (qemu-x86): the finding names where the stale entry sent the vector, and the IRTE the guest wrote")
    func staleIRTE() throws {
        let reader = try AnalyzerTestSupport.simulate("x86-q35-intremap", faults: ["stale-irte"], seed: 4)
        let report = try Analyzer.analyze(reader)
        #expect(report.adapter == "qemu-x86")
        #expect(report.divergences == 1)
        let f = try #require(report.findings.first)
        #expect(report.findings.count == 1 && f.kind == .misroutedVector && f.severity == .error)
        let g = try #require(reader.metadata.groundTruth?.first)
        #expect(f.cpu == g.cpu && f.vector == g.vector)
        #expect(f.explanation.contains("vtd_ir_irte_get"))
    }

    @Test("real QEMU x86 recordings (pc, q35 with VT-d or AMD-Vi remapping): no warning or error findings; the info ones are boot and shutdown noise")
    func realQEMURecordings() throws {
        let dir = AnalyzerTestSupport.root.appendingPathComponent("traces").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("qemu-x86-") && $0.hasSuffix(".log.zst") }.sorted()
        #expect(files.count >= 5)
        for f in files {
            let (reader, _) = try Recorder.open(dir + "/" + f)
            let report = try Analyzer.analyze(reader)
            #expect(report.adapter == "qemu-x86")
            #expect(report.findings.allSatisfy { $0.severity == .info }, "\(f): \(report.findings.map(\.explanation))")
            // Edges on pins not in use (masked, vector 0: before Linux set them up, or at shutdown), and the
            // firmware's unprogrammed entry sending vector 0 once.
            #expect(report.findings.allSatisfy { ($0.kind == .lostInterrupt && $0.irq != nil) || ($0.kind == .misroutedVector && $0.vector == 0) })
        }
    }

    @Test("real KVM recordings: no error findings on the clean ones; the masked pin of the edge scenario is boot-time info")
    func realRecordings() throws {
        let dir = AnalyzerTestSupport.root.appendingPathComponent("traces/kvm").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".trace.txt") || $0.hasSuffix(".dat") }.sorted()
        #expect(files.count >= 8)
        for f in files {
            // The fault scenarios' recordings have their own expectations (RealKVMFaultTests).
            if RealKVMFaultTests.faultScenarios.contains(where: { f.hasPrefix("pvm-\($0).") }) { continue }
            let (reader, _) = try Recorder.open(dir + "/" + f)
            let report = try Analyzer.analyze(reader)
            if f == "pvm-coalesce.trace.txt" {
                // Its last step sends an IOAPIC edge (pin 7) and an MSI to APIC ID 15, which no vCPU has
                // (misrouted); MSI 0x36 and pin 4's edge are each sent twice while pending (coalesced).
                #expect(report.findings.filter { $0.severity == .error }.map { "\($0.kind.rawValue) \($0.dest ?? -1) \($0.vector ?? -1)" }.sorted()
                        == ["misrouted_vector 15 103", "misrouted_vector 15 104"], "\(report.findings.map(\.explanation))")
                #expect(report.findings.filter { $0.severity == .warning }.map { "\($0.kind.rawValue) \($0.vector ?? -1)" } == ["lost_interrupt 100"])
                #expect(report.findings.filter { $0.severity == .info }.map { "\($0.kind.rawValue) \($0.vector ?? -1)" } == ["lost_interrupt 54"])
                continue
            }
            #expect(report.findings.filter { $0.severity == .error }.isEmpty, "\(f): \(report.findings.map(\.explanation))")
            if f == "pvm-ioapic-edge.trace.txt" {
                #expect(report.findings.count == 1)
                #expect(report.findings.first?.kind == .lostInterrupt && report.findings.first?.severity == .info && report.findings.first?.irq == 6)
            }
        }
    }

    @Test("--only and --min-severity keep caused_by pointing into the kept list")
    func filtering() throws {
        let reader = try AnalyzerTestSupport.simulate("x86-virtio", faults: ["no-wakeup"], seed: 1)
        let all = try Analyzer.analyze(reader)
        #expect(all.findings.first?.kind == .haltedWithPending)
        #expect(all.findings.dropFirst().allSatisfy { $0.causedBy == 0 && $0.kind == .lostInterrupt })
        let lostOnly = try Analyzer.analyze(reader, options: Analyzer.Options(only: [.lostInterrupt]))
        #expect(lostOnly.findings.count == all.findings.count - 1)
        #expect(lostOnly.findings.allSatisfy { $0.causedBy == nil })
        let none = try Analyzer.analyze(reader, options: Analyzer.Options(only: [.interruptStorm]))
        #expect(none.findings.isEmpty)
    }

    /// A real recording whose cause is not the first finding: with the warnings before it filtered
    /// out, the consequence's text names the cause by its index in the kept list, as caused_by does.
    @Test("an explanation that names its cause by index follows the kept list")
    func renumbered() throws {
        let path = AnalyzerTestSupport.root.appendingPathComponent("traces/kvm-multi/pvm-concurrent-then-sequential.trace.txt").path
        let reader = try Recorder.open(path).0
        for options in [Analyzer.Options(), Analyzer.Options(minSeverity: .error)] {
            let r = try Analyzer.analyze(reader, options: options)
            let caused = r.findings.filter { $0.causedBy != nil && $0.explanation.contains("because of finding") }
            #expect(!caused.isEmpty)
            for f in caused { #expect(f.explanation.contains("because of finding \(f.causedBy!)"), "\(f.explanation)") }
        }
        let lostOnly = try Analyzer.analyze(reader, options: Analyzer.Options(only: [.lostInterrupt]))
        #expect(lostOnly.findings.contains { $0.explanation.contains("(not shown: filtered out)") })
        #expect(Analyzer.renumber("because of finding 12; finding 1", finding: 1, as: "0") == "because of finding 12; finding 0")
    }

    /// Several merges of one vCPU and vector before its delivery (the detector keeps the first apart
    /// from the later ones): each is judged, in order, with the delivery that confirms it; one within
    /// the cross-CPU clock skew of the delivery is not; those never delivered are judged at the end.
    @Test("several merges of one vector: each confirmed by the delivery, or judged at the end")
    func severalMerges() {
        var d = X86Detectors()
        let ipi = KVMX86Adapter.MessageSource.ipi.rawValue | 0x100   // an IPI, deliverable: one finding each
        func merge(_ event: Int, _ time: Int64, cpu: Int32, vector: Int16) {
            d.consume(Transition(.coalesced, event: event, time: time, cpu: cpu, vector: vector, value: -1, aux: ipi))
        }
        d.consume(Transition(.accepted, event: 0, time: 0, cpu: 1, vector: 0x41))
        merge(1, 1_000, cpu: 1, vector: 0x41)
        merge(2, 2_000, cpu: 1, vector: 0x41)
        merge(3, 3_000, cpu: 1, vector: 0x41)
        merge(4, 190_000, cpu: 1, vector: 0x41)   // within the skew window of the delivery: not reported
        d.consume(Transition(.delivered, event: 5, time: 200_000, cpu: 1, vector: 0x41, value: 0, aux: 0x41))
        merge(6, 300_000, cpu: 2, vector: 0x42)
        merge(7, 310_000, cpu: 2, vector: 0x42)
        d.finish(machine: X86Machine(vcpus: 3, behaviour: .kvm), endTime: 1_000_000)
        let merged = d.findings.filter { $0.explanation.contains("coalesced") }
        #expect(merged.map(\.events) == [[1, 5], [2, 5], [3, 5], [6], [7]])
        #expect(merged.map(\.cpu) == [1, 1, 1, 2, 2])
    }
}
