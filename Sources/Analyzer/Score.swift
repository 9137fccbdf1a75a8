import TraceFormat

/// Findings scored against a simulated trace's ground truth (CLI conventions): a finding matches an
/// entry when its kind is the entry's `expect`, its cpu is the entry's cpu, and its vector (or, when
/// either has no vector, its irq) is the entry's. Each entry and each finding matches at most once.
public struct Score: Sendable, Equatable {
    public var truth = 0
    public var findings = 0
    public var matched = 0
    /// Ground-truth entries no finding matched, and findings matching no entry.
    public var missed: [GroundTruth] = []
    public var spurious: [Finding] = []

    public var precision: Double { findings == 0 ? 1 : Double(matched) / Double(findings) }
    public var recall: Double { truth == 0 ? 1 : Double(matched) / Double(truth) }

    public static func matches(_ f: Finding, _ g: GroundTruth) -> Bool {
        guard f.kind.rawValue == g.expect, f.cpu == g.cpu else { return false }
        if let fv = f.vector, let gv = g.vector { return fv == gv }
        return f.irq != nil && f.irq == g.irq
    }

    /// Scores the findings of at least `minSeverity` (info findings are explained noise, not claims).
    public init(findings all: [Finding], truth: [GroundTruth], minSeverity: Finding.Severity = .warning) {
        let fs = all.filter { $0.severity >= minSeverity }
        self.truth = truth.count
        self.findings = fs.count
        var used = [Bool](repeating: false, count: fs.count)
        for g in truth {
            if let k = fs.indices.first(where: { !used[$0] && Self.matches(fs[$0], g) }) {
                used[k] = true
                matched += 1
            } else {
                missed.append(g)
            }
        }
        spurious = fs.indices.filter { !used[$0] }.map { fs[$0] }
    }
}
