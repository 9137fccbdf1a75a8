#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceFormat

/// Options of a live tracefs recording (`irqtrace record -o OUT [--duration S] [--events SET] [-- CMD]`).
public struct LiveRecordOptions: Sendable {
    public var output: String
    /// Stop after this many seconds (nil: at the command's exit or a signal).
    public var duration: Double?
    /// `--events` (``LiveEventSet``).
    public var events = LiveEventSet.defaultSpec
    /// Per-CPU ring buffer size of the instance.
    public var bufferKB = 4096
    /// Trace clock of the instance (`local`, `global`, `mono`, `x86-tsc`, `counter`).
    public var clock = "local"
    /// `-- COMMAND ARGS…`: run it and stop when it exits.
    public var command: [String] = []
    public var level: Int32 = 3
    /// Seconds between chunks written to disk (a killed recorder loses at most about this much).
    public var flushInterval = 1.0
    /// Seconds between reads of the ring buffers.
    public var pollInterval = 0.1
    /// Mount tracefs when it is not mounted.
    public var mount = true
    /// Progress line on standard error.
    public var progress = false
    /// Flight recorder: keep only about this many bytes of compressed data (``FlightRecorder``).
    public var ringBytes: Int?
    /// Stop when one of these fires (``StopTrigger``).
    public var stopOn: [StopTrigger] = []
    public var commandLine: [String] = []

    public init(output: String) { self.output = output }
}

/// What a live recording did.
public struct LiveRecordResult: Sendable {
    public var metadata: TraceMetadata
    public var events: Int
    public var bytesWritten: Int
    public var bytesRead: Int
    public var lostEvents: Int
    public var durationNs: Int64
    /// User + system CPU seconds the recorder itself used.
    public var cpuSeconds: Double
    public var stopReason: String
    /// The command's exit code, when there was one.
    public var commandExit: Int32?
    public var staleInstancesRemoved: [String]
    public var diagnostics: ImportDiagnostics
}

/// Live recording from tracefs: a private instance, the kernel's binary pages read from every CPU's
/// `trace_pipe_raw`, decoded by the trace.dat decoder with this kernel's format files, written as
/// `.irqt` chunks at least every ``LiveRecordOptions/flushInterval``.
///
/// Order: each CPU's pages are in time order; across CPUs, records are released only up to the
/// latest time seen one poll earlier (perf's round-based ordering: anything older has been committed
/// and read by then), and never past a page that straddles it, so the file is in time order.
public final class LiveRecorder {
    public let options: LiveRecordOptions
    public init(options: LiveRecordOptions) { self.options = options }

    public func run(status: ((String) -> Void)? = nil) throws -> LiveRecordResult {
        let started = monotonicNs()
        // Before anything that can leave state behind: a signal from here on stops cleanly.
        StopSignals.received = 0
        StopSignals.install()
        defer { StopSignals.restore() }
        let tracefs = try Tracefs.locate(mount: options.mount)
        let stale = TracefsInstance.removeStale(in: tracefs)
        let available = tracefs.availableEvents()
        let set = try LiveEventSet(spec: options.events, available: available)
        let clockDomain = try Self.clockDomain(options.clock)
        let facts = HostFacts.current()

        let instance = try TracefsInstance(tracefs: tracefs)
        defer { instance.remove() }

        // Configure the instance; nothing global is touched.
        try instance.write("tracing_on", "0")
        let clocks = instance.read("trace_clock") ?? ""
        let clockNames = clocks.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "[" || $0 == "]" }).map(String.init)
        guard clockNames.contains(options.clock) else {
            throw IrqtraceError("this kernel has no trace clock '\(options.clock)'", hint: "clocks: \(clocks.trimmedTD())")
        }
        try instance.write("trace_clock", options.clock)
        try instance.write("buffer_size_kb", String(options.bufferKB))
        for e in set.events { try instance.write("events/\(e.system)/\(e.name)/enable", "1") }

        // What the decoder needs: page layout and the format files of everything that can appear.
        let headerPage = readBytes(tracefs.path("events/header_page")) ?? []
        let headerEvent = readBytes(tracefs.path("events/header_event")) ?? []
        let longSize = Self.commitSize(headerPage) ?? 8
        let subbufKB = instance.read("buffer_subbuf_size_kb").flatMap { Int($0.trimmedTD()) }
        let pageSize = subbufKB.map { $0 * 1024 } ?? Int(sysconf(Int32(_SC_PAGESIZE)))
        var formats: [(system: String, text: [UInt8])] = []
        if let f = readBytes(tracefs.path("events/ftrace/print/format")) { formats.append(("ftrace", f)) }
        for e in set.events {
            guard let f = readBytes(tracefs.path("events/\(e.system)/\(e.name)/format")) else { continue }
            formats.append((e.system, f))
        }
        let readers = try RingBufferReaders(instance: instance, pageSize: pageSize, longSize: longSize)
        defer { readers.close() }
        let image = LiveTraceDatImage(pageSize: pageSize, cpuCount: readers.cpuCount, headerPage: headerPage,
                                      headerEvent: headerEvent, formats: formats, kallsyms: Self.markerSymbols(),
                                      traceClock: options.clock)

        var live = LiveRecordingInfo(method: "tracefs")
        facts.describe(into: &live)
        live.kvmModules = facts.kvmModules
        live.apicv = facts.apicv
        live.avic = facts.avic
        live.traceClock = options.clock
        live.instance = instance.name
        live.bufferKB = options.bufferKB
        live.events = set.events.map(\.description)
        live.ringBytes = options.ringBytes
        live.midFlight = options.command.isEmpty
        var metadata = TraceMetadata(source: .tracefsLive, arch: facts.architecture, clock: clockDomain,
                                     kvmFlavour: facts.kvmFlavour, commandLine: options.commandLine,
                                     host: facts.hostname, kernel: facts.kernelRelease)
        metadata.live = live

        let sink = try LiveSink(path: options.output, metadata: metadata, level: options.level, ringBytes: options.ringBytes)
        var diagnostics = ImportDiagnostics()
        var triggers = StopTriggerWatch(options.stopOn)

        // Go.
        try instance.write("tracing_on", "1")
        let child = options.command.isEmpty ? nil : try ChildCommand(options.command, extraEnvironment: [
            "IRQTRACE_INSTANCE": instance.path, "IRQTRACE_TRACE_MARKER": instance.file("trace_marker")])
        defer { child?.stop() }

        let collector = PageCollector(readers: readers, pollInterval: min(0.02, options.pollInterval))
        collector.start()
        var collectorStopped = false
        defer { if !collectorStopped { collector.stop() } }
        var releaseBound: UInt64 = 0     // latest time read one loop earlier
        var missedMarkers = 0
        var missedKnown = 0
        var lastFlush = monotonicNs()
        var stopReason = ""
        let cmdlinesPath = tracefs.path("saved_cmdlines")

        func release(upTo bound: UInt64?) throws {
            let taken = collector.take(upTo: bound)
            guard taken.contains(where: { !$0.isEmpty }) else { return }
            for list in taken {
                for p in list where p.missed != 0 {
                    missedMarkers += 1
                    if p.missed > 0 { missedKnown += p.missed }
                }
            }
            let bytes = image.image(pages: taken.map { $0[...] }, cmdlines: readBytes(cmdlinesPath) ?? [])
            if triggers.isEmpty {
                try sink.importImage(bytes, clock: clockDomain, diagnostics: &diagnostics)
            } else {
                try sink.importImage(bytes, clock: clockDomain, diagnostics: &diagnostics) { name, args, time in
                    triggers.observe(name: name, args: args, time: time)
                }
            }
        }

        var seenMax: UInt64 = 0
        var seenMaxAt = monotonicNs()    // when seenMax last moved (for the trace-time estimate)
        while true {
            try collector.check()
            let now = monotonicNs()
            let latest = collector.latest
            if latest > seenMax { seenMax = latest; seenMaxAt = now }
            if let d = options.duration, Double(now - started) / 1e9 >= d { stopReason = "duration"; break }
            if StopSignals.received != 0 { stopReason = "signal \(StopSignals.received)"; break }
            if let c = child, c.exited { stopReason = "command exited"; break }
            if !triggers.isEmpty, let t = triggers.fired(now: Int64(clamping: seenMax) + (now - seenMaxAt)) {
                stopReason = "trigger: \(t)"; break
            }
            if Double(now - lastFlush) / 1e9 >= options.flushInterval || collector.pendingPageCount * pageSize > 32 << 20 {
                try release(upTo: releaseBound)
                try sink.sync()
                lastFlush = now
                if options.progress, let status {
                    status("recording: \(sink.events) events, \(sink.bytesWritten) bytes written, \(missedKnown) events dropped by the kernel")
                }
            }
            releaseBound = seenMax
            usleep(useconds_t(options.pollInterval * 1e6))
        }

        // Stop: no new events, read what is left, write everything.
        try? instance.write("tracing_on", "0")
        collector.stop()
        collectorStopped = true
        collector.drainOnce()
        try collector.check()
        try release(upTo: nil)
        let bytesRead = collector.bytesRead
        readers.close()
        child?.stop()

        // Lost events: overruns the kernel counted (per CPU) plus markers in the data.
        var lostByCPU: [String: Int] = [:]
        var lost = 0
        for cpu in 0..<readers.cpuCount {
            guard let stats = instance.read("per_cpu/cpu\(cpu)/stats") else { continue }
            var n = 0
            for line in stats.split(separator: "\n") {
                let kv = line.split(separator: ":", maxSplits: 1)
                guard kv.count == 2, let v = Int(kv[1].trimmedTD()) else { continue }
                if kv[0] == "overrun" || kv[0] == "dropped events" { n += v }
            }
            if n > 0 { lostByCPU[String(cpu)] = n }
            lost += n
        }
        let ended = monotonicNs()
        live.durationNs = ended - started
        live.stopReason = stopReason
        live.lostByCPU = lostByCPU
        // The kernel's overrun counters and the missed-events counts on the pages describe the same
        // losses from two sides; report the larger.
        lost = max(lost, missedKnown)
        live.lostEvents = lost
        live.missedMarkers = missedMarkers
        live.midFlight = options.command.isEmpty || sink.droppedEvents > 0
        let finalMeta = try sink.finish(live: live)
        let cpu = HostFacts.processCPUSeconds()
        return LiveRecordResult(metadata: finalMeta, events: sink.events, bytesWritten: sink.bytesWritten, bytesRead: bytesRead,
                                lostEvents: lost, durationNs: ended - started, cpuSeconds: cpu, stopReason: stopReason,
                                commandExit: child?.exitCode, staleInstancesRemoved: stale, diagnostics: diagnostics)
    }

    static func clockDomain(_ name: String) throws -> ClockDomain {
        switch name {
        case "local": .ftraceLocal
        case "global": .ftraceGlobal
        case "mono": .monotonic
        case "x86-tsc": .x86TSC
        case "counter": .counter
        default:
            throw IrqtraceError("trace clock '\(name)' is not supported by irqtrace record", hint: "use local, global, mono, x86-tsc or counter")
        }
    }

    /// `field: local_t commit; offset:8; size:8;` → 8.
    static func commitSize(_ headerPage: [UInt8]) -> Int? {
        let text = String(decoding: headerPage, as: UTF8.self)
        for line in text.split(separator: "\n") where line.contains(" commit;") {
            for part in line.split(separator: ";") {
                let kv = part.trimmedTD().split(separator: ":")
                if kv.count == 2, kv[0] == "size", let n = Int(kv[1]), n == 4 || n == 8 { return n }
            }
        }
        return nil
    }

    /// The kallsyms lines `trace-cmd report` needs to print a trace_marker write's `ip` as
    /// `tracing_mark_write`; empty when /proc/kallsyms hides addresses.
    static func markerSymbols(_ path: String = "/proc/kallsyms") -> [UInt8] {
        guard let all = readBytes(path) else { return [] }
        let needle = Array(" tracing_mark_write\n".utf8)
        return all.withUnsafeBytes { raw -> [UInt8] in
            guard let base = raw.baseAddress else { return [] }
            // Each line ends "NAME\n": look for "tracing_mark_write\n" at every newline.
            var at = 0, found = -1
            while at < raw.count, let nl = memchr(base + at, 0x0A, raw.count - at) {
                let e = base.distance(to: UnsafeRawPointer(nl)) + 1
                if e >= needle.count, memcmp(base + e - needle.count, needle, needle.count) == 0 { found = e - needle.count; break }
                at = e
            }
            guard found >= 0 else { return [] }
            var start = found
            while start > 0, raw[start - 1] != 0x0A { start -= 1 }
            // and the next line: the symbol after it bounds the look-up (kallsyms lists the core
            // kernel in address order).
            var end = found + needle.count
            while end < raw.count, raw[end] != 0x0A { end += 1 }
            let line = Array(raw[start..<min(end + 1, raw.count)])
            // Addresses hidden (kptr_restrict): no symbol; the report then prints the raw ip.
            return line.starts(with: Array("0000000000000000".utf8)) ? [] : line
        }
    }
}

@inline(__always) func monotonicNs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
