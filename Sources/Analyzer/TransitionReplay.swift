import Replayer
import TraceFormat

/// An adapter that records model transitions as it replays.
protocol TransitionAdapter {
    mutating func handle(_ b: EventBatch, _ i: Int, catalog: TemplateCatalog)
    /// What of each chunk `handle` reads (``KVMX86Adapter/decodeScope``).
    var decodeScope: DecodeScope { get }
    var transitions: TransitionBuffer { get set }
    mutating func finish() -> ReplayReport
}

extension KVMX86Adapter: TransitionAdapter {}
extension QEMUGICAdapter: TransitionAdapter {}
extension QEMUX86Adapter: TransitionAdapter {}
extension TransitionAdapter {
    var decodeScope: DecodeScope { .everything }
}
extension KVMArm64Adapter: TransitionAdapter {}

/// Drives a trace's adapter with transitions recorded and hands each transition to a consumer: the
/// one loop behind `analyze`, `why` and `stats --latency`.
enum TransitionReplay {
    struct Result<A> {
        var adapter: A
        var report: ReplayReport
        /// Time of the last event replayed.
        var end: Int64
    }

    /// Replays the events before `until` (all when nil) through `adapter` (recordTransitions set).
    static func drive<A: TransitionAdapter>(_ adapter: A, _ reader: TraceReader, until: Int64? = nil,
                                            _ consume: (Transition) -> Void) throws -> Result<A> {
        try drive(adapter, reader, until: until, batches: { $0.forEach { consume($0) } })
    }

    /// ``drive(_:_:until:_:)`` handing the transitions over a batch at a time (in order): a consumer
    /// that loops over the batch itself has its per-transition work inlined in that loop, where a
    /// closure called per transition cost a call and its prologue each (~3 % of `analyze`).
    static func drive<A: TransitionAdapter>(_ adapter: A, _ reader: TraceReader, until: Int64? = nil,
                                            batches consume: (inout TransitionBuffer) -> Void) throws -> Result<A> {
        var adapter = adapter
        var end: Int64 = 0
        try reader.forEachBatch(scope: adapter.decodeScope) { b in
            // Consumers see only transitions, in order: handing them over once per slice of a chunk
            // keeps the per-event loop to the adapter alone, and a slice's buffer small.
            b.forEachSlice(of: sliceEvents) { slice in
                for i in slice where until.map({ b.time(i) < $0 }) ?? true {
                    adapter.handle(b, i, catalog: reader.catalog)
                    end = max(end, b.time(i))
                }
                handOver(&adapter.transitions, consume)
            }
        }
        let report = adapter.finish()
        handOver(&adapter.transitions, consume)
        return Result(adapter: adapter, report: report, end: end)
    }

    /// Events replayed between two hand-overs of the transitions: a few hundred KB of them at most,
    /// so a consumer on another thread (``DetectorThread``) holds a few such buffers, not chunks'.
    static let sliceEvents = 32768

    /// Hands the buffer's transitions (if any) to `consume`, and empties it.
    @inline(__always)
    static func handOver(_ t: inout TransitionBuffer, _ consume: (inout TransitionBuffer) -> Void) {
        guard !t.isEmpty || !t.vmEnds.isEmpty else { return }
        consume(&t)
        t.removeAll(keepingCapacity: true)
    }

    static func isKVMX86(_ m: TraceMetadata) -> Bool {
        m.arch == .x86_64 && [.ftraceText, .traceCmdReport, .perfScript, .traceDat].contains(m.vocabularySource)
    }

    /// x86 KVM tracepoint traces (and simulated kvm-vmx ones).
    static func kvmX86(_ reader: TraceReader, until: Int64? = nil, what: String, _ consume: (Transition) -> Void) throws -> Result<KVMX86Adapter> {
        try kvmX86(reader, until: until, what: what, batches: { $0.forEach { consume($0) } })
    }

    /// ``kvmX86(_:until:what:_:)`` handing the transitions over a batch at a time.
    static func kvmX86(_ reader: TraceReader, until: Int64? = nil, what: String, batches consume: (inout TransitionBuffer) -> Void) throws -> Result<KVMX86Adapter> {
        let m = reader.metadata
        guard isKVMX86(m) else {
            throw IrqtraceError("\(what) reads x86 KVM tracepoint traces in this release (this one is \(m.vocabularySource.rawValue), \(m.arch.rawValue))",
                                path: reader.path, hint: "record the kvm/* tracepoints of the host, or simulate a kvm-vmx scenario")
        }
        var adapter = try Replayer.kvmX86Adapter(reader)
        adapter.recordTransitions = true
        return try drive(adapter, reader, until: until, batches: consume)
    }

    /// `kvmX86` of a whole trace in one pass, the thread bindings learnt from the first chunk (as a
    /// plain `replay --check` does, `Replayer.kvmX86SinglePass`); nil when a later chunk binds another
    /// thread: the caller starts over, with fresh consumers, through ``kvmX86(_:until:what:_:)``.
    /// The transitions are handed over a batch at a time (``drive(_:_:until:batches:)``).
    static func kvmX86SinglePass(_ reader: TraceReader, what: String, batches consume: (inout TransitionBuffer) -> Void) throws -> Result<KVMX86Adapter>? {
        guard isKVMX86(reader.metadata) else { return try kvmX86(reader, what: what, batches: consume) }
        var end: Int64 = 0
        guard var adapter = try Replayer.kvmX86SinglePass(reader, midFlight: false, recordTransitions: true, sliceEvents: sliceEvents,
                                                          afterSlice: { a in handOver(&a.transitions, consume) },
                                                          afterChunk: { a, b in for i in 0..<b.count where b.time(i) > end { end = b.time(i) } })
        else { return nil }
        let report = adapter.finish()
        handOver(&adapter.transitions, consume)
        return Result(adapter: adapter, report: report, end: end)
    }

    /// QEMU x86 logs (and simulated qemu-x86 ones); threads learnt first, as `replay` does.
    static func qemuX86(_ reader: TraceReader, until: Int64? = nil, _ consume: (Transition) -> Void) throws -> Result<QEMUX86Adapter> {
        var adapter = QEMUX86Adapter(vcpus: reader.metadata.topology.vcpus ?? 1)
        try reader.forEachBatch { adapter.learnThreads($0, catalog: reader.catalog) }
        adapter.recordTransitions = true
        return try drive(adapter, reader, until: until, consume)
    }

    /// arm64 KVM tracepoint traces (and simulated kvm-arm64 ones).
    static func kvmArm64(_ reader: TraceReader, _ consume: (Transition) -> Void) throws -> Result<KVMArm64Adapter> {
        var adapter = KVMArm64Adapter()
        adapter.recordTransitions = true
        return try drive(adapter, reader, consume)
    }

    /// QEMU GICv2 logs (and simulated qemu-gic ones).
    static func qemuGIC(_ reader: TraceReader, until: Int64? = nil, _ consume: (Transition) -> Void) throws -> Result<QEMUGICAdapter> {
        var adapter = try QEMUGICAdapter.forTrace(reader)
        adapter.recordTransitions = true
        return try drive(adapter, reader, until: until, consume)
    }
}
