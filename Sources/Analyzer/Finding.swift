import TraceFormat
import Replayer

/// What an analyzer reports: a kind of failure, where and when, the events that prove it, and an
/// explanation in hardware terms (docs/ANALYZERS.md). The fields are those of the simulator's ground
/// truth: a finding matches a ground-truth entry when `kind` equals `expect`, `cpu` is equal, and
/// `vector` (or `irq`) is equal.
public struct Finding: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Comparable {
        case lostInterrupt = "lost_interrupt"
        case priorityInversion = "priority_inversion"
        case misroutedVector = "misrouted_vector"
        case stuckInService = "stuck_in_service"
        case remoteIRRStuck = "remote_irr_stuck"
        case interruptStorm = "interrupt_storm"
        case haltedWithPending = "halted_with_pending"
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    public enum Severity: String, Sendable, CaseIterable, Comparable {
        /// Benign and explained (boot-time noise, a spurious acknowledge).
        case info
        /// Suspicious but survivable (coalesced edges, a storm the mitigation broke, a late wakeup).
        case warning
        /// The guest or a device lost service: lost, stuck, misrouted, hung.
        case error
        var rank: Int { self == .info ? 0 : self == .warning ? 1 : 2 }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    public var kind: Kind
    public var severity: Severity
    public var timeNs: Int64
    /// The vCPU (x86 KVM: the APIC ID, which KVM sets to the vcpu_id); nil when the destination does not exist.
    public var cpu: Int?
    /// The destination a message named, for findings about destinations that do not exist.
    public var dest: Int?
    public var vector: Int?
    /// IOAPIC pin / GSI / GIC interrupt ID.
    public var irq: Int?
    /// Indices of the events that prove it, the key one first.
    public var events: [Int]
    public var explanation: String
    /// Index (in the report's list) of the finding this one is a consequence of.
    public var causedBy: Int?
    /// The VM it happened in (its number), when the trace holds several (``AnalysisReport/vmList``).
    public var vm: Int?

    public init(_ kind: Kind, _ severity: Severity, time: Int64, cpu: Int? = nil, dest: Int? = nil, vector: Int? = nil, irq: Int? = nil,
                events: [Int], _ explanation: String, causedBy: Int? = nil) {
        self.kind = kind
        self.severity = severity
        self.timeNs = time
        self.cpu = cpu
        self.dest = dest
        self.vector = vector
        self.irq = irq
        self.events = events
        self.explanation = explanation
        self.causedBy = causedBy
    }

    public func json() -> JSONValue {
        var f: [(String, JSONValue)] = [("kind", .string(kind.rawValue)), ("severity", .string(severity.rawValue)), ("time_ns", .int(timeNs)),
                                        ("cpu", cpu.map { .int($0) } ?? .null)]
        if let dest { f.append(("dest", .int(dest))) }
        if let vector { f.append(("vector", .int(vector))) }
        if let irq { f.append(("irq", .int(irq))) }
        f.append(("events", .array(events.map { .int($0) })))
        f.append(("explanation", .string(explanation)))
        if let causedBy { f.append(("caused_by", .int(causedBy))) }
        if let vm { f.append(("vm", .int(vm))) }
        return .object(f)
    }
}

/// The result of `irqtrace analyze`.
public struct AnalysisReport: Sendable {
    public var adapter: String
    public var events = 0
    public var findings: [Finding] = []
    /// Divergences the replay found on the way (the checker's view of the same trace).
    public var divergences = 0
    /// The replay's warnings (``ReplayReport/warnings``: VMs that ran concurrently); nil when none.
    public var warnings: [String]?
    /// Each VM (``ReplayReport/vmList``); nil when one.
    public var vmList: [VMInfo]?
    /// VMs one after another in the trace, each analyzed on its own (``ReplayReport/vmCount``); nil when one.
    public var vms: Int? { vmList.flatMap { $0.count > 1 ? $0.count : nil } }

    public func json() -> JSONValue {
        .object([("adapter", .string(adapter)), ("events", .int(events)), ("divergences", .int(divergences))]
                + (vms.map { [("vms", JSONValue.int($0))] } ?? [])
                + (vmList.map { [("vm_list", JSONValue.array($0.map { $0.json() }))] } ?? [])
                + (warnings.map { [("warnings", JSONValue.array($0.map { .string($0) }))] } ?? [])
                + [("findings", .array(findings.map { $0.json() }))])
    }
}
