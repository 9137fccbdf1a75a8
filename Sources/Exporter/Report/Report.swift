import Analyzer
import Replayer
import TraceFormat

/// Everything the HTML report shows, computed in Swift (the page only draws): the summary, a
/// multi-resolution activity summary per CPU, detailed timeline windows within a size budget, the
/// findings with their evidence lines, the models' state at chosen times, and latency distributions.
/// Times inside ``activity``, ``windows`` and the findings are nanoseconds from ``Summary/firstTime``.
public struct Report: Sendable {
    /// Bounds on what is embedded (docs/REPORT.md).
    public struct Options: Sendable {
        /// Detailed timeline items (slices, instants, flows) embedded at most, over all windows.
        public var detailBudget = 150_000
        /// Items on each side of a finding that its window holds when the whole trace does not fit.
        public var itemsAroundFinding = 2_000
        /// Buckets per CPU of the finest activity level (coarser levels divide by 4, down to ≤ 256).
        public var finestBuckets = 16_384
        /// Findings listed at most (the most severe first, then in time order).
        public var maxFindings = 1_000
        /// Evidence lines per finding.
        public var maxEvidence = 24
        /// Times at which the models' state is computed (findings' times, most severe first; plus the end).
        public var maxStates = 24
        public init() {}
    }

    public struct Summary: Sendable {
        public var path: String
        /// The vocabulary source (`ftrace-text`, `qemu-log`, …), the recorder's source, the architecture.
        public var source: String
        public var recordedAs: String
        public var arch: String
        public var kvmFlavour: String?
        public var simulation: String?
        public var events: Int
        public var typedEvents: Int
        public var firstTime: Int64
        public var lastTime: Int64
        /// CPUs the events name (trace CPUs for ftrace: the host CPU; vCPUs for QEMU).
        public var eventCPUs: [Int64]
        /// CPUs with model transitions (vCPUs / GIC CPU interfaces).
        public var modelCPUs: [Int32]
        public var countsByName: [(name: String, count: Int)]
        /// The replay adapter, and the divergences its check found (nil: the source has no replay).
        public var adapter: String?
        public var divergences: Int?
        public var findingsBySeverity: [(severity: Finding.Severity, count: Int)]
        public var damagedEvents: Int
        /// The VMs of a trace that holds several (``Replayer/VMInfo``); nil when one.
        public var vms: [VMInfo]? = nil
    }

    /// A finding as listed: the analyzer's finding, its evidence as the source printed it, and the
    /// state snapshot taken at its time.
    public struct FindingEntry: Sendable {
        public var index: Int
        public var finding: Finding
        public var evidence: [EvidenceLine]
        public var stateIndex: Int?
    }

    public var summary: Summary
    public var activity: ActivityLevels?
    public var windows: [DetailWindow] = []
    public var findings: [FindingEntry] = []
    /// Findings the analyzer reported beyond ``Options/maxFindings``.
    public var findingsLeftOut = 0
    public var states: [ModelStateSnapshot] = []
    public var latency: [LatencyRow] = []
    /// What the report could not show and why (sources without transitions, budgets hit).
    public var notes: [String] = []
    public var options: Options
    /// The irqtrace version that wrote it.
    public var generator = ""
}
