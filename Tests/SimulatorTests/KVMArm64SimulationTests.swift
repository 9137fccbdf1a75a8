import Foundation
import Testing
import Recorder
import Replayer
@testable import Simulator
import TraceFormat

/// Runs the arm64 scenarios in memory with the `kvm-arm64` output.
enum KVMArmSim {
    static func scenario(_ name: String) -> Scenario {
        var s = BuiltinScenarios.named(name)!
        s.output = "kvm-arm64"
        return s
    }

    static func bytes(_ name: String, faults: [String] = [], seed: UInt64 = 1, durationNs: Int64? = nil) throws -> [UInt8] {
        let o = Simulator.Options(scenario: scenario(name), faults: try faults.map { try FaultRequest(parsing: $0) }, seed: seed,
                                  durationNs: durationNs, level: 3, chunkSize: 64 << 10)
        let out = OutputFile()
        _ = try Simulator.run(o, to: out)
        return out.memory
    }

    static func reader(_ name: String, faults: [String] = [], seed: UInt64 = 1, durationNs: Int64? = nil) throws -> TraceReader {
        try TraceReader(data: Data(bytes(name, faults: faults, seed: seed, durationNs: durationNs)))
    }

    /// One tracefs line: `comm-pid [cpu] flags secs.micros: name: body`.
    struct Line {
        var thread: String
        var timeUs: Int64
        var name: Substring
        var body: Substring
    }

    static func lines(_ reader: TraceReader) throws -> [Line] {
        String(decoding: try SimRun.text(reader), as: UTF8.self).split(separator: "\n").map { l in
            let open = l.firstIndex(of: "[")!
            let thread = l[..<open].trimmingCharacters(in: .whitespaces)
            let afterFlags = l[l.index(open, offsetBy: 12)...]   // "[000] ..... "
            let stamp = afterFlags.drop { $0 == " " }.prefix { $0 != ":" }
            let parts = stamp.split(separator: ".")
            let rest = afterFlags[afterFlags.index(stamp.endIndex, offsetBy: 2)...]
            let colon = rest.range(of: ": ")!
            return Line(thread: thread, timeUs: Int64(parts[0])! * 1_000_000 + Int64(parts[1])!,
                        name: rest[..<colon.lowerBound], body: rest[colon.upperBound...])
        }
    }
}

@Suite("Simulator: arm64 GICv2 written as arm64 KVM tracepoints (kvm-arm64)")
struct KVMArm64SimulationTests {
    static let armScenarios = BuiltinScenarios.all.filter { $0.platform.arch == "arm64" }.map(\.name)
    /// What the output may write: the tracepoints a hardware vGIC host prints for this workload.
    static let written: Set<Substring> = ["kvm_entry", "kvm_exit", "kvm_wfx_arm64", "kvm_mmio", "kvm_userspace_exit", "kvm_irq_line",
                                          "kvm_timer_update_irq", "vgic_update_irq_pending", "kvm_vcpu_wakeup"]

    @Test("clean runs replay as arm64 ftrace text with no divergence and every injection checked", arguments: armScenarios)
    func cleanRunsReplay(scenario: String) throws {
        for seed: UInt64 in [1, 2, 3] {
            let reader = try KVMArmSim.reader(scenario, seed: seed, durationNs: 40_000_000)
            #expect(reader.metadata.source == .simulator)
            #expect(reader.metadata.arch == .arm64)
            #expect(reader.metadata.simulation?.output == "kvm-arm64")
            #expect(reader.metadata.vocabularySource == .ftraceText)
            #expect(reader.metadata.groundTruth == [])
            let report = try Replayer.check(reader)
            #expect(report.adapter == "kvm-arm64")
            #expect(report.events == reader.eventCount)
            #expect(report.divergences.isEmpty, "\(scenario) seed \(seed): \(report.divergences.prefix(3))")
            #expect(report.observationsTotal > 500)
            // Every injection has its traced cause: QEMU's KVM_IRQ_LINE or the arch timer.
            #expect(report.observationsChecked == report.observationsTotal, "\(report.unchecked)")
        }
    }

    @Test("what the trace holds: only host-visible events, in the order KVM prints them", arguments: armScenarios)
    func shapes(scenario: String) throws {
        let s = KVMArmSim.scenario(scenario)
        let lines = try KVMArmSim.lines(try KVMArmSim.reader(scenario, durationNs: 40_000_000))
        #expect(Set(lines.map(\.name)).isSubset(of: Self.written), "\(Set(lines.map(\.name)).subtracting(Self.written))")
        // Nothing of the guest's CPU interface (acknowledge, EOI, PMR) and no QEMU GIC event.
        #expect(!lines.contains { $0.name.hasPrefix("gic_") })
        var byThread: [String: [KVMArmSim.Line]] = [:]
        for l in lines { byThread[l.thread, default: []].append(l) }
        #expect(Set(byThread.keys) == Set((0..<s.vcpus).map { "CPU \($0)/KVM-\(6102 + $0)" } + ["qemu-system-aar-6100"]))
        for (thread, ls) in byThread where thread.hasPrefix("CPU ") {
            // A vCPU thread alternates exits and entries (the trace starts with every vCPU in the guest),
            // and everything else it prints happens between an exit and the next entry.
            var inGuest = true
            for (k, l) in ls.enumerated() {
                switch l.name {
                case "kvm_exit":
                    #expect(inGuest, "\(thread): two exits without an entry at \(l.timeUs) µs")
                    inGuest = false
                case "kvm_entry":
                    #expect(!inGuest, "\(thread): two entries at \(l.timeUs) µs")
                    inGuest = true
                default:
                    #expect(!inGuest, "\(thread): \(l.name) while in the guest at \(l.timeUs) µs")
                }
                // A WFI trap is followed by the wakeup's vcpu_load: the timers' levels first.
                if l.name == "kvm_wfx_arm64", k + 1 < ls.count {
                    #expect(ls[k + 1].name == "kvm_timer_update_irq", "\(thread) at \(l.timeUs) µs")
                }
            }
        }
        // The device lines are KVM_IRQ_LINE calls of type SPI, each injected at once.
        for (k, l) in lines.enumerated() where l.name == "kvm_irq_line" {
            #expect(l.body.hasPrefix("Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: "))
            let next = lines[(k + 1)...].first { $0.thread == l.thread }
            let fields = l.body.split(separator: " ")
            #expect(next?.body == "VCPU: 0, IRQ \(fields[fields.count - 3].dropLast()), level: \(fields.last!)")
        }
        // SGIs are trapped GICD_SGIR writes (QEMU virt's distributor at 0x08000000).
        if (s.ipis?.rateHz ?? 0) > 0 { #expect(lines.contains { $0.name == "kvm_mmio" && $0.body.hasPrefix("mmio write len 4 gpa 0x8000f00 ") }) }
        // The timer fires in the guest (an IRQ exit, then the injection) and shows at wakeups.
        let timer = Int64(s.timer?.irq ?? 27)
        #expect(lines.contains { $0.name == "kvm_timer_update_irq" && $0.body.hasSuffix("IRQ \(timer), level 1") })
        #expect(lines.contains { $0.name == "kvm_exit" && $0.body.hasPrefix("IRQ: HSR_EC: 0x0000 (UNKNOWN)") })
        #expect(lines.contains { $0.name == "kvm_vcpu_wakeup" })
    }

    /// The checker reads the simulated trace: a wrong injection after a cause is reported.
    @Test("a tampered injection diverges")
    func tamperedInjection() throws {
        let sim = try KVMArmSim.reader("arm-gicv2", durationNs: 20_000_000)
        var text = String(decoding: try SimRun.text(sim), as: UTF8.self)
        let cause = try #require(text.range(of: "kvm_irq_line: Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 80, level: 1"))
        let injection = try #require(text.range(of: "vgic_update_irq_pending: VCPU: 0, IRQ 80, level: 1", range: cause.upperBound..<text.endIndex))
        text.replaceSubrange(injection, with: "vgic_update_irq_pending: VCPU: 0, IRQ 81, level: 1")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-kvmarm-\(UUID().uuidString).txt").path
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let out = OutputFile()
        _ = try Recorder.record(inputs: [path], to: out, options: RecordOptions(level: 3))
        let report = try Replayer.check(try TraceReader(data: Data(out.memory)))
        #expect(report.adapter == "kvm-arm64")
        #expect(report.divergences.count == 1)
        #expect(report.divergences.first?.observed == "VCPU 0 IRQ 81 level 1")
    }

    @Test("a simulated trace is what recording its own text gives", arguments: armScenarios)
    func textRoundTrip(scenario: String) throws {
        let recorded = try SimRun.expectRecordingEqual(try KVMArmSim.reader(scenario, durationNs: 30_000_000))
        #expect(recorded.metadata.arch == .arm64)
        #expect(try Replayer.check(recorded).adapter == "kvm-arm64")
    }

    @Test("the same seed gives the same bytes; another seed another trace")
    func deterministic() throws {
        let a = try KVMArmSim.bytes("arm-gicv2", faults: ["lr-overwrite:at=5ms"], seed: 7, durationNs: 30_000_000)
        let b = try KVMArmSim.bytes("arm-gicv2", faults: ["lr-overwrite:at=5ms"], seed: 7, durationNs: 30_000_000)
        let c = try KVMArmSim.bytes("arm-gicv2", faults: ["lr-overwrite:at=5ms"], seed: 8, durationNs: 30_000_000)
        #expect(a == b)
        #expect(a != c)
    }

    @Test("lr-overwrite: the injection and the kick are traced, the interrupt is never pending; replay is consistent")
    func lrOverwrite() throws {
        let kind = try #require(FaultCatalog.named("lr-overwrite"))
        #expect(kind.outputs["kvm-arm64"] == "consistent")
        for seed: UInt64 in [1, 2, 3] {
            let reader = try KVMArmSim.reader("arm-gicv2", faults: ["lr-overwrite:at=5ms"], seed: seed, durationNs: 40_000_000)
            let truth = reader.metadata.groundTruth ?? []
            #expect(truth.count == 1, "seed \(seed)")
            let g = try #require(truth.first)
            #expect(g.fault == "lr-overwrite" && g.expect == "lost_interrupt")
            let irq = try #require(g.irq)
            let report = try Replayer.check(reader)
            #expect(report.divergences.isEmpty, "\(report.divergences.prefix(2))")
            #expect(report.observationsChecked == report.observationsTotal)
            // At the fault: KVM_IRQ_LINE level 1 and its injection on QEMU's thread, then the kick of
            // the target.
            let lines = try KVMArmSim.lines(reader)
            let k = try #require(lines.firstIndex { $0.timeUs >= g.timeNs / 1000 && $0.name == "kvm_irq_line" && $0.body.hasSuffix("num: \(irq), level: 1") })
            #expect(lines[k + 1].body == "VCPU: 0, IRQ \(irq), level: 1")
            let low = try #require(lines[(k + 2)...].firstIndex { $0.name == "kvm_irq_line" && $0.body.hasSuffix("num: \(irq), level: 0") })
            let between = lines[(k + 2)..<low]
            let target = "CPU \(g.cpu)/KVM-\(6102 + g.cpu)"
            // The kick: a running target exits and re-enters; one in WFI wakes, finds nothing, and
            // waits again.
            let kicked = ["kvm_exit", "kvm_entry"]
            let woken = ["kvm_timer_update_irq", "vgic_update_irq_pending", "kvm_timer_update_irq", "vgic_update_irq_pending",
                         "kvm_vcpu_wakeup", "kvm_entry", "kvm_exit", "kvm_wfx_arm64"]
            #expect(between.allSatisfy { $0.thread == target } && [kicked, woken].contains(between.map { String($0.name) }),
                    "\(between.map { "\($0.thread) \($0.name) \($0.body)" })")
            // Never pending: no vCPU is kicked or woken for it afterwards by the pulse's fall.
            #expect(lines[low + 1].body == "VCPU: 0, IRQ \(irq), level: 0")
        }
    }

    @Test("faults a hardware vGIC hides are refused for kvm-arm64 with the reason")
    func hiddenFaultsRefused() throws {
        for kind in FaultCatalog.all where kind.platform == "arm64" && kind.name != "lr-overwrite" {
            #expect(kind.outputs["kvm-arm64"] == nil)
            let why = try #require(kind.notExpressible["kvm-arm64"])
            let o = Simulator.Options(scenario: KVMArmSim.scenario(kind.scenario), faults: [try FaultRequest(parsing: kind.name)])
            do {
                _ = try Simulator.run(o, to: OutputFile())
                Issue.record("\(kind.name) was accepted for kvm-arm64")
            } catch let e as IrqtraceError {
                #expect(e.message.contains("cannot be written in the kvm-arm64 output"))
                #expect(e.message.contains(why))
            }
        }
    }

    @Test("the output is chosen by the scenario's \"output\" field; a wrong one is refused naming the field and file")
    func outputField() throws {
        var s = KVMArmSim.scenario("arm-gicv2-el2")
        try s.validate()
        s.output = "kvm-vmx"
        do {
            try s.validate()
            Issue.record("kvm-vmx accepted for arm64")
        } catch let e as IrqtraceError {
            #expect(e.message.contains("output"))
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-scenario-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path, contents: Data(s.jsonText().utf8))
        do {
            _ = try Scenario.load(path: path)
            Issue.record("a scenario file with output kvm-vmx on arm64 was accepted")
        } catch let e as IrqtraceError {
            #expect(e.description.contains(path))
            #expect(e.description.contains("output"))
        }
        s.output = "kvm-arm64"
        FileManager.default.createFile(atPath: path, contents: Data(s.jsonText().utf8))
        let loaded = try Scenario.load(path: path)
        let out = OutputFile()
        _ = try Simulator.run(Simulator.Options(scenario: loaded, durationNs: 5_000_000), to: out)
        #expect(try TraceReader(data: Data(out.memory)).metadata.simulation?.output == "kvm-arm64")
    }
}
