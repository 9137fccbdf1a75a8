import Replayer
import TraceFormat

/// Drives a trace's adapter with transitions recorded and hands each transition to a consumer: the
/// one loop behind `analyze`, `why` and `stats --latency`.
enum TransitionReplay {
    struct Result {
        var adapter: KVMX86Adapter
        var report: ReplayReport
        /// Time of the last event replayed.
        var end: Int64
    }

    /// x86 KVM tracepoint traces (and simulated kvm-vmx ones): events before `until` (all when nil).
    static func kvmX86(_ reader: TraceReader, until: Int64? = nil, what: String, _ consume: (Transition) -> Void) throws -> Result {
        let m = reader.metadata
        guard m.arch == .x86_64, [.ftraceText, .traceCmdReport, .perfScript, .traceDat].contains(m.vocabularySource) else {
            throw IrqtraceError("\(what) reads x86 KVM tracepoint traces in this release (this one is \(m.vocabularySource.rawValue), \(m.arch.rawValue))",
                                path: reader.path, hint: "record the kvm/* tracepoints of the host, or simulate a kvm-vmx scenario")
        }
        var adapter = try Replayer.kvmX86Adapter(reader)
        adapter.recordTransitions = true
        var end: Int64 = 0
        try reader.forEachBatch { b in
            for i in 0..<b.count where until.map({ b.times[i] < $0 }) ?? true {
                adapter.handle(b, i, catalog: reader.catalog)
                end = max(end, b.times[i])
                if !adapter.transitions.isEmpty {
                    for t in adapter.transitions { consume(t) }
                    adapter.transitions.removeAll(keepingCapacity: true)
                }
            }
        }
        let report = adapter.finish()
        for t in adapter.transitions { consume(t) }
        adapter.transitions.removeAll(keepingCapacity: true)
        return Result(adapter: adapter, report: report, end: end)
    }
}
