import Replayer
import TraceFormat

/// `irqtrace analyze`: replays a trace with transitions recorded and runs the detectors over them and
/// over the models' final state.
public enum Analyzer {
    public struct Options: Sendable {
        /// Only these kinds (nil: all).
        public var only: Set<Finding.Kind>?
        public var minSeverity: Finding.Severity
        public init(only: Set<Finding.Kind>? = nil, minSeverity: Finding.Severity = .info) {
            self.only = only
            self.minSeverity = minSeverity
        }
    }

    public static func analyze(_ reader: TraceReader, options: Options = Options()) throws -> AnalysisReport {
        let m = reader.metadata
        switch (m.vocabularySource, m.arch) {
        case (.ftraceText, .x86_64), (.traceCmdReport, .x86_64), (.perfScript, .x86_64), (.traceDat, .x86_64):
            var adapter = try Replayer.kvmX86Adapter(reader)
            adapter.recordTransitions = true
            var detectors = X86Detectors()
            var end: Int64 = 0
            try reader.forEachBatch { b in
                for i in 0..<b.count {
                    adapter.handle(b, i, catalog: reader.catalog)
                    if !adapter.transitions.isEmpty {
                        for t in adapter.transitions { detectors.consume(t) }
                        adapter.transitions.removeAll(keepingCapacity: true)
                    }
                }
                if b.count > 0 { end = max(end, b.times[b.count - 1]) }
            }
            let replay = adapter.finish()
            for t in adapter.transitions { detectors.consume(t) }
            detectors.finish(machine: adapter.machine, endTime: end)
            var report = AnalysisReport(adapter: replay.adapter, events: replay.events, findings: [], divergences: replay.divergences.count)
            report.findings = filter(detectors.findings, options)
            return report
        default:
            throw IrqtraceError("analyze does not read \(m.vocabularySource.rawValue) traces for \(m.arch.rawValue) yet", path: reader.path,
                                hint: "this release analyzes x86 KVM tracepoint traces (kvm_pvm, VMX, SVM hosts) and simulated kvm-vmx traces")
        }
    }

    /// Keeps the findings asked for; `caused_by` indices follow the kept list (a cause filtered out is dropped).
    static func filter(_ all: [Finding], _ o: Options) -> [Finding] {
        var newIndex = [Int?](repeating: nil, count: all.count)
        var out: [Finding] = []
        for (k, f) in all.enumerated() where f.severity >= o.minSeverity && (o.only?.contains(f.kind) ?? true) {
            newIndex[k] = out.count
            out.append(f)
        }
        for k in out.indices { out[k].causedBy = out[k].causedBy.flatMap { newIndex[$0] } }
        return out
    }
}
