import Foundation

/// What a trace knows about where it came from. Stored as JSON in the file header (as known when
/// the first chunk was written) and again in the footer (final); readers prefer the footer's.
public struct TraceMetadata: Codable, Sendable, Equatable {
    public var source: SourceKind
    public var arch: Architecture
    public var clock: ClockDomain
    /// KVM backend when the trace is from KVM: "vmx", "svm", "pvm"; nil when unknown or not KVM.
    public var kvmFlavour: String?
    public var topology: Topology
    /// The command line that made the recording (irqtrace's own, and the workload's where known).
    public var commandLine: [String]
    public var host: String?
    public var kernel: String?
    public var qemuVersion: String?
    /// "irqtrace VERSION".
    public var recorder: String
    public var inputs: [InputInfo]
    /// For simulated traces: what made it (scenario, seed, faults, the vocabulary written).
    public var simulation: SimulationInfo?
    /// For simulated traces: every injected fault, with the finding a correct analyzer reports.
    public var groundTruth: [GroundTruth]?
    /// For live recordings: host facts, the recorder's settings and what was lost.
    public var live: LiveRecordingInfo?

    public init(source: SourceKind, arch: Architecture = .unknown, clock: ClockDomain = .none,
                kvmFlavour: String? = nil, topology: Topology = Topology(), commandLine: [String] = [],
                host: String? = nil, kernel: String? = nil, qemuVersion: String? = nil,
                recorder: String = "irqtrace \(IrqtraceVersion.string)", inputs: [InputInfo] = []) {
        self.source = source
        self.arch = arch
        self.clock = clock
        self.kvmFlavour = kvmFlavour
        self.topology = topology
        self.commandLine = commandLine
        self.host = host
        self.kernel = kernel
        self.qemuVersion = qemuVersion
        self.recorder = recorder
        self.inputs = inputs
    }

    enum CodingKeys: String, CodingKey {
        case source, arch, clock, topology, host, kernel, recorder, inputs
        case kvmFlavour = "kvm_flavour"
        case commandLine = "command_line"
        case qemuVersion = "qemu_version"
        case simulation
        case groundTruth = "ground_truth"
        case live
    }

    /// The source whose vocabulary the events are in: a simulated trace is read as the real source
    /// it imitates (ftrace text for KVM tracepoints, a QEMU log for QEMU events).
    public var vocabularySource: SourceKind {
        // A live tracefs recording holds the lines trace-cmd report prints for its records.
        if source == .tracefsLive { return .traceDat }
        guard source == .simulator, let s = simulation else { return source }
        return s.output.hasPrefix("qemu") ? .qemuLog : .ftraceText
    }

    func jsonBytes() -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return Array((try? e.encode(self)) ?? Data())
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws -> TraceMetadata {
        try JSONDecoder().decode(TraceMetadata.self, from: Data(bytes))
    }
}

/// The machine, as far as the source tells.
public struct Topology: Codable, Sendable, Equatable {
    public var vcpus: Int?
    public var apicIDs: [Int]?
    public var ioapicPins: Int?
    public var gicLines: Int?
    public init(vcpus: Int? = nil, apicIDs: [Int]? = nil, ioapicPins: Int? = nil, gicLines: Int? = nil) {
        self.vcpus = vcpus
        self.apicIDs = apicIDs
        self.ioapicPins = ioapicPins
        self.gicLines = gicLines
    }
    enum CodingKeys: String, CodingKey {
        case vcpus
        case apicIDs = "apic_ids"
        case ioapicPins = "ioapic_pins"
        case gicLines = "gic_lines"
    }
}

/// One input file of a recording.
public struct InputInfo: Codable, Sendable, Equatable {
    public var path: String
    /// Input format name (`qemu-log`, …).
    public var format: String
    public var bytes: Int
    public var lines: Int
    /// Index of the input's first event in the trace, and how many it gave.
    public var firstEvent: Int
    public var events: Int
    public var malformedLines: Int
    /// False when the input's last line had no newline (reprinted the same way).
    public var finalNewline: Bool
    /// Header lines before the input's first event (`# tracer: nop`, `cpus=2`), reprinted by the text export.
    public var preamble: [String]?

    /// Events the ring buffer dropped before this copy of tracefs `trace` was taken, from its header
    /// (`# entries-in-buffer/entries-written: 20484/400000`: the oldest overwritten, or read from
    /// `trace_pipe` before); nil when the header does not say. The trace then starts mid-flight, at
    /// a different time on each CPU (each per-CPU buffer keeps its own latest events).
    public var overwrittenEvents: Int? {
        guard let line = preamble?.first(where: { $0.contains("entries-in-buffer/entries-written:") }),
              let r = line.range(of: "entries-written:") else { return nil }
        let numbers = line[r.upperBound...].split(whereSeparator: { $0 == " " || $0 == "/" }).prefix(2).compactMap { Int($0) }
        guard numbers.count == 2, numbers[1] >= numbers[0] else { return nil }
        return numbers[1] - numbers[0]
    }

    public init(path: String, format: String, bytes: Int = 0, lines: Int = 0, firstEvent: Int = 0, events: Int = 0,
                malformedLines: Int = 0, finalNewline: Bool = true) {
        self.path = path
        self.format = format
        self.bytes = bytes
        self.lines = lines
        self.firstEvent = firstEvent
        self.events = events
        self.malformedLines = malformedLines
        self.finalNewline = finalNewline
    }

    enum CodingKeys: String, CodingKey {
        case path, format, bytes, lines, events
        case firstEvent = "first_event"
        case malformedLines = "malformed_lines"
        case finalNewline = "final_newline"
        case preamble
    }
}

/// How a simulated trace was made (`irqtrace sim`).
public struct SimulationInfo: Codable, Sendable, Equatable {
    public var scenario: String
    public var seed: UInt64
    /// The vocabulary written: "kvm-vmx" (x86 kvm tracepoints), "qemu-gic" (QEMU gic_* events), …
    public var output: String
    /// The faults asked for, as given (`NAME[:params]`).
    public var faults: [String]
    public init(scenario: String, seed: UInt64, output: String, faults: [String]) {
        self.scenario = scenario
        self.seed = seed
        self.output = output
        self.faults = faults
    }
}

/// One injected fault of a simulated trace: what was done, when, where, and the finding kind
/// (issue 7's analyzer kinds) a correct analyzer reports for it.
public struct GroundTruth: Codable, Sendable, Equatable {
    public var fault: String
    public var expect: String
    public var timeNs: Int64
    public var cpu: Int
    public var vector: Int?
    public var irq: Int?
    /// What the simulator did, in hardware terms.
    public var detail: String
    /// For a consequence of another fault (a vector blocked behind a stuck one, left pending on a hung
    /// vCPU): the index of that fault's entry.
    public var causedBy: Int?
    public init(fault: String, expect: String, timeNs: Int64, cpu: Int, vector: Int? = nil, irq: Int? = nil, detail: String = "", causedBy: Int? = nil) {
        self.fault = fault
        self.expect = expect
        self.timeNs = timeNs
        self.cpu = cpu
        self.vector = vector
        self.irq = irq
        self.detail = detail
        self.causedBy = causedBy
    }
    enum CodingKeys: String, CodingKey {
        case fault, expect, cpu, vector, irq, detail
        case timeNs = "time_ns"
        case causedBy = "caused_by"
    }
}

public enum IrqtraceVersion {
    public static let string = "0.1.0"
}
