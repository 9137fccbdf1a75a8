import Replayer
import TraceFormat

/// The model transitions of a whole trace, for consumers outside the analyzers (the exports, the HTML
/// report): the same replay loop as `analyze`, with the adapter the trace's source needs.
public enum TransitionStream {
    /// Whether `metadata`'s source has a transition-recording adapter (x86 KVM tracepoints, QEMU GICv2).
    public static func supports(_ metadata: TraceMetadata) -> Bool {
        TransitionReplay.isKVMX86(metadata) || (metadata.vocabularySource == .qemuLog && metadata.arch == .arm64)
    }

    /// Replays `reader`, handing every transition to `consume` in trace order; returns the replay
    /// report. Throws for sources without transitions (``supports(_:)``).
    @discardableResult
    public static func replay(_ reader: TraceReader, _ consume: (Transition) -> Void) throws -> ReplayReport {
        let m = reader.metadata
        if TransitionReplay.isKVMX86(m) {
            return try TransitionReplay.kvmX86(reader, what: "the transition stream", consume).report
        }
        if m.vocabularySource == .qemuLog && m.arch == .arm64 {
            return try TransitionReplay.qemuGIC(reader, consume).report
        }
        throw IrqtraceError("no model transitions for \(m.vocabularySource.rawValue) traces (\(m.arch.rawValue)) yet", path: reader.path,
                            hint: "transitions come from x86 KVM tracepoint traces and QEMU GICv2 logs")
    }
}
