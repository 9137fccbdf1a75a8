#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Recorder
import TraceFormat

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record recordings into an .irqt trace, or (no input files) record live from tracefs.",
        discussion: """
        With input files: imports QEMU -trace logs, tracefs text, trace-cmd report, perf script and trace.dat
        (.zst-compressed too). Without: records this host's KVM interrupt path live from tracefs into OUT
        (a private instance, removed at exit), until --duration, Ctrl-C, --stop-on, or the end of
        `-- COMMAND ARGS...`. See docs/RECORDING.md.
        """)

    @Argument(help: "Input files, in order (none: record live from tracefs).")
    var inputs: [String] = []

    /// Live: `-- COMMAND ARGS…`, run while recording (split off by the entry point before parsing).
    nonisolated(unsafe) static var passthrough: [String] = []
    var command: [String] { RecordCommand.passthrough }

    @Option(name: .long, help: ArgumentHelp("Live: stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(name: .long, help: ArgumentHelp("Live: events to enable: named sets kvm-irq (default), kvm, host-irq; SYSTEM/*, SYSTEM:EVENT or EVENT; -ITEM leaves one out; comma-separated.", valueName: "set"))
    var events: String = "kvm-irq"

    @Option(name: .long, help: ArgumentHelp("Live: per-CPU ring buffer size of the tracefs instance, in KiB.", valueName: "kib"))
    var bufferKb = 4096

    @Option(name: .long, help: ArgumentHelp("Live: keep only about the last SIZE of compressed data (flight recorder): bytes, or with K, M, G.", valueName: "size"))
    var ring: String?

    @Option(name: .long, help: ArgumentHelp("Live: stop when halt:VCPU:SECONDS holds (VCPU a number or 'any'): a vCPU halted longer than that.", valueName: "trigger"))
    var stopOn: [String] = []

    @Option(name: .long, help: ArgumentHelp("Live: seconds between chunks written to disk (a killed recorder loses at most about this much).", valueName: "seconds"))
    var flushInterval = 1.0

    @Flag(name: .long, help: "Live: record a QEMU run (the command after --) from its trace events instead of tracefs.")
    var qemu = false

    @Flag(name: .long, help: "Live: never mount tracefs (fail when it is not mounted).")
    var noMount = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Output .irqt file ('-' for standard output).", valueName: "file"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Force the input format.", valueName: "format"))
    var inputFormat: InputFormatArgument?

    @Flag(name: .long, help: "Malformed lines are an error (exit 2) instead of being skipped and counted.")
    var strict = false

    @Option(name: .long, help: ArgumentHelp("The trace_clock of ftrace text (local, global, mono, x86-tsc, counter); the text does not say. Default: local.", valueName: "clock"))
    var clock: String?

    @Option(name: .long, help: "Target chunk size before compression, in bytes.")
    var chunkSize = 1 << 20

    @Option(name: .long, help: "zstd compression level (1-22). Default: 9 for files (19: 5-14% smaller, 3-4× slower to import), 3 for live recording.")
    var level: Int32?

    @Flag(name: .long, help: "Prove every line reprints exactly before storing it (default: new templates, unusual lines and every 64th line; the tokenizers are exact by construction).")
    var verifyAll = false

    @Flag(name: .long, help: "Print a JSON summary on standard output.")
    var json = false

    func validate() throws {
        if let level { guard (1...22).contains(level) else { throw ValidationError("--level must be 1...22") } }
        if !inputs.isEmpty && (!command.isEmpty || duration != nil || ring != nil || !stopOn.isEmpty) {
            throw ValidationError("-- COMMAND, --duration, --ring and --stop-on are for live recording (no input files)")
        }
        if inputs.isEmpty && output == "-" { throw ValidationError("live recording writes a file: give -o OUT.irqt") }
        if qemu && !inputs.isEmpty { throw ValidationError("--qemu records a QEMU run: give its command after --, not input files") }
        if qemu && !stopOn.isEmpty { throw ValidationError("--stop-on reads kvm tracepoints; it does not apply to --qemu") }
        guard flushInterval >= 0.01 && flushInterval <= 60 else { throw ValidationError("--flush-interval must be 0.01...60 seconds") }
        if let ring, RecordCommand.parseSize(ring) == nil { throw ValidationError("--ring \(ring): expected a size such as 64M") }
        guard chunkSize >= 1024 && chunkSize <= Layout.maxChunkBytes / 2 else { throw ValidationError("--chunk-size must be 1024...\(Layout.maxChunkBytes / 2)") }
        if json && output == "-" { throw ValidationError("--json and -o - both write to standard output") }
        if let clock, ClockDomain.allCases.first(where: { $0.name == clock }) == nil {
            throw ValidationError("--clock \(clock): expected one of \(ClockDomain.allCases.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        if inputs.isEmpty { return try runLive() }
        var options = RecordOptions(inputFormat: inputFormat?.format, strict: strict, chunkSize: chunkSize, level: level ?? 9,
                                    verifyAll: verifyAll, commandLine: ["irqtrace"] + CommandLine.arguments.dropFirst())
        options.clock = clock.flatMap { c in ClockDomain.allCases.first { $0.name == c } }
        if isatty(2) != 0 {
            let bar = ProgressBar(label: "record", unit: "MB")
            options.progress = { done, total in if total >= 64 << 20 { bar.update(done >> 20, total >> 20) } }
        }
        let out = try OutputFile(path: output)
        let result = try Recorder.record(inputs: inputs, to: out, options: options)
        try report(result.diagnostics, strict: strict)
        let perEvent = result.events > 0 ? Double(result.bytesWritten) / Double(result.events) : 0
        if json {
            let v: JSONValue = .object([
                ("output", .string(output)),
                ("events", .int(result.events)),
                ("bytes", .int(result.bytesWritten)),
                ("input_bytes", .int(result.inputBytes)),
                ("malformed_lines", .int(result.diagnostics.malformedLines)),
                ("arch", .string(result.metadata.arch.rawValue)),
                ("source", .string(result.metadata.source.rawValue)),
            ])
            Console.out(v.serialized(pretty: true) + "\n")
        } else {
            Console.note("recorded \(result.events) events from \(inputs.count) input\(inputs.count == 1 ? "" : "s") into \(output): "
                + "\(result.bytesWritten) bytes (\(format(perEvent, 3)) bytes/event)")
        }
    }
}

extension RecordCommand {
    /// `irqtrace record -o OUT` with no inputs: live from tracefs (Recorder/Live).
    func runLive() throws {
        if qemu { return try runQEMU() }
        var o = LiveRecordOptions(output: output)
        o.duration = duration
        o.events = events
        o.bufferKB = bufferKb
        o.clock = clock ?? "local"
        o.command = command
        o.level = level ?? 3
        o.mount = !noMount
        o.flushInterval = flushInterval
        o.pollInterval = min(0.1, flushInterval / 2)
        o.ringBytes = ring.flatMap(RecordCommand.parseSize)
        o.stopOn = try stopOn.map { try StopTrigger(parsing: $0) }
        o.progress = isatty(2) != 0
        o.commandLine = ["irqtrace"] + CommandLine.arguments.dropFirst()
        let result = try LiveRecorder(options: o).run { line in Console.write("\r\u{1B}[K" + line) }
        if o.progress { Console.write("\r\u{1B}[K") }
        try summarize(result)
    }

    /// `irqtrace record --qemu -o OUT -- qemu-system-… ARGS`.
    func runQEMU() throws {
        var o = QEMULiveOptions(output: output, command: command)
        o.duration = duration
        o.level = level ?? 3
        o.flushInterval = flushInterval
        o.ringBytes = ring.flatMap(RecordCommand.parseSize)
        o.progress = isatty(2) != 0
        o.commandLine = ["irqtrace"] + CommandLine.arguments.dropFirst()
        let result = try QEMULiveRecorder(options: o).run { line in Console.write("\r\u{1B}[K" + line) }
        if o.progress { Console.write("\r\u{1B}[K") }
        try summarize(result)
    }

    func summarize(_ result: LiveRecordResult) throws {
        for name in result.staleInstancesRemoved { Console.note("removed tracefs instance \(name) left by a recorder that died") }
        try report(result.diagnostics, strict: false)
        let seconds = Double(result.durationNs) / 1e9
        if json {
            let v: JSONValue = .object([
                ("output", .string(output)),
                ("events", .int(result.events)),
                ("bytes", .int(result.bytesWritten)),
                ("bytes_read", .int(result.bytesRead)),
                ("lost_events", .int(result.lostEvents)),
                ("duration_ns", .int(Int(result.durationNs))),
                ("cpu_seconds", .double(result.cpuSeconds)),
                ("stop_reason", .string(result.stopReason)),
                ("command_exit", result.commandExit.map { .int(Int($0)) } ?? .null),
            ])
            Console.out(v.serialized(pretty: true) + "\n")
        } else {
            Console.note("recorded \(result.events) events live in \(format(seconds, 1)) s (\(result.stopReason)) into \(output): "
                + "\(result.bytesWritten) bytes; lost events: \(result.lostEvents); recorder CPU \(format(result.cpuSeconds, 2)) s")
        }
        if result.lostEvents > 0 {
            Console.warning("the kernel dropped \(result.lostEvents) events (ring buffer overruns); raise --buffer-kb or record fewer --events")
        }
        if let code = result.commandExit, code != 0 { throw ExitCode(code) }
    }

    /// "4096", "64K", "64M", "1G" → bytes.
    static func parseSize(_ s: String) -> Int? {
        var digits = Substring(s)
        var unit = 1
        switch digits.last.map({ Character($0.uppercased()) }) {
        case "K": unit = 1 << 10; digits = digits.dropLast()
        case "M": unit = 1 << 20; digits = digits.dropLast()
        case "G": unit = 1 << 30; digits = digits.dropLast()
        default: break
        }
        guard let n = Int(digits), n > 0 else { return nil }
        return n * unit
    }
}

/// A non-negative number with `digits` decimals, never in scientific notation.
func format(_ v: Double, _ digits: Int) -> String {
    var p: Double = 1
    for _ in 0..<digits { p *= 10 }
    let scaled = Int64((v * p).rounded())
    let whole = scaled / Int64(p), frac = String(scaled % Int64(p))
    return digits == 0 ? String(whole) : String(whole) + "." + String(repeating: "0", count: digits - frac.count) + frac
}
