import TraceFormat

/// Tokenizes QEMU `-trace` log lines (the "log" trace backend, QEMU's `trace/log` generated code):
/// `TID@SECONDS.MICROS:name args` with `-msg timestamp=on`, or `name args` without. The name is
/// followed by one space even when the event has no arguments.
public struct QEMULogTokenizer: LineTokenizer {
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
