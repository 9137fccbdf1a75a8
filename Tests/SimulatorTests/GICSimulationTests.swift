import Foundation
import Testing
import Recorder
import Replayer
@testable import Simulator
import TraceFormat

/// Runs the GIC simulator into files in the temporary directory (each removed once read).
enum GICSim {
    static let directory = FileManager.default.temporaryDirectory.path

    /// Simulates into a new file; returns its path.
    static func file(_ scenario: String, faults: [String] = [], seed: UInt64 = 1, events: Int? = nil, durationNs: Int64? = nil) throws -> String {
        let s = try #require(BuiltinScenarios.named(scenario))
        let o = Simulator.Options(scenario: s, faults: try faults.map { try FaultRequest(parsing: $0) }, seed: seed, events: events,
                                  durationNs: durationNs, level: 3, chunkSize: 64 << 10)
        let path = directory + "/irqtrace-gic-sim-\(scenario)-\(seed)-\(UUID().uuidString).irqt"
        _ = try Simulator.run(o, to: try OutputFile(path: path))
        return path
    }

    /// Simulates into a file and opens it (the file is removed; the reader keeps its mapping).
    static func reader(_ scenario: String, faults: [String] = [], seed: UInt64 = 1, events: Int? = nil, durationNs: Int64? = nil) throws -> TraceReader {
        let path = try file(scenario, faults: faults, seed: seed, events: events, durationNs: durationNs)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try TraceReader(path: path)
    }

    /// The trace as the QEMU log text it stands for.
    static func text(_ reader: TraceReader) throws -> [UInt8] {
        let out = OutputFile()
        try TextExport.write(reader, to: out)
        return out.memory
    }

    static func lines(_ reader: TraceReader) throws -> [Substring] {
        String(decoding: try text(reader), as: UTF8.self).split(separator: "\n")
    }
}

@Suite("Simulator: arm64 GICv2 written as QEMU 7.2 gic_* events")
struct GICSimulationTests {
    static let armScenarios = BuiltinScenarios.all.filter { $0.platform.arch == "arm64" }.map(\.name)
    static let armFaults = FaultCatalog.all.filter { $0.platform == "arm64" }.map(\.name)

    @Test("the shipped arm64 scenarios and faults are registered")
    func registered() throws {
        #expect(Set(Self.armScenarios) == ["arm-gicv2", "arm-gicv2-el2"])
        #expect(Set(Self.armFaults) == ["gic-missing-eoi", "missing-dir", "wrong-itargetsr", "lost-sgi-source", "lr-overwrite"])
        #expect(Simulator.outputs(arch: "arm64") == ["qemu-gic", "kvm-arm64"])
        for name in Self.armScenarios { try BuiltinScenarios.named(name)!.validate() }
        for f in FaultCatalog.all where f.platform == "arm64" {
            #expect(BuiltinScenarios.named(f.scenario)?.platform.arch == "arm64")
            #expect(["diverges", "consistent"].contains(f.replay))
        }
    }

    @Test("clean runs replay with no divergence and ≥ 99% of observations checked", arguments: armScenarios)
    func cleanRunsReplay(scenario: String) throws {
        for seed: UInt64 in [1, 2, 3] {
            let reader = try GICSim.reader(scenario, seed: seed, durationNs: 40_000_000)
            #expect(reader.metadata.source == .simulator)
            #expect(reader.metadata.arch == .arm64)
            #expect(reader.metadata.simulation?.output == "qemu-gic")
            #expect(reader.metadata.groundTruth == [])
            let report = try Replayer.check(reader)
            #expect(report.adapter == "qemu-gicv2")
            #expect(report.events == reader.eventCount)
            #expect(report.divergences.isEmpty, "\(scenario) seed \(seed): \(report.divergences.prefix(3))")
            #expect(report.observationsTotal > 2000)
            #expect(report.observationsChecked * 100 >= report.observationsTotal * 99, "\(report.unchecked)")
            // Unchecked: only distributor reads whose value depends on the reading CPU (TYPER, ITARGETSR0).
            #expect(report.unchecked.keys.allSatisfy { $0.hasPrefix("gic_dist_read") }, "\(report.unchecked)")
        }
    }

    @Test("each arm64 fault fires, is recorded as ground truth, and replays as its catalog says", arguments: armFaults)
    func faultKinds(name: String) throws {
        let kind = FaultCatalog.named(name)!
        let scenario = BuiltinScenarios.named(kind.scenario)!
        for seed: UInt64 in [1, 2] {
            let reader = try GICSim.reader(kind.scenario, faults: [name + ":at=5ms"], seed: seed, durationNs: 40_000_000)
            let all = reader.metadata.groundTruth ?? []
            let truth = all.filter { $0.causedBy == nil }
            #expect(truth.count == 1, "\(name) seed \(seed) fired \(truth.count) times")
            // Consequences (gic-missing-eoi: what the stuck interrupt blocks) point at the fault.
            #expect(all.filter { $0.causedBy != nil }.allSatisfy { $0.causedBy == 0 && $0.expect == "lost_interrupt" && $0.fault == name })
            guard let g = truth.first else { continue }
            #expect(g.fault == name)
            #expect(g.expect == kind.expect)
            #expect(g.timeNs >= 5_000_000)
            #expect(g.cpu >= 0 && g.cpu < scenario.vcpus)
            let irq = try #require(g.irq)
            #expect(irq >= 0 && irq < 1020)
            let report = try Replayer.check(reader)
            if kind.replay == "diverges" {
                #expect(!report.divergences.isEmpty, "\(name) seed \(seed) should diverge")
                // The first divergence is at or after the fault, not a cascade from before it.
                #expect(report.divergences.allSatisfy { $0.eventIndex < 0 || $0.timeNs >= g.timeNs }, "\(report.divergences.prefix(2))")
            } else {
                #expect(report.divergences.isEmpty, "\(name) seed \(seed): \(report.divergences.prefix(2))")
            }
        }
    }

    @Test("what each fault leaves in the trace")
    func faultShapes() throws {
        // gic-missing-eoi: the interrupt is acknowledged and never written to EOIR by that CPU again.
        do {
            let reader = try GICSim.reader("arm-gicv2", faults: ["gic-missing-eoi:at=5ms"], durationNs: 30_000_000)
            let g = try #require(reader.metadata.groundTruth?.first)
            let after = try GICSim.lines(reader).filter { Self.time($0) >= g.timeNs / 1000 * 1000 }
            #expect(!after.contains { $0.contains("gic_cpu_write cpu \(g.cpu) iface write at 0x00000010") })
            #expect(!after.contains { $0.contains("gic_acknowledge_irq cpu \(g.cpu) acknowledged irq") && !$0.hasSuffix(" 1023") })
            #expect(after.contains { $0.contains("gic_update_bestirq cpu \(g.cpu) ") && $0.hasSuffix("cpu running priority 160") })
        }
        // missing-dir: EOIR without DIR for that interrupt, and it is never acknowledged again.
        do {
            let reader = try GICSim.reader("arm-gicv2-el2", faults: ["missing-dir:at=5ms"], durationNs: 30_000_000)
            let g = try #require(reader.metadata.groundTruth?.first)
            let irq = try #require(g.irq)
            let after = try GICSim.lines(reader).filter { Self.time($0) >= g.timeNs / 1000 * 1000 }
            #expect(!after.contains { $0.hasSuffix("acknowledged irq \(irq)") })
            #expect(!after.contains { $0.contains("iface write at 0x00001000 " + Self.hex8(irq)) })
        }
        // wrong-itargetsr: gic_set_irq names a target outside the SPI's ITARGETSR, and that CPU takes it.
        do {
            let reader = try GICSim.reader("arm-gicv2", faults: ["wrong-itargetsr:at=5ms"], durationNs: 30_000_000)
            let g = try #require(reader.metadata.groundTruth?.first)
            let irq = try #require(g.irq)
            let after = try GICSim.lines(reader).filter { Self.time($0) >= g.timeNs / 1000 * 1000 }
            #expect(after.first { $0.contains("gic_set_irq irq \(irq) level 1") }?.hasSuffix("target 0x\(String(1 << g.cpu, radix: 16))") == true)
            #expect(after.first { $0.hasSuffix("acknowledged irq \(irq)") }?.contains("cpu \(g.cpu) ") == true)
        }
        // lr-overwrite: the rising edge is followed by no update naming the interrupt.
        do {
            let reader = try GICSim.reader("arm-gicv2", faults: ["lr-overwrite:at=5ms"], durationNs: 30_000_000)
            let g = try #require(reader.metadata.groundTruth?.first)
            let irq = try #require(g.irq)
            let after = try GICSim.lines(reader).filter { Self.time($0) >= g.timeNs / 1000 * 1000 }
            let rise = try #require(after.firstIndex { $0.contains("gic_set_irq irq \(irq) level 1") })
            #expect(after[rise + 1].contains("gic_set_irq irq \(irq) level 0") || !after[rise + 1].contains("irq \(irq) priority"))
        }
    }

    @Test("the trace has every kind of operation of the workload")
    func workloadShape() throws {
        let lines = try GICSim.lines(try GICSim.reader("arm-gicv2", durationNs: 60_000_000))
        func count(_ s: String) -> Int { lines.reduce(0) { $0 + ($1.contains(s) ? 1 : 0) } }
        #expect(count("gic_dist_read dist read at 0x00000004 size 4: 0x00000068") == 1)  // TYPER: 288 IRQs, 4 CPUs
        for irq in 80...85 { #expect(count("gic_set_irq irq \(irq) level 1 cpumask 0xff") > 10) }  // GICv2m MSIs
        for cpu in 0..<4 { #expect(count("gic_set_irq irq 27 level 1 cpumask 0x\(1 << cpu) target 0x\(1 << cpu)") > 5) }
        #expect(count("gic_set_irq irq 33 level 0") > 2)     // the level UART, cleared by its handler
        #expect(count("dist write at 0x00000f00 size 4") > 20) // SGIs
        #expect(count("iface write at 0x00000004 0x00000080") > 2) // PMR raised
        #expect(count("iface write at 0x00000010") > 1000)   // EOIR
        #expect(count("iface write at 0x00001000") == 0)     // no DIR with EOImode 0
        // ITARGETSR byte writes: at start-up, and while running (affinity changes).
        let boot = lines.firstIndex { $0.contains("gic_set_irq") } ?? 0
        func itargetsr(_ l: Substring) -> Bool { l.contains("dist write at 0x000008") && l.contains("size 1") }
        #expect(lines[..<boot].filter(itargetsr).count == 9)
        #expect(lines[boot...].contains(where: itargetsr))
        let el2 = try GICSim.lines(try GICSim.reader("arm-gicv2-el2", durationNs: 50_000_000))
        let eoi = el2.filter { $0.contains("iface write at 0x00000010") }.count
        let dir = el2.filter { $0.contains("iface write at 0x00001000") }.count
        #expect(eoi > 300 && abs(eoi - dir) <= 2)
        #expect(el2.contains { $0.hasSuffix("iface write at 0x00000000 0x00000201") })
        #expect(el2.contains { $0.contains("gic_set_irq irq 30 level 1") })
    }

    @Test("the same seed gives the same file bytes; another seed another trace")
    func deterministic() throws {
        let a = try GICSim.file("arm-gicv2", faults: ["wrong-itargetsr:at=5ms"], seed: 7, durationNs: 20_000_000)
        let b = try GICSim.file("arm-gicv2", faults: ["wrong-itargetsr:at=5ms"], seed: 7, durationNs: 20_000_000)
        let c = try GICSim.file("arm-gicv2", faults: ["wrong-itargetsr:at=5ms"], seed: 8, durationNs: 20_000_000)
        defer { for p in [a, b, c] { try? FileManager.default.removeItem(atPath: p) } }
        let da = try #require(FileManager.default.contents(atPath: a)), db = try #require(FileManager.default.contents(atPath: b))
        #expect(da == db)
        #expect(da != FileManager.default.contents(atPath: c))
    }

    @Test("--events stops at that many events")
    func eventLimit() throws {
        let reader = try GICSim.reader("arm-gicv2", events: 20_000)
        #expect(reader.eventCount >= 20_000 && reader.eventCount < 20_030)
    }

    /// The simulated templates are the ones an import of the QEMU log makes: export the text, record
    /// it as the QEMU log it is, and compare event by event.
    @Test("a simulated trace is what recording its own QEMU log gives", arguments: armScenarios)
    func textRoundTrip(scenario: String) throws {
        try SimRun.expectRecordingEqual(try GICSim.reader(scenario, durationNs: 20_000_000))
    }

    @Test("arm64 scenario validation rejects what the simulator cannot express")
    func validation() throws {
        var s = BuiltinScenarios.named("arm-gicv2")!
        s.vcpus = 9
        #expect(throws: IrqtraceError.self) { try s.validate() }
        s = BuiltinScenarios.named("arm-gicv2")!
        s.devices[0].irq = 20
        #expect(throws: IrqtraceError.self) { try s.validate() }
        s = BuiltinScenarios.named("arm-gicv2")!
        s.ipis = .init(rateHz: 100, vectors: [16])
        #expect(throws: IrqtraceError.self) { try s.validate() }
        s = BuiltinScenarios.named("arm-gicv2")!
        s.timer = .init(periodUs: 1000, irq: 40)
        #expect(throws: IrqtraceError.self) { try s.validate() }
        s = BuiltinScenarios.named("arm-gicv2")!
        s.guest.eoi = "x2apic"
        #expect(throws: IrqtraceError.self) { try s.validate() }
        // An x86 fault on an arm64 scenario is refused.
        let o = Simulator.Options(scenario: BuiltinScenarios.named("arm-gicv2")!, faults: [try FaultRequest(parsing: "lost-msi")])
        #expect(throws: IrqtraceError.self) { try Simulator.run(o, to: OutputFile()) }
    }

    /// Nanoseconds of a `PID@SECONDS.MICROS:` line.
    static func time(_ line: Substring) -> Int64 {
        guard let at = line.firstIndex(of: "@"), let colon = line[at...].firstIndex(of: ":") else { return -1 }
        let stamp = line[line.index(after: at)..<colon].split(separator: ".")
        return (Int64(stamp[0]) ?? 0) * 1_000_000_000 + (Int64(stamp[1]) ?? 0) * 1000
    }

    static func hex8(_ v: Int) -> String {
        let h = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - h.count) + h
    }
}
