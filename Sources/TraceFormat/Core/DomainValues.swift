/// Small typed values shared by every part of irqtrace.

/// A point in time or a duration, in nanoseconds, within one ``ClockDomain``.
public struct Nanoseconds: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { self.rawValue = value }
    public static func < (a: Nanoseconds, b: Nanoseconds) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(rawValue) ns" }
}

/// Which clock a timestamp was read from. Timestamps from different domains are not comparable.
public enum ClockDomain: UInt8, Sendable, CaseIterable {
    /// No timestamps in the source (for example a QEMU log written without `-msg timestamp=on`).
    case none = 0
    /// Wall-clock time (gettimeofday), as QEMU's `-msg timestamp=on` prints it: seconds since the epoch.
    case realtime = 1
    /// ftrace `local` clock (per-CPU sched_clock).
    case ftraceLocal = 2
    /// ftrace `global` clock.
    case ftraceGlobal = 3
    /// CLOCK_MONOTONIC (ftrace `mono`).
    case monotonic = 4
    /// Raw TSC ticks (ftrace `x86-tsc`); "ns" are ticks.
    case x86TSC = 5
    /// An event counter (ftrace `counter`); "ns" are counts.
    case counter = 6
    /// Simulated time of irqtrace's scenario simulator.
    case simulated = 7

    public var name: String {
        switch self {
        case .none: "none"
        case .realtime: "realtime"
        case .ftraceLocal: "local"
        case .ftraceGlobal: "global"
        case .monotonic: "mono"
        case .x86TSC: "x86-tsc"
        case .counter: "counter"
        case .simulated: "simulated"
        }
    }
}

/// What kind of recording a trace was made from.
public enum SourceKind: String, Sendable, Codable, CaseIterable {
    case qemuLog = "qemu-log"
    case ftraceText = "ftrace-text"
    case traceCmdReport = "trace-cmd-report"
    case perfScript = "perf-script"
    case traceDat = "trace-dat"
    case tracefsLive = "tracefs-live"
    case simulator = "simulator"
    case mixed = "mixed"
}

/// The guest architecture a trace belongs to.
public enum Architecture: String, Sendable, Codable, CaseIterable {
    case unknown
    case x86_64
    case arm64
}

extension ClockDomain: Codable {
    /// Stored by name ("realtime", "local", …) in the trace metadata.
    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let c = ClockDomain.allCases.first(where: { $0.name == name }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown clock \(name)"))
        }
        self = c
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }
}
