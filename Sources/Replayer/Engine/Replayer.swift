import TraceFormat

/// Drives the models from a trace through the adapter for its source and architecture.
public enum Replayer {
    /// Replays every intact event of `reader` and checks the observations.
    public static func check(_ reader: TraceReader, midFlight: Bool = false) throws -> ReplayReport {
        try run(reader, until: nil, midFlight: midFlight).report
    }

    /// The check restricted to observations in [`from`, `to`): the models run from the first event
    /// (their state depends on all of it), and what was checked before `from` is subtracted.
    /// Divergences found at the end of the trace (expectations never met) count only without `to`.
    public static func check(_ reader: TraceReader, from: Int64?, to: Int64?, midFlight: Bool = false) throws -> ReplayReport {
        var window = try run(reader, until: to, midFlight: midFlight).report
        if to != nil { window.divergences.removeAll { $0.eventIndex < 0 } }
        guard let from else { return window }
        let before = try run(reader, until: from, midFlight: midFlight).report
        window.divergences.removeAll { $0.eventIndex >= 0 && $0.timeNs < from }
        window.events -= before.events
        window.observationsTotal -= before.observationsTotal
        window.observationsChecked -= before.observationsChecked
        window.reordered -= before.reordered
        for (k, v) in before.unchecked { window.unchecked[k, default: 0] -= v; if window.unchecked[k] == 0 { window.unchecked[k] = nil } }
        return window
    }

    /// The adapter for an x86 KVM tracepoint trace, its flavour chosen and its threads learnt (first pass).
    /// The flavour comes from the trace header (record infers it), else from the events (every chunk
    /// carries its templates: one pass fills the catalog).
    /// `midFlight` (or a live recording whose header says it started mid-flight) makes the adapter
    /// adopt state from before the trace (``KVMX86Adapter/midFlight``).
    public static func kvmX86Adapter(_ reader: TraceReader, midFlight: Bool = false) throws -> KVMX86Adapter {
        let m = reader.metadata
        if m.kvmFlavour == nil { try reader.forEachBatch { _ in } }
        guard let name = m.kvmFlavour ?? KVMFlavourGuess.guess(reader.catalog) else {
            throw IrqtraceError("no x86 KVM interrupt events (kvm_apic_accept_irq, kvm_eoi, kvm_inj_virq) to replay", path: reader.path,
                                hint: "record the kvm/* tracepoints of the host")
        }
        var adapter = KVMX86Adapter(flavour: KVMX86Adapter.Flavour(rawValue: name) ?? .hardware)
        adapter.midFlight = midFlight || m.live?.midFlight == true
        try reader.forEachBatch { adapter.learnThreads($0, catalog: reader.catalog) }
        return adapter
    }

    /// The models' state after every event before `time` (all events when nil), with the report so far.
    public static func run(_ reader: TraceReader, until time: Int64?, midFlight: Bool = false) throws -> (report: ReplayReport, machine: X86Machine) {
        let m = reader.metadata
        switch (m.vocabularySource, m.arch) {
        case (.qemuLog, .x86_64):
            var adapter = QEMUX86Adapter(vcpus: m.topology.vcpus ?? 1)
            try reader.forEachBatch { adapter.learnThreads($0, catalog: reader.catalog) }
            try reader.forEachBatch { b in
                for i in 0..<b.count where time.map({ b.times[i] < $0 }) ?? true { adapter.handle(b, i, catalog: reader.catalog) }
            }
            return (adapter.finish(), adapter.machine)
        case (.qemuLog, .arm64):
            var adapter = try QEMUGICAdapter.forTrace(reader)
            try reader.forEachBatch { b in
                for i in 0..<b.count where time.map({ b.times[i] < $0 }) ?? true { adapter.handle(b, i, catalog: reader.catalog) }
            }
            return (adapter.finish(), X86Machine(vcpus: 0, behaviour: .qemu))
        case (.ftraceText, .x86_64), (.traceCmdReport, .x86_64), (.perfScript, .x86_64), (.traceDat, .x86_64):
            var adapter = try kvmX86Adapter(reader, midFlight: midFlight)
            try reader.forEachBatch { b in
                for i in 0..<b.count where time.map({ b.times[i] < $0 }) ?? true { adapter.handle(b, i, catalog: reader.catalog) }
            }
            return (adapter.finish(), adapter.machine)
        case (.ftraceText, .arm64), (.traceCmdReport, .arm64), (.perfScript, .arm64), (.traceDat, .arm64):
            var adapter = KVMArm64Adapter()
            try reader.forEachBatch { b in
                for i in 0..<b.count where time.map({ b.times[i] < $0 }) ?? true { adapter.handle(b, i, catalog: reader.catalog) }
            }
            return (adapter.finish(), X86Machine(vcpus: 0, behaviour: .kvm))
        default:
            throw IrqtraceError("replay of \(m.source.rawValue) traces for \(m.arch.rawValue) is not implemented yet",
                                path: reader.path, hint: "this release replays QEMU x86 and arm64 GICv2 logs and x86 KVM tracepoints (kvm_pvm, VMX, SVM hosts)")
        }
    }
}
