import Foundation
import Testing
@testable import Analyzer
import Recorder
import Replayer
import TraceFormat

/// Real recordings of tinyvmm runs (traces/kvm/pvm-<scenario>.trace.txt: one VM each, recorded one
/// after another on one host) joined into one trace, as a host recording of VMs run one after
/// another holds them: each VM must be replayed from its own reset, so the joined trace gives no
/// divergence and exactly the findings of its parts; VMs that ran at the same time must be named as such.
@Suite("Analyzer: several VMs in one host trace")
struct SequentialVMTests {
    static let dir = AnalyzerTestSupport.root.appendingPathComponent("traces/kvm").path

    /// Every pvm recording with the `local` clock (ipi-global-clock's timestamps are another clock's).
    static let scenarios = ["msi", "ioapic-edge", "ioapic-level", "ioapic-level-held", "ipi", "tpr", "coalesce",
                            "idt-fault", "misroute", "resend-pending", "masked-edge", "level-storm", "halt-cli", "halt-tpr"]

    static func eventLines(_ scenario: String) throws -> [Substring] {
        let text = try String(contentsOfFile: dir + "/pvm-\(scenario).trace.txt", encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }
    }

    static func timestamp(_ line: Substring) -> Double {
        // "comm-pid [cpu] flags  secs.usecs: event: …"
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        let k = fields.firstIndex { $0.hasSuffix(":") && $0.dropLast().contains(".") && Double($0.dropLast()) != nil }!
        return Double(fields[k].dropLast())!
    }

    static func record(_ lines: [Substring]) throws -> TraceReader {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-vms-\(UUID().uuidString).trace.txt").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Recorder.open(path).0
    }

    static func analyze(_ lines: [Substring]) throws -> AnalysisReport { try Analyzer.analyze(try record(lines)) }

    /// (kind, severity, cpu, dest, vector, irq) of a finding.
    static func key(_ f: Finding) -> String {
        "\(f.kind.rawValue) \(f.severity.rawValue) cpu \(f.cpu ?? -1) dest \(f.dest ?? -1) v \(f.vector ?? -1) irq \(f.irq ?? -1)"
    }

    @Test("14 real VMs one after another: each replayed from reset, no divergence, the findings of each alone")
    func oneAfterAnother() throws {
        var all: [Substring] = []
        var expected: [String] = []
        for s in Self.scenarios {
            let lines = try Self.eventLines(s)
            if let last = all.last { #expect(Self.timestamp(last) < Self.timestamp(lines[0]), "\(s) starts after the one before") }
            all += lines
            expected += try Self.analyze(lines).findings.map(Self.key)
        }
        let reader = try Self.record(all)
        let replay = try Replayer.check(reader)
        #expect(replay.vmCount == Self.scenarios.count)
        #expect(replay.divergences.isEmpty, "\(replay.divergences.prefix(3))")
        #expect(replay.warnings == nil)
        let joined = try Analyzer.analyze(reader)
        #expect(joined.findings.map(Self.key).sorted() == expected.sorted())
        #expect(joined.warnings == nil)
        #expect(joined.vms == Self.scenarios.count)
        // Each finding names its VM, whose vCPU threads the report lists (two each; in two of the older
        // recordings one vCPU takes no interrupt and never reads its APIC ID: its thread is unbound).
        let list = try #require(joined.vmList)
        #expect(list.map(\.number) == Array(1...Self.scenarios.count))
        #expect(zip(list, list.dropFirst()).allSatisfy { $0.firstEvent < $1.firstEvent })
        #expect(list.allSatisfy { !$0.concurrent && $0.vcpuThreads.count == 2 })
        #expect(list.filter { Set($0.vcpuThreads.compactMap(\.vcpu)) == [0, 1] }.count == Self.scenarios.count - 2)
        #expect(joined.findings.allSatisfy { $0.vm != nil })
        // idt-fault is the 8th VM: its stuck vector is found there.
        #expect(joined.findings.first { $0.kind == .stuckInService }?.vm == 8)
        #expect(joined.json().serialized().contains("\"vms\":\(Self.scenarios.count)"))
    }

    /// The VM boundary is where the next VM's first vCPU thread begins, even when the thread that
    /// gives the vCPU away comes later: in ioapic-level-held, vCPU 0's thread is bound by no event
    /// and masks the 8259 (port 0x21) before vCPU 1's thread shows; a boundary placed at vCPU 1's
    /// first event would lose that mask and diverge at the next 8259 input.
    @Test("a VM whose first vCPU thread no event binds starts at that thread's first event")
    func unboundFirstThread() throws {
        let lines = try Self.eventLines("ioapic-level") + Self.eventLines("ioapic-level-held")
        let r = try Replayer.check(try Self.record(lines))
        #expect(r.vmCount == 2)
        #expect(r.divergences.isEmpty, "\(r.divergences.prefix(3))")
    }

    /// Without the reset, vCPU 0's vector 0x58 left in service by the faulted delivery of idt-fault
    /// (and the TPR 0xf0 of halt-tpr's vCPU 1) would hold their classes in the next VM.
    @Test("a vector stuck in service in one VM does not block the next VM's deliveries")
    func stuckDoesNotCarryOver() throws {
        let lines = try Self.eventLines("idt-fault") + Self.eventLines("misroute")
        let r = try Self.analyze(lines)
        #expect(!r.findings.contains { $0.kind == .priorityInversion })
        #expect(r.findings.filter { $0.kind == .stuckInService }.count == 1)
        #expect(r.divergences == 0)
    }

    /// At the end of idt-fault, vector 0x58 is stuck in vCPU 0's ISR; the halt-tpr VM after it never
    /// sees 0x58: `why` at the end must answer about that VM, from its reset.
    @Test("why answers about the VM running at the moment asked")
    func whyInTheLastVM() throws {
        let reader = try Self.record(try Self.eventLines("idt-fault") + Self.eventLines("halt-tpr"))
        let r = try Why.explain(reader, cpu: 0, vector: 0x58, irq: nil, at: nil)
        #expect(r.steps.first?.stage == "vm")
        #expect(r.steps.first?.text.contains("this is VM 2") == true)
        #expect(r.steps.contains { $0.stage == "message" && $0.text.contains("no message for vector 88 to APIC 0 in this VM") }, "\(r.steps.map(\.text))")
        #expect(r.steps.contains { $0.stage == "lapic" && $0.text.contains("ISR does not have it") })
        // --state-at: the state is the running VM's, which the report's list names.
        let last = try Self.eventLines("halt-tpr").last!
        let (report, machine) = try Replayer.run(reader, until: Int64((Self.timestamp(last) * 1e9).rounded()))
        #expect(report.vmList.flatMap { VMInfo.of(event: report.events - 1, in: $0)?.number } == 2)
        #expect(!machine.apics.contains { $0.isr.contains(0x58) })
        #expect(machine.apics.contains { $0.tpr == 0xF0 })
    }

    /// A real recording (traces/kvm-multi, `record-multi-vm.sh`): three VMs at once, then halt-cli,
    /// then idt-fault. The concurrent period is named; the two VMs after it get their own findings.
    @Test("a real recording of concurrent VMs, then VMs one after another")
    func realConcurrentThenSequential() throws {
        let path = AnalyzerTestSupport.root.appendingPathComponent("traces/kvm-multi/pvm-concurrent-then-sequential.trace.txt").path
        let (reader, _) = try Recorder.open(path)
        let r = try Analyzer.analyze(reader)
        #expect(r.vms == 3)
        let warning = try #require(r.warnings?.first)
        #expect(warning.contains("VMs ran concurrently"), "\(warning)")
        let list = try #require(r.vmList)
        #expect(list.map(\.concurrent) == [true, false, false])
        #expect(list[0].vcpuThreads.count == 6 && list[1].vcpuThreads.count == 2 && list[2].vcpuThreads.count == 2)
        #expect(warning.contains("until the VM that began at event \(list[1].firstEvent)"), "\(warning)")
        let after = r.findings.filter { ($0.vm ?? 0) >= 2 && $0.severity >= .warning }.map(Self.key).sorted()
        let expected = [
            "halted_with_pending error cpu 1 dest -1 v 69 irq -1", "lost_interrupt error cpu 1 dest -1 v 86 irq -1",        // halt-cli
            "stuck_in_service error cpu 0 dest -1 v 88 irq -1", "lost_interrupt error cpu 0 dest -1 v 67 irq -1",
            "lost_interrupt error cpu 0 dest -1 v 81 irq -1",                                                                 // idt-fault
        ].sorted()
        #expect(after == expected, "\(after)")
    }

    /// VMX: the guest's EOI retires a vector, so one left in service (missing-eoi) blocks its class
    /// and those below until the VM ends. Two simulated kvm-vmx VMs (the second on other threads,
    /// after the first): the second must not inherit the first's ISR.
    @Test("simulated VMX VMs one after another: a vector left in service by one does not block the next")
    func vmxOneAfterAnother() throws {
        func text(_ faults: [String], seed: UInt64) throws -> [Substring] {
            let reader = try AnalyzerTestSupport.simulate("x86-legacy", faults: faults, seed: seed, durationNs: 200_000_000)
            let out = OutputFile()
            try TextExport.write(reader, to: out)
            return String(decoding: out.memory, as: UTF8.self).split(separator: "\n")
        }
        let first = try text(["missing-eoi"], seed: 1), second = try text([], seed: 2)
        // The second VM: its threads' ids + 1000, its times 1 s later.
        let moved: [Substring] = second.map { line in
            var l = String(line)
            if let r = l.range(of: #"-(\d+)(\s+\[)"#, options: .regularExpression) {
                let m = String(l[r]), digits = m.dropFirst().prefix { $0.isNumber }
                l.replaceSubrange(r, with: "-\(Int(digits)! + 1000)" + m.dropFirst(1 + digits.count))
            }
            if let r = l.range(of: #" \d+\.\d{6}: "#, options: .regularExpression) {
                let t = Double(l[r].dropFirst().dropLast(2))!
                l.replaceSubrange(r, with: String(format: " %.6f: ", t + 1.0))
            }
            return Substring(l)
        }
        let alone = try Self.analyze(first).findings.map(Self.key) + Self.analyze(moved).findings.map(Self.key)
        #expect(alone.contains { $0.hasPrefix("stuck_in_service error") }, "\(alone)")
        let reader = try Self.record(first + moved)
        let replay = try Replayer.check(reader)
        #expect(replay.adapter == "kvm-vmx")
        #expect(replay.vmCount == 2)
        #expect(replay.divergences.isEmpty, "\(replay.divergences.prefix(3))")
        let joined = try Analyzer.analyze(reader)
        #expect(joined.findings.map(Self.key).sorted() == alone.sorted())
        #expect(joined.findings.filter { $0.kind == .stuckInService }.allSatisfy { $0.vm == 1 })
    }

    /// A real copy of tracefs `trace` whose ring buffer dropped its oldest events (header 640/935):
    /// the input says so, and replay and analyze warn that the trace starts mid-flight (not with
    /// --mid-flight, which adopts that state).
    @Test("a ring buffer that dropped older events: the header's count, and a warning")
    func overwritten() throws {
        let path = AnalyzerTestSupport.root.appendingPathComponent("traces/kvm-multi/pvm-overwritten.trace.txt").path
        let (reader, _) = try Recorder.open(path)
        #expect(reader.metadata.inputs.map(\.overwrittenEvents) == [295])
        let warning = try #require(try Replayer.check(reader).warnings?.first { $0.contains("dropped 295 older events") })
        #expect(warning.contains("--mid-flight"))
        #expect(try Analyzer.analyze(reader).warnings?.contains(warning) == true)
        #expect(try Replayer.check(reader, midFlight: true).warnings?.contains { $0.contains("dropped") } != true)
        // A header that says nothing was dropped gives no warning.
        let clean = try Recorder.open(Self.dir + "/pvm-msi.trace.txt").0
        #expect(clean.metadata.inputs.map(\.overwrittenEvents) == [0])
        #expect(try Replayer.check(clean).warnings == nil)
    }

    /// Two VMs' events interleaved in time (the second recording's clock shifted onto the first's):
    /// two threads run vCPU 0 at once, which one set of models cannot tell apart.
    @Test("VMs that ran at the same time are reported as such")
    func concurrent() throws {
        let first = try Self.eventLines("msi"), second = try Self.eventLines("ipi")
        let shift = Self.timestamp(second[0]) - Self.timestamp(first[0]) - 0.002
        let moved: [Substring] = second.map { line in
            let t = Self.timestamp(line)
            let old = String(format: "%.6f:", t), new = String(format: "%.6f:", t - shift)
            guard let r = line.range(of: " " + old) else { return line }
            return Substring(line.replacingCharacters(in: r, with: " " + new))
        }
        let merged = (first + moved).enumerated().sorted { (Self.timestamp($0.element), $0.offset) < (Self.timestamp($1.element), $1.offset) }.map(\.element)
        let r = try Replayer.check(try Self.record(merged))
        let warning = try #require(r.warnings?.first)
        #expect(warning.contains("VMs ran concurrently"), "\(warning)")
        #expect(r.vmCount == nil)
        #expect(try Replayer.check(try Self.record(first)).warnings == nil)
    }
}
