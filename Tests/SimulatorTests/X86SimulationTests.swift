import Foundation
import Testing
import Recorder
import Replayer
@testable import Simulator
import TraceFormat

/// Runs the simulator in memory.
enum SimRun {
    static func bytes(_ scenario: String, faults: [String] = [], seed: UInt64 = 1, events: Int? = nil, durationNs: Int64? = nil) throws -> [UInt8] {
        let s = BuiltinScenarios.named(scenario)!
        let o = Simulator.Options(scenario: s, faults: try faults.map { try FaultRequest(parsing: $0) }, seed: seed, events: events,
                                  durationNs: durationNs, level: 3, chunkSize: 64 << 10)
        let out = OutputFile()
        _ = try Simulator.run(o, to: out)
        return out.memory
    }

    static func reader(_ scenario: String, faults: [String] = [], seed: UInt64 = 1, events: Int? = nil, durationNs: Int64? = nil) throws -> TraceReader {
        try TraceReader(data: Data(bytes(scenario, faults: faults, seed: seed, events: events, durationNs: durationNs)))
    }

    static func text(_ reader: TraceReader) throws -> [UInt8] {
        let out = OutputFile()
        try TextExport.write(reader, to: out)
        return out.memory
    }

    /// Exports a simulated trace as text, records that text as the source it imitates, and checks
    /// the two are the same event for event (names, skeletons, CPUs, threads) and replay the same.
    /// Returns the recorded trace.
    @discardableResult
    static func expectRecordingEqual(_ sim: TraceReader) throws -> TraceReader {
        let text = try text(sim)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-sim-\(UUID().uuidString).txt").path
        FileManager.default.createFile(atPath: path, contents: Data(text))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = OutputFile()
        _ = try Recorder.record(inputs: [path], to: out, options: RecordOptions(level: 3, verifyAll: true))
        let recorded = try TraceReader(data: Data(out.memory))
        #expect(recorded.metadata.arch == sim.metadata.arch)
        #expect(recorded.eventCount == sim.eventCount)
        #expect(try Self.text(recorded) == text)
        func shapes(_ r: TraceReader) throws -> [(String, [UInt8], Int32, Int32)] {
            var out: [(String, [UInt8], Int32, Int32)] = []
            try r.forEachBatch { batch in
                for i in 0..<batch.count { let t = r.catalog[batch.templates[i]]; out.append((t.name, t.skeleton, batch.cpus[i], batch.threads[i])) }
            }
            return out
        }
        let a = try shapes(sim), b = try shapes(recorded)
        #expect(a.count == b.count)
        let mismatch = zip(a, b).first { !($0.0 == $1.0 && $0.1 == $1.1 && $0.2 == $1.2 && $0.3 == $1.3) }
        #expect(mismatch == nil, "\(mismatch.map { "\($0.0.0) \($0.0.1) \($0.0.2) \($0.0.3) vs \($0.1.0) \($0.1.1) \($0.1.2) \($0.1.3)" } ?? "")")
        let r1 = try Replayer.check(sim), r2 = try Replayer.check(recorded)
        #expect(r1.divergences.isEmpty && r2.divergences.isEmpty)
        #expect(r1.observationsChecked == r2.observationsChecked)
        #expect(r1.digest == r2.digest)
        return recorded
    }
}

@Suite("Simulator: x86 on VMX KVM")
struct X86SimulationTests {
    static let x86Scenarios = BuiltinScenarios.all.filter { $0.platform.arch == "x86_64" && Simulator.outputName($0) == "kvm-vmx" }.map(\.name)
    static let x86Faults = FaultCatalog.all.filter { $0.platform == "x86_64" && x86Scenarios.contains($0.scenario) }.map(\.name)

    @Test("clean runs replay with no divergence and every observation checked", arguments: x86Scenarios)
    func cleanRunsReplay(scenario: String) throws {
        for seed: UInt64 in [1, 2, 3] {
            let reader = try SimRun.reader(scenario, seed: seed, durationNs: 100_000_000)
            #expect(reader.metadata.source == .simulator)
            #expect(reader.metadata.kvmFlavour == "vmx")
            #expect(reader.metadata.groundTruth == [])
            let report = try Replayer.check(reader)
            #expect(report.adapter == "kvm-vmx")
            #expect(report.events == reader.eventCount)
            #expect(report.divergences.isEmpty, "\(scenario) seed \(seed): \(report.divergences.prefix(3))")
            #expect(report.observationsTotal > 1000)
            if BuiltinScenarios.named(scenario)!.platform.postedInterrupts == true {
                // APICv: the CPU's deliveries are in no trace; everything else is checked.
                let hidden = report.unchecked["APICv delivery (virtual-interrupt delivery: not traced)"] ?? 0
                #expect(hidden > 0 && report.unchecked.count == 1, "\(report.unchecked)")
                #expect(report.observationsChecked + hidden == report.observationsTotal, "\(report.unchecked)")
            } else {
                #expect(report.observationsChecked == report.observationsTotal, "\(report.unchecked)")
            }
        }
    }

    @Test("x86-posted: the wakeup a KVM post predicts is checked; without the post it is unchecked, not a divergence")
    func postedWakeupPredicted() throws {
        let text = String(decoding: try SimRun.text(try SimRun.reader("x86-posted", seed: 3, durationNs: 20_000_000)), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func replayed(_ lines: [String]) throws -> ReplayReport {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-posted-\(UUID().uuidString).txt").path
            FileManager.default.createFile(atPath: path, contents: Data(lines.joined(separator: "\n").utf8))
            defer { try? FileManager.default.removeItem(atPath: path) }
            return try Replayer.check(try Recorder.open(path).0)
        }
        let clean = try replayed(lines)
        #expect(clean.divergences.isEmpty)
        #expect(clean.unchecked.keys.allSatisfy { !$0.hasPrefix("kvm_vcpu_wakeup") }, "\(clean.unchecked)")
        // The posts that kicked a woken vCPU (all since its halt) removed: nothing in the trace explains its wakeup.
        let wake = try #require(lines.indices.first { $0 > lines.count / 2 && lines[$0].contains("kvm_vcpu_wakeup:") })
        let thread = String(lines[wake].split(separator: "[")[0]).trimmingCharacters(in: .whitespaces)   // "CPU n/KVM-pid"
        let vcpu = try #require(thread.split(separator: " ").dropFirst().first?.split(separator: "/").first)
        let halt = try #require(lines[..<wake].lastIndex { $0.contains(thread) && $0.contains("reason HLT") })
        lines = lines.enumerated().filter { k, l in !(k > halt && k < wake && l.contains("kvm_apicv_accept_irq: apicid \(vcpu) ")) }.map(\.element)
        let edited = try replayed(lines)
        #expect(edited.divergences.isEmpty, "\(edited.divergences.prefix(2))")
        #expect(edited.unchecked["kvm_vcpu_wakeup (no KVM post kicked it: an IOMMU post, a timer or a signal)"] == 1, "\(edited.unchecked)")
    }

    @Test("x86-posted: every fixed interrupt is posted (kvm_apicv_accept_irq after its acceptance), nothing is injected or EOI'd by KVM, halted vCPUs are woken")
    func postedVocabulary() throws {
        let text = String(decoding: try SimRun.text(try SimRun.reader("x86-posted", seed: 2, durationNs: 20_000_000)), as: UTF8.self)
        let lines = text.split(separator: "\n")
        let accepts = lines.filter { $0.contains("kvm_apic_accept_irq:") }.count
        #expect(accepts > 50)
        #expect(lines.filter { $0.contains("kvm_apicv_accept_irq:") }.count == accepts)
        #expect(!text.contains("kvm_inj_virq") && !text.contains("kvm_eoi") && !text.contains("APIC_EOI"))
        #expect(lines.contains { $0.contains("kvm_vcpu_wakeup:") })
        // Each post follows its acceptance on the same thread.
        for (k, l) in lines.enumerated() where l.contains("kvm_apicv_accept_irq:") {
            #expect(lines[k - 1].contains("kvm_apic_accept_irq:"))
        }
    }

    @Test("each fault fires, is recorded as ground truth, and replays as its catalog says", arguments: x86Faults)
    func faultKinds(name: String) throws {
        let kind = FaultCatalog.named(name)!
        for seed: UInt64 in [1, 2] {
            let reader = try SimRun.reader(kind.scenario, faults: [name], seed: seed)
            let all = reader.metadata.groundTruth ?? []
            let truth = all.filter { $0.causedBy == nil }
            #expect(truth.count == 1, "\(name) seed \(seed) fired \(truth.count) times")
            // Consequences (vectors left pending by it) point at it.
            #expect(all.filter { $0.causedBy != nil }.allSatisfy { $0.causedBy == 0 && $0.expect == "lost_interrupt" && $0.fault == name })
            guard let g = truth.first else { continue }
            #expect(g.fault == name)
            #expect(g.expect == kind.expect)
            #expect(g.timeNs >= 20_000_000)  // default at= is 10% of the 200 ms run (after the 1 ms start)
            #expect(g.cpu >= 0 && g.cpu < BuiltinScenarios.named(kind.scenario)!.vcpus)
            #expect(g.vector != nil || g.irq != nil)
            let report = try Replayer.check(reader)
            if kind.replay == "diverges" {
                #expect(!report.divergences.isEmpty, "\(name) seed \(seed) should diverge")
                // The first divergence is at or after the fault, not a cascade from before it.
                #expect(report.divergences.allSatisfy { $0.eventIndex < 0 || $0.timeNs >= g.timeNs - 1_000 })
                #expect(report.divergences.count <= 3, "\(name): \(report.divergences.count) divergences")
            } else {
                #expect(report.divergences.isEmpty, "\(name) seed \(seed): \(report.divergences.prefix(2))")
            }
        }
    }

    @Test("count= and at= control how often and from when a fault fires")
    func faultParameters() throws {
        let reader = try SimRun.reader("x86-virtio", faults: ["lost-msi:at=50ms,count=3,every=10ms"])
        let truth = reader.metadata.groundTruth ?? []
        #expect(truth.count == 3)
        #expect(truth.allSatisfy { $0.timeNs >= 50_000_000 })
        #expect(zip(truth, truth.dropFirst()).allSatisfy { $1.timeNs - $0.timeNs >= 10_000_000 })
        #expect(try Replayer.check(reader).divergences.count == 3)
        #expect(throws: IrqtraceError.self) { try FaultRequest(parsing: "no-such-fault") }
        #expect(throws: IrqtraceError.self) { try FaultRequest(parsing: "lost-msi:count=0") }
        #expect(throws: IrqtraceError.self) { try FaultRequest(parsing: "lost-msi:when=3ms") }
    }

    @Test("the same seed gives the same bytes; another seed another trace")
    func deterministic() throws {
        let a = try SimRun.bytes("x86-legacy", faults: ["level-storm"], seed: 7, durationNs: 50_000_000)
        let b = try SimRun.bytes("x86-legacy", faults: ["level-storm"], seed: 7, durationNs: 50_000_000)
        let c = try SimRun.bytes("x86-legacy", faults: ["level-storm"], seed: 8, durationNs: 50_000_000)
        #expect(a == b)
        #expect(a != c)
    }

    @Test("--events stops at that many events")
    func eventLimit() throws {
        let reader = try SimRun.reader("x86-virtio", events: 20_000)
        #expect(reader.eventCount >= 20_000 && reader.eventCount < 20_020)
    }

    /// The simulated templates are the ones a text import makes: export the text, record it as the
    /// ftrace text it is, and compare event by event.
    @Test("a simulated trace is what recording its own text gives", arguments: x86Scenarios)
    func textRoundTrip(scenario: String) throws {
        try SimRun.expectRecordingEqual(try SimRun.reader(scenario, durationNs: 30_000_000))
    }

    @Test("scenario validation rejects what the simulator cannot express")
    func validation() throws {
        var s = BuiltinScenarios.named("x86-virtio")!
        s.vcpus = 11
        #expect(throws: IrqtraceError.self) { try s.validate() }
        s = BuiltinScenarios.named("x86-legacy")!
        s.devices[0].irq = 24
        #expect(throws: IrqtraceError.self) { try s.validate() }
        s = BuiltinScenarios.named("x86-legacy")!
        s.devices[0].kind = "spi-level"
        #expect(throws: IrqtraceError.self) { try s.validate() }
        s = BuiltinScenarios.named("x86-virtio")!
        s.platform.postedInterrupts = true
        #expect(throws: IrqtraceError.self) { try s.validate() }   // timer and IPIs are not written with APICv yet
        s = BuiltinScenarios.named("x86-posted")!
        s.output = "qemu-x86"
        #expect(throws: IrqtraceError.self) { try s.validate() }   // QEMU does not emulate posting
        // Posted-interrupt faults need the posted platform, the others refuse it.
        let posted = Simulator.Options(scenario: BuiltinScenarios.named("x86-virtio")!, faults: [try FaultRequest(parsing: "pir-without-on")])
        #expect(throws: IrqtraceError.self) { try Simulator.run(posted, to: OutputFile()) }
        let legacy = Simulator.Options(scenario: BuiltinScenarios.named("x86-posted")!, faults: [try FaultRequest(parsing: "missing-eoi")])
        #expect(throws: IrqtraceError.self) { try Simulator.run(legacy, to: OutputFile()) }
        // Vectors and timer periods that do not fit (fuzz find: timer vector 472 trapped in the qemu-x86 run).
        for output in ["qemu-x86", "kvm-vmx"] {
            s = BuiltinScenarios.named("x86-q35-intremap")!
            s.output = output
            if output == "kvm-vmx" { s.platform.interruptRemapping = nil }
            try s.validate()
            s.timer?.vector = 472
            #expect(throws: IrqtraceError.self) { try s.validate() }
            s.timer?.vector = 0xEC
            s.timer?.periodUs = 1e300
            #expect(throws: IrqtraceError.self) { try s.validate() }
            s.timer?.periodUs = 4000
            s.ipis?.vectors = [0xFB, 256]
            #expect(throws: IrqtraceError.self) { try s.validate() }
        }
        // Rates whose gaps would round to 0 ns (fuzz find: 2.9e79 Hz hung the simulation) and absurd times.
        s = BuiltinScenarios.named("x86-virtio")!
        s.devices[0].rateHz = 2.9e79
        #expect(throws: IrqtraceError.self) { try s.validate() }
        s = BuiltinScenarios.named("x86-virtio")!
        s.durationMs = 1e300
        #expect(throws: IrqtraceError.self) { try s.validate() }
        // VT-d interrupt remapping only in the qemu-x86 output.
        s = BuiltinScenarios.named("x86-virtio")!
        s.platform.interruptRemapping = true
        #expect(throws: IrqtraceError.self) { try s.validate() }
        // An arm64 fault on an x86 scenario is refused.
        if let armFault = FaultCatalog.all.first(where: { $0.platform == "arm64" }) {
            let o = Simulator.Options(scenario: BuiltinScenarios.named("x86-virtio")!, faults: [try FaultRequest(parsing: armFault.name)])
            #expect(throws: IrqtraceError.self) { try Simulator.run(o, to: OutputFile()) }
        }
    }
}

@Suite("Simulator: scenario files")
struct ScenarioFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("traces/scenarios holds every shipped scenario, equal to the built-in one")
    func shippedFiles() throws {
        let dir = Self.root.appendingPathComponent("traces/scenarios").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files == BuiltinScenarios.all.map { $0.name + ".json" }.sorted())
        for s in BuiltinScenarios.all {
            let loaded = try Scenario.load(path: dir + "/" + s.name + ".json")
            #expect(loaded == s, "traces/scenarios/\(s.name).json differs from the built-in scenario: run scripts/make-scenarios.sh")
            try loaded.validate()
        }
    }

    @Test("a damaged scenario file is a clear error naming the field")
    func damagedFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-scenario-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path, contents: Data(#"{"name": "x", "description": "", "platform": {"arch": "x86_64"}, "vcpus": "two"}"#.utf8))
        do {
            _ = try Scenario.load(path: path)
            Issue.record("a wrong type was accepted")
        } catch let e as IrqtraceError {
            #expect(e.description.contains("vcpus"))
            #expect(e.description.contains(path))
        }
        FileManager.default.createFile(atPath: path, contents: Data(#"{"name": "x"}"#.utf8))
        #expect(throws: IrqtraceError.self) { try Scenario.load(path: path) }
    }
}
