#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// Tokenizes the event lines that ftrace-based tools print, in all their common layouts:
///
/// - tracefs `trace` / `trace_pipe`: `<comm>-<pid> [(<tgid>)] [CPU] <flags> <secs>.<usecs>: <event>: <args>`
///   with or without the irq-flags column and the tgid column, `#` headers;
/// - `trace-cmd report` (3.x): the same layout, event names padded after the colon, `cpus=N` header;
/// - `perf script`: `<comm> <pid> [CPU] <secs>.<usecs>: <system>:<event>: <args>`.
///
/// Task names may contain spaces, brackets, colons and dashes, so the line is anchored on the
/// `[CPU]` field followed by a timestamp, and the pid is parsed backwards from there (as Perfetto's
/// systrace tokenizer does). Timestamps are `SECONDS.FRACTION` (µs or ns) or a raw counter
/// (`trace_clock` counter / x86-tsc).
public struct FtraceLineTokenizer: LineTokenizer {
    public var clock: ClockDomain
    /// Non-event lines before the first event (headers), kept for the text round trip.
    public private(set) var preamble: [String] = []
    private var seenEvent = false

    public init(clock: ClockDomain = .ftraceLocal) { self.clock = clock }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isNameByte(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 || b == 0x5F || isDigit(b) }

    /// Where the fields of an event line are.
    struct Anchor {
        var open = 0       // '[' of the CPU field
        var cpuValue: Int64 = 0
        var cpuDigits = 0
        var close = 0      // ']'
        var timeStart = 0
        var timeEnd = 0    // the ':' after the timestamp
        var seconds: Int64 = 0
        var fraction: Int64 = 0
        var fractionDigits = -1 // -1: raw counter
    }

    /// Finds the `[CPU]` field followed by optional flags and a timestamp and ':'.
    static func anchor(_ line: UnsafeRawBufferPointer) -> Anchor? {
        let n = line.count
        guard let base = line.baseAddress else { return nil }
        var i = 0
        while i < n {
            // (memchr to the next '[': the task name before it is ~20-30 bytes a byte loop walked.)
            guard let hit = memchr(base + i, 0x5B, n - i) else { return nil }
            i = UnsafeRawPointer(hit) - base
            var a = Anchor()
            a.open = i
            var p = i + 1
            while p < n, isDigit(line[p]), p - i <= 6 { a.cpuValue = a.cpuValue * 10 + Int64(line[p] - 0x30); p += 1 }
            a.cpuDigits = p - i - 1
            if a.cpuDigits > 0, p < n, line[p] == 0x5D, i > 0, line[i - 1] == 0x20 || line[i - 1] == 0x29 {
                a.close = p
                if timestamp(line, after: p + 1, &a) { return a }
            }
            i += 1
        }
        return nil
    }

    /// Parses `  [flags]  SECONDS.FRACTION:` (or a raw counter) after the CPU field into `a` (left
    /// as it was when there is none).
    static func timestamp(_ line: UnsafeRawBufferPointer, after start: Int, _ a: inout Anchor) -> Bool {
        let n = line.count
        var p = start
        guard p < n, line[p] == 0x20 else { return false }
        while p < n, line[p] == 0x20 { p += 1 }
        // Try the timestamp here; else skip one flags token and try again.
        for attempt in 0..<2 {
            if parseTime(line, p, &a) { return true }
            guard attempt == 0 else { break }
            var q = p
            while q < n, line[q] != 0x20 { q += 1 }
            guard q > p, q - p <= 8 else { return false }
            p = q
            while p < n, line[p] == 0x20 { p += 1 }
        }
        return false
    }

    /// The timestamp at `start` into `a` (left as it was when there is none there). (In place: an
    /// `Anchor?` returned through the callers was copied at each level.)
    static func parseTime(_ line: UnsafeRawBufferPointer, _ start: Int, _ a: inout Anchor) -> Bool {
        let n = line.count
        var p = start
        var seconds: Int64 = 0
        while p < n, isDigit(line[p]), p - start < 18 { seconds = seconds * 10 + Int64(line[p] - 0x30); p += 1 }
        guard p > start else { return false }
        var fraction: Int64 = 0, fractionDigits = -1
        if p < n, line[p] == 0x2E {
            p += 1
            let f = p
            while p < n, isDigit(line[p]), p - f < 9 { fraction = fraction * 10 + Int64(line[p] - 0x30); p += 1 }
            guard p > f, p - start - (p - f) - 1 <= 11 else { return false }
            fractionDigits = p - f
        }
        guard p + 1 < n, line[p] == 0x3A, line[p + 1] == 0x20 else { return false }
        a.timeStart = start
        a.seconds = seconds
        a.fraction = fraction
        a.fractionDigits = fractionDigits
        a.timeEnd = p
        return true
    }

    static let fractionScale: [Int64] = [1_000_000_000, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1]

    public mutating func tokenize(_ line: UnsafeRawBufferPointer, into parsed: inout ParsedLine) -> LineOutcome {
        let n = line.count
        if n == 0 { return .ignored }
        guard let a = Self.anchor(line) else {
            if line[0] != 0x23, let lost = lostEvents(line, &parsed) { return lost }
            if line[0] == 0x23 || (!seenEvent && Self.isReportHeader(line)) {   // '#' comment, or trace-cmd report's header
                if !seenEvent && preamble.count < 4096 { preamble.append(String(decoding: line, as: UTF8.self)) }
                return .ignored
            }
            return .malformed("no [CPU] field followed by a timestamp")
        }
        seenEvent = true
        // Before '[': [spaces] [(tgid)] [spaces] pid, then '-' or ' ' and the task name.
        var q = a.open - 1
        while q >= 0, line[q] == 0x20 { q -= 1 }
        if q >= 0, line[q] == 0x29 { // ')': the tgid column
            while q >= 0, line[q] != 0x28 { q -= 1 }
            q -= 1
            while q >= 0, line[q] == 0x20 { q -= 1 }
        }
        let pidEnd = q + 1
        var pid: Int64 = 0
        var scale: Int64 = 1
        while q >= 0, Self.isDigit(line[q]), pidEnd - q <= 9 { pid += Int64(line[q] - 0x30) * scale; scale *= 10; q -= 1 }
        let pidStart = q + 1
        guard pidStart < pidEnd, q >= 0, line[q] == 0x2D || line[q] == 0x20 else {
            return .malformed("no task-pid before the [CPU] field")
        }
        // Leading zeros in the pid or seconds, or a time near the 64-bit limit, do not reprint by construction.
        if (pidEnd - pidStart > 1 && line[pidStart] == 0x30) || (a.timeEnd - a.timeStart > 1 && line[a.timeStart] == 0x30 && line[a.timeStart + 1] != 0x2E)
            || (a.fractionDigits >= 0 && a.seconds > 9_000_000_000) { parsed.needsVerification = true }
        parsed.thread = Int32(pid)
        parsed.cpu = Int32(a.cpuValue)
        parsed.clock = a.fractionDigits < 0 && clock != .counter && clock != .x86TSC ? .counter : clock
        if a.fractionDigits >= 0 {
            parsed.time = a.seconds &* 1_000_000_000 &+ a.fraction &* Self.fractionScale[a.fractionDigits]
        } else {
            parsed.time = a.seconds
        }
        // Event name after "TIMESTAMP: ", possibly "system:event", then ':'.
        var p = a.timeEnd + 1
        while p < n, line[p] == 0x20 { p += 1 }
        var nameStart = p
        while p < n, Self.isNameByte(line[p]) { p += 1 }
        if p + 1 < n, line[p] == 0x3A, Self.isNameByte(line[p + 1]) {
            // perf's "system:event:" — the event name is the part after the system.
            var r = p + 1
            while r < n, Self.isNameByte(line[r]) { r += 1 }
            if r < n, line[r] == 0x3A { nameStart = p + 1; p = r }
        }
        guard p > nameStart else { return .malformed("no event name after the timestamp") }
        parsed.nameStart = nameStart
        parsed.nameEnd = p
        guard p == n || line[p] == 0x3A else { return .malformed("expected ':' after the event name") }
        if p < n { p += 1 }
        while p < n, line[p] == 0x20 { p += 1 }
        let bodyStart = p

        // Skeleton.
        parsed.skeleton.appendLiteral(UnsafeRawBufferPointer(rebasing: line[0..<pidStart]))
        parsed.skeleton.appendThread()
        BodyTokenizer.tokenize(line, from: pidEnd, to: a.open, into: &parsed.skeleton, values: &parsed.values)
        parsed.skeleton.appendLiteral(0x5B)
        let zeroPadded = a.cpuDigits > 1 && line[a.open + 1] == 0x30
        parsed.skeleton.appendCPU(width: zeroPadded ? UInt8(a.cpuDigits) : 0, zeroPad: true)
        parsed.skeleton.appendLiteral(UnsafeRawBufferPointer(rebasing: line[a.close..<a.timeStart]))
        if a.fractionDigits >= 0 {
            parsed.skeleton.appendTime(fractionDigits: UInt8(a.fractionDigits), secondsWidth: 0)
        } else {
            parsed.skeleton.appendRawTime()
        }
        parsed.skeleton.appendLiteral(UnsafeRawBufferPointer(rebasing: line[a.timeEnd..<bodyStart]))
        parsed.skeleton.appendBodyStart()
        BodyTokenizer.tokenize(line, from: bodyStart, to: n, into: &parsed.skeleton, values: &parsed.values)
        return .event
    }

    /// The header lines `trace-cmd report` prints before the events: `cpus=N`, `version = N`,
    /// `CPU N is empty`, `trace-cmd: …` notes.
    static func isReportHeader(_ line: UnsafeRawBufferPointer) -> Bool {
        let head = String(decoding: line.prefix(24), as: UTF8.self)
        return head.hasPrefix("cpus=") || head.hasPrefix("version = ") || head.hasPrefix("trace-cmd:")
            || (head.hasPrefix("CPU ") && String(decoding: line, as: UTF8.self).hasSuffix("is empty"))
    }

    /// `CPU:1 [LOST 12 EVENTS]` (trace_pipe) and `CPU:1 [12 EVENTS DROPPED]` (trace-cmd report, with an
    /// instance prefix): kept as a `lost_events` event on that CPU.
    private func lostEvents(_ line: UnsafeRawBufferPointer, _ parsed: inout ParsedLine) -> LineOutcome? {
        guard line.count < 128 else { return nil }
        let text = String(decoding: line, as: UTF8.self)
        guard let cpuRange = text.range(of: "CPU:"), text.contains("EVENTS"), text.contains("LOST") || text.contains("DROPPED") else { return nil }
        if let cpu = Int32(text[cpuRange.upperBound...].prefix { $0.isNumber }) { parsed.cpu = cpu }
        parsed.clock = clock
        parsed.nameStart = 0
        parsed.nameEnd = 0
        parsed.syntheticName = "lost_events"
        parsed.skeleton.appendBodyStart()
        BodyTokenizer.tokenize(line, from: 0, to: line.count, into: &parsed.skeleton, values: &parsed.values)
        return .event
    }
}
