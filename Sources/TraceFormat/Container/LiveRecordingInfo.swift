/// How a live recording (`irqtrace record -o OUT` from tracefs, or `--qemu`) was made: the host facts
/// replay needs and what was lost. Written in the file header before the first chunk (so a recorder
/// killed mid-way still leaves them) and again, with the final counts, in the footer.
public struct LiveRecordingInfo: Codable, Sendable, Equatable {
    /// "tracefs" or "qemu".
    public var method: String
    /// Host kernel (`uname -r` and `-v`), for tracepoint format variants.
    public var kernelVersion: String?
    /// Online host CPUs.
    public var hostCPUs: Int?
    /// KVM modules loaded (/sys/module): kvm_intel, kvm_amd, kvm_pvm, ….
    public var kvmModules: [String]?
    /// kvm_intel's `enable_apicv` / kvm_amd's `avic` (true: APICv/AVIC may hide deliveries).
    public var apicv: Bool?
    public var avic: Bool?
    /// tracefs: the trace clock, the instance's name, per-CPU buffer size and the events enabled.
    public var traceClock: String?
    public var instance: String?
    public var bufferKB: Int?
    public var events: [String]?
    /// Flight recorder: the byte budget of the kept window (`--ring`), and events dropped from it.
    public var ringBytes: Int?
    public var ringDroppedEvents: Int?
    /// Wall-clock length of the recording and how it stopped ("duration", "command", "signal", "trigger: …").
    public var durationNs: Int64?
    public var stopReason: String?
    /// Lost events: ring-buffer overruns per CPU (tracefs per_cpu/cpuN/stats `overrun` + `dropped
    /// events`), and the missed-events markers seen in the data.
    public var lostByCPU: [String: Int]?
    public var lostEvents: Int?
    public var missedMarkers: Int?
    /// The recording starts mid-flight: attached to guests already running (no `-- COMMAND` started
    /// them) or a flight-recorder window that dropped older data. Replay then adopts state from
    /// before the trace instead of reporting it.
    public var midFlight: Bool?

    public init(method: String) { self.method = method }

    enum CodingKeys: String, CodingKey {
        case method, apicv, avic, instance, events
        case kernelVersion = "kernel_version"
        case hostCPUs = "host_cpus"
        case kvmModules = "kvm_modules"
        case traceClock = "trace_clock"
        case bufferKB = "buffer_kb"
        case ringBytes = "ring_bytes"
        case ringDroppedEvents = "ring_dropped_events"
        case durationNs = "duration_ns"
        case stopReason = "stop_reason"
        case lostByCPU = "lost_by_cpu"
        case lostEvents = "lost_events"
        case missedMarkers = "missed_markers"
        case midFlight = "mid_flight"
    }
}
