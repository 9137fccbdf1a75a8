import Foundation
import Testing
@testable import Analyzer
import Recorder
import Replayer
import TraceFormat

/// Real KVM recordings of real faults (traces/kvm/pvm-<scenario>.*, made by
/// scripts/kvm-guest/record-kvm-traces.sh on a kvm_pvm host with tinyvmm's fault scenarios): the
/// finding each must give (docs/ANALYZERS.md, "Real recordings with real faults"), no other warning or
/// error, and no divergence (KVM behaved as the models say in all of them).
@Suite("Analyzer: real KVM recordings with real faults")
struct RealKVMFaultTests {
    static let dir = AnalyzerTestSupport.root.appendingPathComponent("traces/kvm").path

    /// The recordings of the fault scenarios, in every format recorded.
    static let recordings: [String] = {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        return names.filter { n in
            faultScenarios.contains { n.hasPrefix("pvm-\($0).") } && (n.hasSuffix(".trace.txt") || n.hasSuffix(".dat") || n.hasSuffix(".report.txt"))
        }
    }()
    static let faultScenarios = ["idt-fault", "misroute", "resend-pending", "masked-edge", "level-storm", "halt-cli", "halt-tpr"]

    static func analyze(_ name: String) throws -> AnalysisReport {
        let (reader, _) = try Recorder.open(dir + "/" + name)
        return try Analyzer.analyze(reader)
    }

    /// (kind, severity, cpu, dest, vector, irq) of each finding, for comparisons.
    struct Key: Hashable, CustomStringConvertible {
        var kind: Finding.Kind, severity: Finding.Severity, cpu: Int?, dest: Int?, vector: Int?, irq: Int?
        init(_ f: Finding) { (kind, severity, cpu, dest, vector, irq) = (f.kind, f.severity, f.cpu, f.dest, f.vector, f.irq) }
        init(_ kind: Finding.Kind, _ severity: Finding.Severity, cpu: Int? = nil, dest: Int? = nil, vector: Int? = nil, irq: Int? = nil) {
            (self.kind, self.severity, self.cpu, self.dest, self.vector, self.irq) = (kind, severity, cpu, dest, vector, irq)
        }
        var description: String { "\(kind.rawValue) \(severity.rawValue) cpu \(cpu ?? -1) dest \(dest ?? -1) v \(vector ?? -1) irq \(irq ?? -1)" }
    }

    @Test("all seven fault scenarios are recorded (text; trace.dat and trace-cmd report for two)")
    func present() {
        for s in Self.faultScenarios { #expect(Self.recordings.contains("pvm-\(s).trace.txt"), "pvm-\(s).trace.txt") }
        #expect(Self.recordings.filter { $0.hasSuffix(".dat") }.count >= 2)
    }

    @Test("every format of every fault recording replays with no divergence", arguments: recordings)
    func noDivergence(name: String) throws {
        let (reader, _) = try Recorder.open(Self.dir + "/" + name)
        let r = try Replayer.check(reader)
        #expect(r.divergences.isEmpty, "\(r.divergences.prefix(2))")
        #expect(try Self.analyze(name).divergences == 0)
    }

    @Test("(a) a vector whose delivery faults (no IDT gate) stays in service and blocks lower and equal classes",
          arguments: recordings.filter { $0.hasPrefix("pvm-idt-fault.") })
    func idtFault(name: String) throws {
        let r = try Self.analyze(name)
        let serious = r.findings.filter { $0.severity >= .warning }
        #expect(Set(serious.map(Key.init)) == [Key(.stuckInService, .error, cpu: 0, vector: 0x58),
                                                Key(.lostInterrupt, .error, cpu: 0, vector: 0x43), Key(.lostInterrupt, .error, cpu: 0, vector: 0x51)],
                "\(serious.map(Key.init))")
        let stuck = try #require(r.findings.firstIndex { $0.kind == .stuckInService })
        #expect(r.findings[stuck].explanation.contains("blocks the pending vectors 67, 81"))
        #expect(r.findings[stuck].explanation.contains("delivery-time EOI"))
        // The blocked vectors are its consequences.
        for f in r.findings where f.kind == .lostInterrupt { #expect(f.causedBy == stuck) }
    }

    @Test("(b) MSIs, IPIs and an IOAPIC pin to APIC IDs no vCPU has: misrouted, with dest and no cpu")
    func misroute() throws {
        let r = try Self.analyze("pvm-misroute.trace.txt")
        #expect(Set(r.findings.map(Key.init)) == [
            Key(.misroutedVector, .error, dest: 15, vector: 0x68),            // KVM_SIGNAL_MSI
            Key(.misroutedVector, .error, dest: 2, vector: 0x69),
            Key(.misroutedVector, .error, dest: 15, vector: 0x6a),            // fixed IPIs from vCPU 0
            Key(.misroutedVector, .error, dest: 2, vector: 0x6b),
            Key(.misroutedVector, .error, dest: 15, vector: 0x67, irq: 7),    // IOAPIC pin 7
        ], "\(r.findings.map(Key.init))")
        #expect(r.findings.count == 5)
    }

    @Test("(c) a vector re-sent while still pending: coalesced, a warning (info for an MSI)")
    func resendPending() throws {
        let r = try Self.analyze("pvm-resend-pending.trace.txt")
        let expected: [Key] = [
            Key(.lostInterrupt, .info, cpu: 0, vector: 0x36),                 // MSI 0x36 sent 3 times: merged twice (one finding)
            Key(.lostInterrupt, .warning, cpu: 0, vector: 0x46),              // IPI 0x46 twice
            Key(.lostInterrupt, .warning, cpu: 0, vector: 0x64, irq: 4),      // IOAPIC edge pin 4 twice
        ]
        let found: [String] = r.findings.map { Key($0).description }.sorted()
        #expect(found == expected.map(\.description).sorted())
        #expect(r.findings.allSatisfy { $0.explanation.contains("coalesced") && $0.events.count == 2 })
        #expect(r.findings.first { $0.vector == 0x36 }?.explanation.contains("2 times") == true)
    }

    @Test("(d) an edge while the guest has its pin masked (unmasked before): lost, an error")
    func maskedEdge() throws {
        let r = try Self.analyze("pvm-masked-edge.trace.txt")
        #expect(r.findings.map(Key.init) == [Key(.lostInterrupt, .error, cpu: 0, vector: 0x66, irq: 6)], "\(r.findings.map(Key.init))")
    }

    @Test("(e) a level line never deasserted: a storm past KVM's 10,000 delay; the guest that never EOIs is not stuck on pvm")
    func levelStorm() throws {
        let r = try Self.analyze("pvm-level-storm.trace.txt")
        #expect(r.findings.filter { $0.severity >= .warning }.map(Key.init) == [Key(.interruptStorm, .error, cpu: 1, vector: 0x7b, irq: 11)],
                "\(r.findings.map(Key.init))")
        let storm = try #require(r.findings.first)
        #expect(storm.explanation.contains("still asserted at the end"))
        #expect(storm.explanation.contains("kvm_ioapic_delayed_eoi_inj"))
        #expect(!r.findings.contains { $0.kind == .stuckInService })
    }

    @Test("(f) a vCPU halted with IF=0 (cli; hlt) and an interrupt pending: halted_with_pending, never woken",
          arguments: recordings.filter { $0.hasPrefix("pvm-halt-cli.") })
    func haltCLI(name: String) throws {
        let r = try Self.analyze(name)
        #expect(r.findings.map(Key.init) == [Key(.haltedWithPending, .error, cpu: 1, vector: 0x45), Key(.lostInterrupt, .error, cpu: 1, vector: 0x56)],
                "\(r.findings.map(Key.init))")
        #expect(r.findings.last?.causedBy == 0)
        #expect(r.findings.first?.explanation.contains("cli; hlt") == true)
    }

    @Test("(g) a vCPU halted behind TPR 0xf0 with interrupts pending: halted_with_pending")
    func haltTPR() throws {
        let r = try Self.analyze("pvm-halt-tpr.trace.txt")
        let keys = r.findings.map(Key.init)
        #expect(keys.first == Key(.haltedWithPending, .error, cpu: 1, vector: 0x45), "\(keys)")
        #expect(Set(keys.dropFirst()) == [Key(.lostInterrupt, .error, cpu: 1, vector: 0xe5), Key(.lostInterrupt, .error, cpu: 1, vector: 0x56)], "\(keys)")
        #expect(r.findings.dropFirst().allSatisfy { $0.causedBy == 0 })
        #expect(r.findings.first?.explanation.contains("TPR 0xf0") == true)
    }

    /// The evidence is KVM's own events: the VMM's trace_marker lines (`tracing_mark_write: tinyvmm:
    /// …`) taken out, every finding stays.
    @Test("findings come from kvm events alone (tinyvmm's trace_marker lines removed)", arguments: faultScenarios)
    func withoutMarkers(scenario: String) throws {
        let name = "pvm-\(scenario).trace.txt"
        let text = try String(contentsOfFile: Self.dir + "/" + name, encoding: .utf8)
        let stripped = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("tracing_mark_write") }.joined(separator: "\n")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-nomarker-\(UUID().uuidString).trace.txt").path
        FileManager.default.createFile(atPath: path, contents: Data(stripped.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (reader, _) = try Recorder.open(path)
        let without = try Analyzer.analyze(reader)
        let with = try Self.analyze(name)
        #expect(without.findings.map(Key.init) == with.findings.map(Key.init))
        #expect(without.divergences == 0)
    }
}
