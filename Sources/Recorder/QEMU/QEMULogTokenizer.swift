import TraceFormat

/// Tokenizes QEMU `-trace` log lines (the "log" trace backend, QEMU's `trace/log` generated code):
/// `TID@SECONDS.MICROS:name args` with `-msg timestamp=on`, or `name args` without. The name is
/// followed by one space even when the event has no arguments.
///
/// QEMU's `-d int` log (written to the same file when `-D` names the trace file) interleaves its own
/// untimed lines: `Servicing hardware INT=0xNN` from x86 TCG's `x86_cpu_exec_interrupt` (QEMU 7.2
/// target/i386/tcg/sysemu/seg_helper.c: printed right after `cpu_get_pic_interrupt` moved the vector
/// from IRR to ISR, or took it from the 8259) is kept as an event — the only trace of an x86
/// acknowledge — timed like the line before it (the log gives it no time of its own). The rest of
/// that log (`%6d: v=NN e=…` exception lines, the CPU register dump after each, `SMM: enter`,
/// `check_exception old: …`) is kept, whole, as `qemu_cpu_log` events once the log has shown a
/// timestamp (an untimed log cannot tell them from events).
public struct QEMULogTokenizer: LineTokenizer {
    /// The log has shown a `TID@SECONDS.MICROS:` line; untimed lines are then QEMU's own log.
    var timestamped = false
    var lastTime: Int64 = 0

    public init() {}

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isNameStart(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 || b == 0x5F }
    @inline(__always) static func isNameByte(_ b: UInt8) -> Bool { isNameStart(b) || isDigit(b) }

    /// Parses `digits` at `p`; nil when there are none or more than `maxDigits`.
    @inline(__always)
    static func number(_ line: UnsafeRawBufferPointer, _ p: inout Int, maxDigits: Int) -> (value: Int64, digits: Int)? {
        var v: Int64 = 0
        let start = p
        while p < line.count, isDigit(line[p]) {
            guard p - start < maxDigits else { return nil }
            v = v * 10 + Int64(line[p] - 0x30)
            p += 1
        }
        return p > start ? (v, p - start) : nil
    }

    static let fractionScale: [Int64] = [1_000_000_000, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1]

    public mutating func tokenize(_ line: UnsafeRawBufferPointer, into parsed: inout ParsedLine) -> LineOutcome {
        let n = line.count
        if n == 0 { return .ignored }
        var p = 0
        if Self.isDigit(line[0]) {
            guard let tid = Self.number(line, &p, maxDigits: 9) else { return .malformed("thread id too long") }
            guard p < n, line[p] == 0x40 else { return .malformed("expected '@' after the thread id") }
            p += 1
            guard let sec = Self.number(line, &p, maxDigits: 11) else { return .malformed("expected SECONDS after '@'") }
            // 9e9 s is the largest whole-second count whose nanoseconds fit in 64 bits (year 2255).
            guard sec.value <= 9_000_000_000 else { return .malformed("timestamp seconds beyond 9000000000") }
            guard p < n, line[p] == 0x2E else { return .malformed("expected '.' in the timestamp") }
            p += 1
            guard let frac = Self.number(line, &p, maxDigits: 9) else { return .malformed("expected MICROSECONDS after '.'") }
            guard p < n, line[p] == 0x3A else { return .malformed("expected ':' after the timestamp") }
            p += 1
            // Leading zeros or a time near the 64-bit limit do not reprint by construction: verify.
            if (tid.digits > 1 && line[0] == 0x30) || (sec.digits > 1 && sec.value < Int64(pow10(sec.digits - 1)))
                || sec.value > 9_000_000_000 { parsed.needsVerification = true }
            parsed.thread = Int32(tid.value)
            parsed.time = sec.value * 1_000_000_000 + frac.value * Self.fractionScale[frac.digits]
            parsed.clock = .realtime
            parsed.skeleton.appendThread()
            parsed.skeleton.appendLiteral(0x40)
            parsed.skeleton.appendTime(fractionDigits: UInt8(frac.digits), secondsWidth: 0)
            parsed.skeleton.appendLiteral(0x3A)
            timestamped = true
            lastTime = parsed.time
        } else if timestamped, case let ack = Self.isAcknowledge(line), ack || Self.isCPULogLine(line) {
            // QEMU's -d int lines have no time of their own: timed like the line before them.
            parsed.time = lastTime
            parsed.clock = .realtime
            if !ack {
                // Kept whole (the export reprints the log byte for byte) as an untyped event no
                // adapter reads.
                parsed.syntheticName = Self.cpuLogName
                parsed.skeleton.appendBodyStart()
                BodyTokenizer.tokenize(line, from: 0, to: n, into: &parsed.skeleton, values: &parsed.values)
                return .event
            }
        }
        guard p < n, Self.isNameStart(line[p]) else { return .malformed("expected an event name") }
        parsed.nameStart = p
        while p < n, Self.isNameByte(line[p]) { p += 1 }
        parsed.nameEnd = p
        parsed.skeleton.appendLiteral(UnsafeRawBufferPointer(rebasing: line[parsed.nameStart..<p]))
        if p < n {
            guard line[p] == 0x20 else { return .malformed("unexpected character after the event name") }
            parsed.skeleton.appendLiteral(0x20)
            p += 1
        }
        parsed.skeleton.appendBodyStart()
        BodyTokenizer.tokenize(line, from: p, to: n, into: &parsed.skeleton, values: &parsed.values)
        return .event
    }

    /// The name of a kept `-d int` CPU log line.
    public static let cpuLogName = "qemu_cpu_log"
    static let acknowledgePrefix: [UInt8] = Array("Servicing hardware INT=".utf8)
    static let checkException: [UInt8] = Array("check_exception ".utf8)

    @inline(__always) static func hasPrefix(_ line: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard line.count >= prefix.count else { return false }
        for k in 0..<prefix.count where line[k] != prefix[k] { return false }
        return true
    }

    /// `Servicing hardware INT=0xNN` (QEMU `-d int`, x86 TCG).
    static func isAcknowledge(_ line: UnsafeRawBufferPointer) -> Bool { hasPrefix(line, acknowledgePrefix) }

    /// A line of QEMU's `-d int` CPU log other than the acknowledge: `%6d: v=…` (leading blanks),
    /// register dump lines (`RAX=…`, `R8 =…`, `CS =…`, `EFER=…`), `SMM: enter`, `check_exception old: …`.
    static func isCPULogLine(_ line: UnsafeRawBufferPointer) -> Bool {
        guard let first = line.first else { return false }
        if first == 0x20 { return true }
        if hasPrefix(line, checkException) { return true }
        guard first &- 0x41 < 26 else { return false }
        var p = 1
        while p < line.count, line[p] &- 0x41 < 26 || isDigit(line[p]) { p += 1 }
        while p < line.count, line[p] == 0x20 { p += 1 }
        return p < line.count && (line[p] == 0x3D || line[p] == 0x3A)
    }

    /// How a line looks, for format detection.
    public enum Shape { case timestamped, knownEvent, untimedEvent, notQEMU }

    public static func classify(_ line: UnsafeRawBufferPointer) -> Shape {
        var parsed = ParsedLine()
        var t = QEMULogTokenizer()
        guard t.tokenize(line, into: &parsed) == .event else { return .notQEMU }
        if parsed.clock == .realtime { return .timestamped }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: line[parsed.nameStart..<parsed.nameEnd]), as: UTF8.self)
        if SchemaRegistry.shared.schemas(named: name).contains(where: { $0.family == .qemu }) { return .knownEvent }
        // QEMU trace event names are snake_case with at least one '_'; prose is not taken for a log.
        return name.contains("_") ? .untimedEvent : .notQEMU
    }
}

@inline(__always) func pow10(_ n: Int) -> Int64 {
    var v: Int64 = 1
    for _ in 0..<n { v *= 10 }
    return v
}
