import TraceFormat

/// A place where what the trace says disagrees with the models.
public struct Divergence: Sendable, Equatable, Codable {
    /// Index of the event that disagreed.
    public var eventIndex: Int
    public var timeNs: Int64
    /// What was checked ("vtd_ir_remap_msi result", "Remote IRR of pin 10").
    public var what: String
    public var expected: String
    public var observed: String
    /// The model state that explains the expectation.
    public var state: String

    public func json() -> JSONValue {
        .object([("event_index", .int(eventIndex)), ("time_ns", .int(timeNs)), ("what", .string(what)),
                 ("expected", .string(expected)), ("observed", .string(observed)), ("state", .string(state))])
    }
}

/// The result of `replay --check`.
public struct ReplayReport: Sendable, Codable {
    /// Which adapter read the trace ("qemu-x86") and which model rules it used ("qemu").
    public var adapter: String
    public var behaviour: String
    /// (The x86 KVM adapter counts these three with wrapping increments, `&+=`: a count of events cannot
    /// overflow, and the overflow check on every event kept the hot loops from being simplified.)
    public var events = 0
    /// Events that are observations (the trace reports what the system did).
    public var observationsTotal = 0
    /// Observations the models could check.
    public var observationsChecked = 0
    /// Observations left unchecked, by event name, with why.
    public var unchecked: [String: Int] = [:]
    /// The divergences, the first ``keptDivergences`` of them in full (``add(_:)``); the rest counted
    /// in ``divergencesNotKept``.
    public internal(set) var divergences: [Divergence] = []
    /// Observations that agree only once events on different CPUs are reordered within the adapter's
    /// window (per-CPU trace clocks are not synchronised).
    public var reordered = 0
    /// Hash of the final model state (deterministic across runs and chunk sizes).
    public var digest: UInt64 = 0
    /// What makes the replay itself doubtful (several VMs in one trace); nil when nothing does.
    public var warnings: [String]?
    /// How many VMs the trace held, one after another, each replayed from its own reset (x86 KVM
    /// host traces, ``KVMX86Adapter``); nil when one (or when the adapter does not tell VMs apart).
    public var vmCount: Int? { vmList.flatMap { $0.count > 1 ? $0.count : nil } }
    /// Each VM, when the trace holds several (or concurrent ones): where it begins, its vCPU threads.
    public var vmList: [VMInfo]?
    /// Divergences found beyond the first ``keptDivergences`` (nil: none): counted, not kept.
    private var notKept: Int?
    /// Divergences before this time are not the report's (a window's check, `--from`: they are
    /// dropped as they come, so the kept ones are the window's first); not encoded.
    var keepFrom: Int64 = .min

    /// How many divergences a report keeps in full. Models that disagree with a trace once tend to
    /// disagree on every later event of it (several VMs in one host trace, a damaged or mislabelled
    /// trace), and each divergence holds its text: beyond this, a replay of any length only counts
    /// them, in bounded memory (10,000 kept: ~3 MiB).
    public static let keptDivergences = 10_000

    /// Divergences counted but not kept (beyond ``keptDivergences``).
    public internal(set) var divergencesNotKept: Int {
        get { notKept ?? 0 }
        set { notKept = newValue == 0 ? nil : newValue }
    }

    /// Every divergence found: those kept and those only counted.
    public var divergenceCount: Int { divergences.count + divergencesNotKept }

    /// Records a divergence: kept while fewer than ``keptDivergences`` are, counted otherwise (one
    /// before ``keepFrom`` is dropped: it is not the window's). (Not inlined: divergences are rare, and
    /// the handlers that report them stay small — inlined, it made the acceptance handler copy each
    /// LAPIC it matched against: +2 % of a replay.)
    @inline(never)
    mutating func add(_ d: Divergence) {
        if d.timeNs < keepFrom, d.eventIndex >= 0 { return }
        if divergences.count < Self.keptDivergences { divergences.append(d) } else { divergencesNotKept += 1 }
    }

    enum CodingKeys: String, CodingKey {
        case adapter, behaviour, events, observationsTotal, observationsChecked, unchecked, divergences, reordered, digest, warnings, notKept, vmList
    }

    public init(adapter: String, behaviour: String) {
        self.adapter = adapter
        self.behaviour = behaviour
    }

    public func json() -> JSONValue {
        var f: [(String, JSONValue)] = [
            ("adapter", .string(adapter)),
            ("behaviour", .string(behaviour)),
            ("events", .int(events)),
            ("observations_total", .int(observationsTotal)),
            ("observations_checked", .int(observationsChecked)),
            ("unchecked", .object(unchecked.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ("reordered", .int(reordered)),
            ("divergences", .array(divergences.map { $0.json() })),
            ("digest", .string(String(digest, radix: 16).leftPad(16))),
        ]
        if let vmCount { f.append(("vms", .int(vmCount))) }
        if let vmList { f.append(("vm_list", .array(vmList.map { $0.json() }))) }
        if let notKept { f.append(("divergences_not_kept", .int(notKept))) }
        if let warnings { f.append(("warnings", .array(warnings.map { .string($0) }))) }
        return .object(f)
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// A deterministic 64-bit hash (FNV-1a) for state digests; Swift's Hasher is seeded per process.
public struct StateDigest: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public init() {}
    public mutating func combine(_ v: UInt64) {
        var x = v
        for _ in 0..<8 { value = (value ^ (x & 0xFF)) &* 0x100_0000_01b3; x >>= 8 }
    }
    public mutating func combine(_ v: Int) { combine(UInt64(bitPattern: Int64(v))) }
    public mutating func combine(_ b: Bool) { combine(b ? 1 as UInt64 : 0) }
}
