import Foundation
import TraceFormat

/// `irqtrace sim`: runs a scenario forward on the Replayer's models and writes the trace, with every
/// injected fault recorded as ground truth in the trace's metadata.
public enum Simulator {
    public struct Options: Sendable {
        public var scenario: Scenario
        public var faults: [FaultRequest]
        public var seed: UInt64
        /// Stop after this many events (nil: run for the duration).
        public var events: Int?
        /// Simulated run length in ns (nil: the scenario's duration, or unbounded with `events`).
        public var durationNs: Int64?
        /// zstd level of the output.
        public var level: Int32
        public var chunkSize: Int
        public var commandLine: [String]
        /// For benchmarks of generation alone: chunks are dropped, not compressed and written.
        public var discardChunks = false
        /// The output vocabulary, overriding the scenario's `output` (CLI `--vocabulary`).
        public var output: String?

        public init(scenario: Scenario, faults: [FaultRequest] = [], seed: UInt64 = 1, events: Int? = nil, durationNs: Int64? = nil,
                    level: Int32 = 3, chunkSize: Int = 1 << 20, commandLine: [String] = []) {
            self.scenario = scenario
            self.faults = faults
            self.seed = seed
            self.events = events
            self.durationNs = durationNs
            self.level = level
            self.chunkSize = chunkSize
            self.commandLine = commandLine
        }
    }

    public struct Result: Sendable {
        public var metadata: TraceMetadata
        public var events: Int
        public var bytes: Int
        public var simulatedNs: Int64
    }

    /// The vocabularies each platform can be written in; the first is the platform's default.
    public static func outputs(arch: String) -> [String] { arch == "x86_64" ? ["kvm-vmx", "qemu-x86"] : ["qemu-gic", "kvm-arm64"] }

    /// What each output writes (`irqtrace sim --list`).
    public static let outputDescriptions: [(name: String, arch: String, summary: String)] = [
        ("kvm-vmx", "x86_64", "Linux 6.18 kvm tracepoints of a VMX host, as tracefs trace text"),
        ("qemu-x86", "x86_64", "QEMU 7.2 apic_*, ioapic_*, vtd_ir_* and pic_* trace events of a q35 machine (with or without VT-d interrupt remapping), as a -msg timestamp=on log"),
        ("qemu-gic", "arm64", "QEMU 7.2 gic_* trace events of the virt board's GICv2 (one TCG thread), as a -msg timestamp=on log"),
        ("kvm-arm64", "arm64", "Linux 6.x arm64 kvm tracepoints of a VHE host with an in-kernel vGIC (GICv2 guest, hardware list registers), as tracefs trace text"),
    ]

    static func runGIC<O: GICOutput>(_: O.Type, _ s: Scenario, _ o: Options, _ writer: TraceWriter, _ end: Int64) throws -> ([GroundTruth], Int64) {
        var sim = GICSimulation<O>(scenario: s, faults: o.faults, seed: o.seed, writer: writer, endTime: end, maxEvents: o.events ?? .max)
        try sim.run()
        return (sim.faults.truth, sim.now)
    }

    /// The output a run writes: `override` (the CLI's `--vocabulary`), else the scenario's `output`,
    /// else the platform's default.
    public static func outputName(_ s: Scenario, override: String? = nil) -> String {
        override ?? s.output ?? outputs(arch: s.platform.arch)[0]
    }

    public static func run(_ o: Options, to output: OutputFile) throws -> Result {
        var s = o.scenario
        let outputName = Simulator.outputName(s, override: o.output)
        guard outputs(arch: s.platform.arch).contains(outputName) else {
            throw IrqtraceError("scenario \(s.name): output \(outputName) is not available for \(s.platform.arch)",
                                hint: "outputs: \(outputs(arch: s.platform.arch).joined(separator: ", "))")
        }
        s.output = outputName
        try s.validate()
        for f in o.faults where f.kind.platform != s.platform.arch {
            throw IrqtraceError("fault \(f.kind.name) is for \(f.kind.platform), scenario \(s.name) is \(s.platform.arch)",
                                hint: "e.g. irqtrace sim \(f.kind.scenario) --fault \(f.kind.name)")
        }
        for f in o.faults where f.kind.outputs[outputName] == nil {
            throw IrqtraceError("fault \(f.kind.name) cannot be written in the \(outputName) output: \(f.kind.notExpressible[outputName] ?? "not implemented for it")",
                                hint: "outputs that can show it: \(f.kind.outputs.keys.sorted().joined(separator: ", "))")
        }
        for f in o.faults {
            let home = BuiltinScenarios.named(f.kind.scenario)
            if f.kind.platform == "x86_64", outputName == "kvm-vmx", (home?.platform.postedInterrupts == true) != (s.platform.postedInterrupts == true) {
                throw IrqtraceError(home?.platform.postedInterrupts == true
                                        ? "fault \(f.kind.name) needs platform.posted_interrupts (scenario \(s.name) has none)"
                                        : "fault \(f.kind.name) is not written for platform.posted_interrupts (scenario \(s.name)): with APICv its events are not the ones it changes",
                                    hint: "e.g. irqtrace sim \(f.kind.scenario) --fault \(f.kind.name)")
            }
            if home?.platform.interruptRemapping == true, s.platform.interruptRemapping != true {
                throw IrqtraceError("fault \(f.kind.name) needs platform.interrupt_remapping (scenario \(s.name) has none)",
                                    hint: "e.g. irqtrace sim \(f.kind.scenario) --fault \(f.kind.name)")
            }
        }
        let arch: Architecture = s.platform.arch == "x86_64" ? .x86_64 : .arm64
        var metadata = TraceMetadata(source: .simulator, arch: arch, clock: .simulated,
                                     kvmFlavour: outputName == "kvm-vmx" ? "vmx" : nil,
                                     topology: Topology(vcpus: s.vcpus, apicIDs: arch == .x86_64 ? Array(0..<s.vcpus) : nil),
                                     commandLine: o.commandLine)
        metadata.simulation = SimulationInfo(scenario: s.name, seed: o.seed, output: outputName, faults: o.faults.map(\.text))
        let writer = TraceWriter(output: output, metadata: metadata, chunkSize: o.chunkSize, level: o.level, encodeBehind: true)
        writer.discardChunks = o.discardChunks
        // Start at 1 ms of simulated time; the run ends at `end`.
        let duration = o.durationNs ?? (o.events != nil ? Int64.max / 4 : Int64(s.durationMs * 1_000_000))
        let end = 1_000_000 + duration
        var truth: [GroundTruth]
        var simulated: Int64
        switch outputName {
        case "kvm-vmx":
            var sim = X86KVMSimulation(scenario: s, faults: o.faults, seed: o.seed, writer: writer, endTime: end, maxEvents: o.events ?? .max)
            try sim.run()
            truth = sim.faults.truth
            simulated = sim.now
        case "qemu-x86":
            var sim = X86QEMUSimulation(scenario: s, faults: o.faults, seed: o.seed, writer: writer, endTime: end, maxEvents: o.events ?? .max)
            try sim.run()
            truth = sim.faults.truth
            simulated = sim.now
        case QEMUGICOutput.name:
            (truth, simulated) = try runGIC(QEMUGICOutput.self, s, o, writer, end)
        case KVMArm64Output.name:
            (truth, simulated) = try runGIC(KVMArm64Output.self, s, o, writer, end)
        default:
            throw IrqtraceError("output \(outputName) is not implemented", hint: "outputs: \(outputs(arch: s.platform.arch).joined(separator: ", "))")
        }
        metadata.groundTruth = truth
        writer.metadata = metadata
        try writer.finish()
        return Result(metadata: metadata, events: writer.eventCount, bytes: writer.bytesWritten, simulatedNs: simulated)
    }
}
