/// Reprints events as the text lines they came from, byte for byte.
public enum LinePrinter {
    /// Appends event `i` of `batch` (without a newline).
    public static func append(_ i: Int, of batch: EventBatch, template: EventTemplate, to out: inout [UInt8]) {
        var slot = 0
        for piece in template.pieces {
            switch piece {
            case .literal(let bytes): out.append(contentsOf: bytes)
            case .number(let style, let width):
                appendNumber(batch.value(i, slot: slot), style: style, width: Int(width), to: &out)
                slot += 1
            case .string:
                let k = batch.value(i, slot: slot)
                if k >= 0 && Int(k) < batch.strings.count { out.append(contentsOf: batch.strings[Int(k)]) }
                slot += 1
            case .thread: appendNumber(Int64(batch.threads[i]), style: .decimal, width: 0, to: &out)
            case .cpu(let width, let zeroPad):
                appendPadded(Int64(batch.cpus[i]), width: Int(width), pad: zeroPad ? 0x30 : 0x20, to: &out)
            case .time(let fractionDigits, let secondsWidth):
                appendTime(batch.times[i], fractionDigits: Int(fractionDigits), secondsWidth: Int(secondsWidth), to: &out)
            case .rawTime: appendNumber(batch.times[i], style: .decimal, width: 0, to: &out)
            case .bodyStart: break
            }
        }
    }

    @inline(__always)
    public static func appendNumber(_ v: Int64, style: NumberStyle, width: Int, to out: inout [UInt8]) {
        switch style {
        case .decimal:
            if v < 0 {
                out.append(0x2D)
                appendDigits(UInt64(bitPattern: 0 &- v), radix: 10, upper: false, width: width, pad: 0x30, to: &out)
            } else {
                appendDigits(UInt64(v), radix: 10, upper: false, width: width, pad: 0x30, to: &out)
            }
        case .hexLower: appendDigits(UInt64(bitPattern: v), radix: 16, upper: false, width: width, pad: 0x30, to: &out)
        case .hexUpper: appendDigits(UInt64(bitPattern: v), radix: 16, upper: true, width: width, pad: 0x30, to: &out)
        }
    }

    /// A decimal number right-aligned in `width` columns filled with `pad` (space pads before a sign).
    static func appendPadded(_ v: Int64, width: Int, pad: UInt8, to out: inout [UInt8]) {
        if pad == 0x30 || v >= 0 && pad == 0x20 {
            if v < 0 { out.append(0x2D); appendDigits(UInt64(bitPattern: 0 &- v), radix: 10, upper: false, width: width - 1, pad: pad, to: &out) }
            else { appendDigits(UInt64(v), radix: 10, upper: false, width: width, pad: pad, to: &out) }
        } else {
            var digits: [UInt8] = [0x2D]
            appendDigits(UInt64(bitPattern: 0 &- v), radix: 10, upper: false, width: 0, pad: 0x30, to: &digits)
            for _ in digits.count..<max(width, digits.count) { out.append(0x20) }
            out.append(contentsOf: digits)
        }
    }

    /// The digits of `value` in `radix` (10 or 16), `pad` before them up to `width`: written into stack
    /// memory and appended at once.
    @inlinable @inline(__always)
    public static func appendDigits(_ value: UInt64, radix: UInt64, upper: Bool, width: Int, pad: UInt8, to out: inout [UInt8]) {
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0) // 24 bytes of scratch: enough for 20 decimal digits
        let n: Int = withUnsafeMutableBytes(of: &buf) { b in
            var v = value
            var k = 24
            repeat {
                // (Shifts for hex: `radix` is a constant where this is inlined, so the test folds.)
                let d = UInt8(truncatingIfNeeded: radix == 16 ? v & 15 : v % radix)
                v = radix == 16 ? v >> 4 : v / radix
                k -= 1
                b[k] = d < 10 ? 0x30 + d : (upper ? 0x37 : 0x57) + d
            } while v != 0
            return 24 - k
        }
        if width > n { for _ in 0..<(width - n) { out.append(pad) } }
        withUnsafeBytes(of: &buf) { b in out.append(contentsOf: b[(24 - n)...]) }
    }

    /// A time in ns as printed `SECONDS.FRACTION` (`code`: fraction digits, bit 7 rounded; at most 9
    /// digits): its sign, seconds and fraction — what ``appendTime`` and `RawLineWriter.time` print.
    @inline(__always)
    static func timeParts(_ time: Int64, fractionDigits code: Int) -> (negative: Bool, seconds: UInt64, fraction: UInt64, fractionDigits: Int) {
        let fractionDigits = code & 0x7F
        var ns = time
        if code & 0x80 != 0 && fractionDigits < 9 {
            // Rounded to the printed precision: add half a unit, then truncate.
            var half: Int64 = 5
            for _ in 0..<(8 - fractionDigits) { half *= 10 }
            ns &+= ns < 0 ? -half : half
        }
        let negative = ns < 0
        let magnitude = negative ? UInt64(bitPattern: 0 &- ns) : UInt64(ns)
        var fraction = magnitude % 1_000_000_000
        for _ in fractionDigits..<9 { fraction /= 10 }
        return (negative, magnitude / 1_000_000_000, fraction, fractionDigits)
    }

    /// `SECONDS.FRACTION` from ns.
    static func appendTime(_ time: Int64, fractionDigits code: Int, secondsWidth: Int, to out: inout [UInt8]) {
        let t = timeParts(time, fractionDigits: code)
        if t.negative { out.append(0x2D) }
        appendDigits(t.seconds, radix: 10, upper: false, width: secondsWidth - (t.negative ? 1 : 0), pad: 0x20, to: &out)
        if t.fractionDigits > 0 {
            out.append(0x2E)
            appendDigits(t.fraction, radix: 10, upper: false, width: t.fractionDigits, pad: 0x30, to: &out)
        }
    }
}

extension LinePrinter {
    /// Appends only the event's arguments (the pieces after its name).
    public static func appendBody(_ i: Int, of batch: EventBatch, template: EventTemplate, to out: inout [UInt8]) {
        guard template.pieces.contains(.bodyStart) else { append(i, of: batch, template: template, to: &out); return }
        var slot = 0
        var inBody = false
        for piece in template.pieces {
            if case .bodyStart = piece { inBody = true; continue }
            if !inBody { if piece.isValueSlot { slot += 1 }; continue }
            switch piece {
            case .literal(let bytes): out.append(contentsOf: bytes)
            case .number(let style, let width): appendNumber(batch.value(i, slot: slot), style: style, width: Int(width), to: &out); slot += 1
            case .string:
                let k = batch.value(i, slot: slot)
                if k >= 0 && Int(k) < batch.strings.count { out.append(contentsOf: batch.strings[Int(k)]) }
                slot += 1
            default: break
            }
        }
    }
}
