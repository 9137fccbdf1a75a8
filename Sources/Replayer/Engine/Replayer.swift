import TraceFormat

/// Drives the models from a trace through the adapter for its source and architecture.
public enum Replayer {
    /// Replays every intact event of `reader` and checks the observations. With `snapshots.write`,
    /// the replay also leaves snapshots of its state at chunk boundaries in a sidecar file
    /// (``ReplaySnapshots``) for later windows; `note` hears where (and any problem writing it).
    public static func check(_ reader: TraceReader, midFlight: Bool = false, snapshots: SnapshotOptions = .none,
                             note: (String) -> Void = { _ in }) throws -> ReplayReport {
        try run(reader, until: nil, resumeBefore: nil, midFlight: midFlight, snapshots: snapshots, note: note).report
    }

    /// The check restricted to observations in [`from`, `to`): the models' state depends on every
    /// event before `from`, so the replay starts at the first event — or, with `snapshots.read` and a
    /// sidecar for this trace, at the latest snapshot whose events all precede `from` (the same
    /// state, so the same report) — and what was checked before `from` is subtracted.
    /// Divergences found at the end of the trace (expectations never met) count only without `to`.
    public static func check(_ reader: TraceReader, from: Int64?, to: Int64?, midFlight: Bool = false, snapshots: SnapshotOptions = .none,
                             note: (String) -> Void = { _ in }) throws -> ReplayReport {
        // Both runs may start from a snapshot taken before the window (never one inside it: the
        // snapshot leaves out divergences up to its time). Without `from` the window starts at the beginning.
        let start = from.map { f in to.map { min(f, $0) } ?? f }
        // (Divergences before `from` are dropped as they come: the kept ones are the window's first.)
        var window = try run(reader, until: to, resumeBefore: start, midFlight: midFlight, snapshots: snapshots, keepFrom: from, note: note).report
        if to != nil { window.divergences.removeAll { $0.eventIndex < 0 } }
        guard let from else { return window }
        let before = try run(reader, until: from, resumeBefore: start, midFlight: midFlight, snapshots: snapshots, keepFrom: from, note: { _ in }).report
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
        var adapter = try kvmX86AdapterUnbound(reader, midFlight: midFlight)
        // (Only the binding events' fields are read: the pass decodes no times and no other template's values.)
        let flavour = adapter.flavour
        try reader.forEachBatch(scope: .values(of: { KVMX86Adapter.bindsThreads($0, flavour: flavour) })) {
            adapter.learnThreads($0, catalog: reader.catalog)
        }
        adapter.planVMs()
        return adapter
    }

    /// ``kvmX86Adapter(_:midFlight:)`` before its first pass: no thread bound yet.
    static func kvmX86AdapterUnbound(_ reader: TraceReader, midFlight: Bool) throws -> KVMX86Adapter {
        let m = reader.metadata
        if m.kvmFlavour == nil { try reader.forEachBatch { _ in } }
        guard let name = m.kvmFlavour ?? KVMFlavourGuess.guess(reader.catalog) else {
            throw IrqtraceError("no x86 KVM interrupt events (kvm_apic_accept_irq, kvm_eoi, kvm_inj_virq) to replay", path: reader.path,
                                hint: "record the kvm/* tracepoints of the host")
        }
        var adapter = KVMX86Adapter(flavour: KVMX86Adapter.Flavour(rawValue: name) ?? .hardware)
        adapter.midFlight = midFlight || m.live?.midFlight == true
        // (In the report from the start: snapshots and later VMs carry it with the report.)
        let doubts = recordingWarnings(m, midFlight: adapter.midFlight)
        if !doubts.isEmpty { adapter.report.warnings = doubts }
        return adapter
    }

    /// A whole-trace replay of an x86 KVM trace in one pass: the first chunk's thread bindings are
    /// learnt before its events are handled, instead of every chunk's in a first pass. It is the
    /// replay the first pass gives exactly when no later chunk would bind a thread the first chunk
    /// did not (each vCPU thread shows a kvm_entry/kvm_exit in the first chunk, the usual case):
    /// every binding, and the order the LAPICs were made in, is then the same before any event is
    /// handled. Each later chunk is checked before its events are handled; at the first that would
    /// bind another thread the replay stops and returns nil, and the caller replays with the first pass.
    /// So does a first chunk that binds two threads to one vCPU (VMs one after another: the first pass
    /// finds where each begins, ``KVMX86Adapter/planVMs()``); one VM needs no plan.
    /// With `recordTransitions`, `afterSlice` is called after every `sliceEvents` events of a chunk and
    /// after its last (`analyze` hands the slice's transitions to its detectors there; after a nil
    /// return it starts over with fresh ones), `afterChunk` after each chunk's events.
    public static func kvmX86SinglePass(_ reader: TraceReader, midFlight: Bool, recordTransitions: Bool = false,
                                        sliceEvents: Int = .max, afterSlice: (inout KVMX86Adapter) -> Void = { _ in },
                                        afterChunk: (inout KVMX86Adapter, EventBatch) -> Void = { _, _ in }) throws -> KVMX86Adapter? {
        struct LaterBinding: Error {}
        var adapter = try kvmX86AdapterUnbound(reader, midFlight: midFlight)
        adapter.recordTransitions = recordTransitions
        var known: IntSet<Int32>?   // the threads the first chunk binds
        do {
            try reader.forEachBatch(scope: adapter.decodeScope) { b in
                if let known {
                    if adapter.learnsThread(b, outside: known, catalog: reader.catalog) { throw LaterBinding() }
                } else {
                    adapter.learnThreads(b, catalog: reader.catalog, spans: false)
                    // (Two threads on one vCPU: VMs one after another, whose starts the first pass finds.)
                    if adapter.sharesAVCPU { throw LaterBinding() }
                    known = IntSet(adapter.binding.map(\.key))
                }
                b.forEachSlice(of: sliceEvents) { slice in
                    for i in slice { adapter.handle(b, i, catalog: reader.catalog, vmStarts: false) }
                    afterSlice(&adapter)
                }
                afterChunk(&adapter, b)
            }
        } catch is LaterBinding {
            return nil
        }
        return adapter
    }

    /// The models' state after every event before `time` (all events when nil), with the report so far.
    /// With `snapshots.read`, the replay starts from the latest stored snapshot whose events all come
    /// before `time` (the report's divergences then leave out those before that snapshot).
    public static func run(_ reader: TraceReader, until time: Int64?, midFlight: Bool = false, snapshots: SnapshotOptions = .none,
                           note: (String) -> Void = { _ in }) throws -> (report: ReplayReport, machine: X86Machine) {
        try run(reader, until: time, resumeBefore: time, midFlight: midFlight, snapshots: snapshots, note: note)
    }

    /// `run(until:)`, resuming from a snapshot whose events all precede `limit` (none when nil); a
    /// full run (`time` nil) writes snapshots when asked.
    static func run(_ reader: TraceReader, until time: Int64?, resumeBefore limit: Int64?, midFlight: Bool, snapshots: SnapshotOptions,
                    keepFrom: Int64? = nil, note: (String) -> Void) throws -> (report: ReplayReport, machine: X86Machine) {
        let m = reader.metadata
        switch (m.vocabularySource, m.arch) {
        case (.qemuLog, .x86_64):
            let resumed = limit.flatMap {
                ReplaySnapshots.restore(reader, QEMUX86Adapter.self, kind: { $0 == "qemu-x86" }, before: $0, snapshots, note: note)
            }
            var adapter: QEMUX86Adapter
            if let resumed { adapter = resumed.adapter } else {
                adapter = QEMUX86Adapter(vcpus: m.topology.vcpus ?? 1)
                try reader.forEachBatch { adapter.learnThreads($0, catalog: reader.catalog) }
            }
            adapter.report.keepFrom = keepFrom ?? .min
            try drive(&adapter, reader, from: resumed?.resumeEvent ?? 0, until: time,
                      writer: time == nil ? ReplaySnapshots.Writer(reader, kind: adapter.snapshotKind, snapshots) : nil, note: note)
            return (adapter.finish(), adapter.machine)
        case (.qemuLog, .arm64):
            let resumed = limit.flatMap {
                ReplaySnapshots.restore(reader, QEMUGICAdapter.self, kind: { $0 == "qemu-gicv2" }, before: $0, snapshots, note: note)
            }
            var adapter = try resumed?.adapter ?? QEMUGICAdapter.forTrace(reader)
            adapter.report.keepFrom = keepFrom ?? .min
            try drive(&adapter, reader, from: resumed?.resumeEvent ?? 0, until: time,
                      writer: time == nil ? ReplaySnapshots.Writer(reader, kind: adapter.snapshotKind, snapshots) : nil, note: note)
            return (adapter.finish(), X86Machine(vcpus: 0, behaviour: .qemu))
        case (.ftraceText, .x86_64), (.traceCmdReport, .x86_64), (.perfScript, .x86_64), (.traceDat, .x86_64):
            let wantMidFlight = midFlight || m.live?.midFlight == true
            // (the flavour from the header when it names one; otherwise the one the events showed when the sidecar was written)
            let kind = { (k: String) in
                k.hasPrefix("kvm-") && k != "kvm-arm64" && k.hasSuffix("+mid-flight") == wantMidFlight
                    && m.kvmFlavour.map { k.hasPrefix("kvm-\($0)") } ?? true
            }
            let resumed = limit.flatMap { ReplaySnapshots.restore(reader, KVMX86Adapter.self, kind: kind, before: $0, snapshots, note: note) }
            // A plain whole-trace check (no window, no snapshots to write) learns the bindings as it goes when it can.
            if resumed == nil, time == nil, !snapshots.write, var adapter = try kvmX86SinglePass(reader, midFlight: midFlight) {
                return (adapter.finish(), adapter.machine)
            }
            var adapter = try resumed?.adapter ?? kvmX86Adapter(reader, midFlight: midFlight)
            adapter.report.keepFrom = keepFrom ?? .min
            try drive(&adapter, reader, from: resumed?.resumeEvent ?? 0, until: time,
                      writer: time == nil ? ReplaySnapshots.Writer(reader, kind: adapter.snapshotKind, snapshots) : nil, note: note)
            return (adapter.finish(), adapter.machine)
        case (.ftraceText, .arm64), (.traceCmdReport, .arm64), (.perfScript, .arm64), (.traceDat, .arm64):
            var adapter = KVMArm64Adapter()
            adapter.report.keepFrom = keepFrom ?? .min
            try reader.forEachBatch { b in
                for i in 0..<b.count where time.map({ b.time(i) < $0 }) ?? true { adapter.handle(b, i, catalog: reader.catalog) }
            }
            return (adapter.finish(), X86Machine(vcpus: 0, behaviour: .kvm))
        default:
            throw IrqtraceError("replay of \(m.source.rawValue) traces for \(m.arch.rawValue) is not implemented yet",
                                path: reader.path, hint: "this release replays QEMU x86 and arm64 GICv2 logs and x86 KVM tracepoints (kvm_pvm, VMX, SVM hosts)")
        }
    }

    /// Every event from `first` on (those before `time`) through `adapter`; with a writer, a snapshot
    /// check after each chunk (never per event) and the sidecar written at the end.
    @inline(__always)
    static func drive<A: SnapshotReplayable>(_ adapter: inout A, _ reader: TraceReader, from first: Int, until time: Int64?,
                                             writer: ReplaySnapshots.Writer?, note: (String) -> Void) throws {
        guard var w = writer else {
            try reader.forEachBatch(fromEvent: first, scope: adapter.decodeScope) { b in
                for i in 0..<b.count where time.map({ b.time(i) < $0 }) ?? true { adapter.handle(b, i, catalog: reader.catalog) }
            }
            return
        }
        var failure: Error?
        try reader.forEachBatch(fromEvent: first, scope: adapter.decodeScope) { b in
            for i in 0..<b.count where time.map({ b.time(i) < $0 }) ?? true { adapter.handle(b, i, catalog: reader.catalog) }
            if failure == nil { do { try w.after(b, adapter) } catch { failure = error } }
        }
        do {
            if let failure { throw failure }
            let size = try w.write()
            note(w.count == 0 ? "no snapshot fits within \(format(100 * w.budgetFraction)) % of this trace (--snapshot-every K to force them); \(w.path) says so"
                              : "wrote \(w.count) snapshots (\(size) bytes, \(format(100 * Double(size) / Double(max(1, reader.fileSize)))) % of the trace) to \(w.path)")
        } catch {
            note("no snapshots written: \(error)")
        }
    }

    /// The recording's own doubts, for the report's warnings: a copy of tracefs `trace`
    /// whose header says the ring buffer dropped older events (``InputInfo/overwrittenEvents``) starts
    /// mid-flight, at a different time on each CPU; replayed from reset, what the dropped events did
    /// is missing (not adopted, as `--mid-flight` would: a replay cannot tell that from the trace alone,
    /// and where VMs ran one after another the dropped part can hide a VM's start).
    static func recordingWarnings(_ m: TraceMetadata, midFlight: Bool) -> [String] {
        guard !midFlight else { return [] }
        return m.inputs.compactMap { i in
            guard let n = i.overwrittenEvents, n > 0 else { return nil }
            return "\(i.path): its header says the ring buffer dropped \(n) older events before this copy was taken (entries-in-buffer/entries-written): "
                    + "the trace starts mid-flight, at a different time on each CPU, and state from before it is missing; "
                    + "divergences and findings near the start may be artefacts (replay --mid-flight adopts that state; a larger buffer_size_kb avoids it)"
        }
    }

    static func format(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return String(r)
    }
}
