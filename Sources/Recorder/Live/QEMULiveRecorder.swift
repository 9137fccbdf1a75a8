#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceFormat

/// Options of `irqtrace record --qemu -o OUT -- qemu-system-… ARGS`.
public struct QEMULiveOptions: Sendable {
    public var output: String
    /// The QEMU command line (qemu-system-x86_64, qemu-system-aarch64, …).
    public var command: [String]
    public var duration: Double?
    public var level: Int32 = 3
    public var flushInterval = 1.0
    public var ringBytes: Int?
    public var progress = false
    public var commandLine: [String] = []

    public init(output: String, command: [String]) {
        self.output = output
        self.command = command
    }
}

/// Live recording of a running QEMU: its command line gains `-trace events=…` for the machine's
/// interrupt controllers (x86: apic, ioapic, vtd_ir, amdvi_ir, pic, msix; arm: gic, msix), `-trace
/// file=FIFO` and `-msg timestamp=on` (x86 also `-d int -D FIFO`: the acknowledges); the recorder reads the FIFO as QEMU writes it and imports the
/// lines exactly as the file importer does (``QEMULogTokenizer``), a chunk at least every flush
/// interval. Stops when QEMU exits, or on --duration / a signal (QEMU then gets SIGTERM).
public final class QEMULiveRecorder {
    public let options: QEMULiveOptions
    public init(options: QEMULiveOptions) { self.options = options }

    /// Trace-event patterns per QEMU target (the ones make-qemu-traces.sh records).
    static func eventPatterns(for binary: String) throws -> (Architecture, [String]) {
        let name = binary.split(separator: "/").last.map(String.init) ?? binary
        if name.contains("x86_64") || name.contains("i386") {
            return (.x86_64, ["apic_*", "ioapic_*", "vtd_ir_*", "vtd_irq_generate", "amdvi_ir_*", "amdvi_control_status", "pic_*", "msix_*",
                              "cpu_set_apic_base", "cpu_get_apic_base"])
        }
        if name.contains("aarch64") || name.hasSuffix("-arm") {
            return (.arm64, ["gic_*", "msix_*"])
        }
        throw IrqtraceError("--qemu needs a qemu-system-x86_64/i386/aarch64/arm command after --, not '\(name)'",
                            hint: "irqtrace record --qemu -o OUT.irqt -- qemu-system-x86_64 -M q35 …")
    }

    public func run(status: ((String) -> Void)? = nil) throws -> LiveRecordResult {
        guard let binary = options.command.first else {
            throw IrqtraceError("--qemu needs the QEMU command after --", hint: "irqtrace record --qemu -o OUT.irqt -- qemu-system-x86_64 …")
        }
        let started = monotonicNs()
        StopSignals.received = 0
        StopSignals.install()
        defer { StopSignals.restore() }
        let (arch, patterns) = try Self.eventPatterns(for: binary)

        // A private folder with the events list and the FIFO QEMU writes its log into.
        var template = Array("/tmp/irqtrace-qemu-XXXXXX".utf8CString)
        guard let dirPtr = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw IrqtraceError("cannot create a temporary folder: \(String(cString: strerror(errno)))")
        }
        let dir = String(cString: dirPtr)
        let eventsFile = dir + "/events", fifo = dir + "/trace.fifo"
        defer { unlink(eventsFile); unlink(fifo); rmdir(dir) }
        try writeText(eventsFile, patterns.joined(separator: "\n") + "\n", create: true)
        guard mkfifo(fifo, 0o600) == 0 else { throw IrqtraceError("mkfifo \(fifo): \(String(cString: strerror(errno)))") }
        let readFD = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        // Our own writer end keeps the FIFO from reporting end-of-file before QEMU opens it; the end
        // is QEMU's exit.
        let keepFD = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard readFD >= 0, keepFD >= 0 else { throw IrqtraceError("cannot open \(fifo): \(String(cString: strerror(errno)))") }
        defer { close(readFD); if keepFD >= 0 { close(keepFD) } }

        var args = options.command + ["-trace", "events=\(eventsFile)", "-trace", "file=\(fifo)"]
        let hasMsg = options.command.indices.contains { i in options.command[i] == "-msg" && i + 1 < options.command.count && options.command[i + 1].contains("timestamp=on") }
        if !hasMsg { args += ["-msg", "timestamp=on"] }
        // x86: QEMU's -d int log into the same FIFO, for its acknowledges ("Servicing hardware
        // INT=0xNN", TCG): the replay then knows which vectors are pending (QEMUDeliveredCounter).
        // Not when the command sets its own -d or -D.
        if arch == .x86_64, !options.command.contains("-d"), !options.command.contains("-D") { args += ["-d", "int", "-D", fifo] }

        var live = LiveRecordingInfo(method: "qemu")
        let facts = HostFacts.current()
        facts.describe(into: &live)
        live.events = patterns
        live.ringBytes = options.ringBytes
        var metadata = TraceMetadata(source: .qemuLog, arch: arch, clock: .realtime, commandLine: options.commandLine,
                                     host: facts.hostname, kernel: facts.kernelRelease, qemuVersion: Self.qemuVersion(binary))
        metadata.live = live
        metadata.inputs = []
        let sink = try LiveSink(path: options.output, metadata: metadata, level: options.level, ringBytes: options.ringBytes)
        var importer = TextImporter(tokenizer: QEMULogTokenizer(), strict: false)
        var diagnostics = ImportDiagnostics()
        var info = InputInfo(path: "qemu (live): \(binary)", format: InputFormat.qemuLog.rawValue)

        let child = try ChildCommand(args, extraEnvironment: [:])
        defer { child.stop() }

        var carry: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var lineNumber = 0
        var bytesRead = 0
        var lastFlush = monotonicNs()
        var stopReason = ""

        /// Imports every complete line in `carry` (all of it at the end).
        func importLines(final: Bool) throws {
            try carry.withUnsafeBytes { all in
                var start = 0
                while start < all.count {
                    guard let nl = all[start...].firstIndex(of: 0x0A) else { break }
                    lineNumber += 1
                    try importer.importLine(UnsafeRawBufferPointer(rebasing: all[start..<nl]), path: info.path, lineNumber: lineNumber,
                                            writer: sink.writer, diagnostics: &diagnostics) { _, _ in }
                    start = nl + 1
                }
                if final && start < all.count {
                    lineNumber += 1
                    info.finalNewline = false
                    try importer.importLine(UnsafeRawBufferPointer(rebasing: all[start...]), path: info.path, lineNumber: lineNumber,
                                            writer: sink.writer, diagnostics: &diagnostics) { _, _ in }
                    start = all.count
                }
                carry.removeFirst(start)
            }
        }
        func drain() throws -> Bool {
            var any = false
            while true {
                let n = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if n < 0 { if errno == EINTR { continue }; break }
                if n == 0 { break }
                any = true
                bytesRead += n
                carry.append(contentsOf: buffer[0..<n])
                try importLines(final: false)
            }
            return any
        }

        while true {
            var pfd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 100)
            _ = try drain()
            let now = monotonicNs()
            if child.exited { stopReason = "command exited"; break }
            if let d = options.duration, Double(now - started) / 1e9 >= d { stopReason = "duration"; break }
            if StopSignals.received != 0 { stopReason = "signal \(StopSignals.received)"; break }
            if Double(now - lastFlush) / 1e9 >= options.flushInterval {
                try sink.sync()
                lastFlush = now
                if options.progress, let status { status("recording: \(sink.events) events, \(sink.bytesWritten) bytes written") }
            }
        }
        child.stop()
        _ = try drain()
        try importLines(final: true)
        info.lines = lineNumber
        info.events = sink.events
        info.malformedLines = diagnostics.malformedLines
        sink.metadata.inputs = [info]
        sink.metadata.clock = importer.clock
        let ended = monotonicNs()
        live.durationNs = ended - started
        live.stopReason = stopReason
        live.lostEvents = 0
        let finalMeta = try sink.finish(live: live)
        let cpu = HostFacts.processCPUSeconds()
        return LiveRecordResult(metadata: finalMeta, events: sink.events, bytesWritten: sink.bytesWritten, bytesRead: bytesRead,
                                lostEvents: 0, durationNs: ended - started, cpuSeconds: cpu, stopReason: stopReason,
                                commandExit: child.exitCode, staleInstancesRemoved: [], diagnostics: diagnostics)
    }

    /// "QEMU emulator version 7.2.x (Debian …)" → "7.2.x (Debian …)".
    static func qemuVersion(_ binary: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary.contains("/") ? binary : "/usr/bin/env")
        p.arguments = binary.contains("/") ? ["--version"] : [binary, "--version"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let first = String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init)
        return first.map { $0.hasPrefix("QEMU emulator version ") ? String($0.dropFirst("QEMU emulator version ".count)) : $0 }
    }
}
