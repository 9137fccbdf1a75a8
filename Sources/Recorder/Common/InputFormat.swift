import TraceFormat

/// The input formats `irqtrace record` reads.
public enum InputFormat: String, CaseIterable, Sendable {
    /// irqtrace's own container.
    case irqt
    /// QEMU `-trace` log lines, with (`TID@SECONDS.MICROS:name args`) or without timestamps.
    case qemuLog = "qemu-log"
    /// tracefs `trace` / `trace_pipe` text.
    case ftraceText = "ftrace-text"
    /// `trace-cmd report` text.
    case traceCmdReport = "trace-cmd-report"
    /// `perf script` text of tracepoints.
    case perfScript = "perf-script"
    /// trace-cmd `trace.dat` (versions 6 and 7; uncompressed, zstd, zlib).
    case traceDat = "trace-dat"
    /// A pcap file written by `irqtrace export --format pcap` (LINKTYPE_USER0, docs/PCAP.md).
    case pcap

    /// The trace.dat magic: 0x17 0x08 'D' "tracing".
    static let traceDatMagic: [UInt8] = [0x17, 0x08, 0x44] + Array("tracing".utf8)

    /// The source kind recorded in the trace header.
    public var sourceKind: SourceKind {
        switch self {
        case .irqt: .mixed
        case .qemuLog: .qemuLog
        case .ftraceText: .ftraceText
        case .traceCmdReport: .traceCmdReport
        case .perfScript: .perfScript
        case .traceDat: .traceDat
        case .pcap: .mixed // replaced by the source the packets carry
        }
    }

    /// Guesses the format from the first lines of the input.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> InputFormat? {
        if TraceReader.isTrace(bytes) { return .irqt }
        if bytes.count >= 10 && zip(bytes.prefix(10), traceDatMagic).allSatisfy({ $0 == $1 }) { return .traceDat }
        if PcapFile.isPcap(bytes) { return .pcap }
        var qemu = 0, untimed = 0, ftrace = 0, other = 0
        var perfNames = 0, reportHeader = false
        var start = 0
        let limit = min(bytes.count, 256 * 1024)
        while start < limit && qemu + untimed + ftrace + other < 64 {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            defer { start = end + 1 }
            guard end > start else { continue }
            let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            if line[0] == 0x23 { continue } // '#'
            if let a = FtraceLineTokenizer.anchor(line) {
                ftrace += 1
                var parsed = ParsedLine()
                var t = FtraceLineTokenizer()
                if t.tokenize(line, into: &parsed) == .event, parsed.nameStart > 0, line[parsed.nameStart - 1] == 0x3A,
                   parsed.nameStart > a.timeEnd + 2 { perfNames += 1 }
                continue
            }
            let text = String(decoding: line.prefix(16), as: UTF8.self)
            if text.hasPrefix("cpus=") || text.hasPrefix("version = ") || text.hasPrefix("CPU ") { reportHeader = true; continue }
            switch QEMULogTokenizer.classify(line) {
            case .timestamped, .knownEvent: qemu += 1
            case .untimedEvent: untimed += 1
            case .notQEMU: other += 1
            }
        }
        if ftrace > 0 && ftrace >= qemu {
            if perfNames * 2 > ftrace { return .perfScript }
            return reportHeader ? .traceCmdReport : .ftraceText
        }
        if qemu > 0 && qemu >= other { return .qemuLog }
        if untimed > 0 && other == 0 { return .qemuLog }
        return nil
    }
}
