import TraceFormat

/// Splits the argument text of a trace line into literal text and number slots: decimal (with an
/// optional minus sign), `0x`-prefixed hexadecimal and bare hexadecimal words (digits and letters
/// a–f of one case, at least one of each) standing as words of their own. Leading
/// zeros become a zero-pad width and hex letter case a style, so the text reprints exactly; a number
/// that could not reprint exactly (mixed-case hex, `-0`, more digits than 64 bits hold) stays literal.
public enum BodyTokenizer {
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isWordByte(_ b: UInt8) -> Bool {
        isDigit(b) || (b | 0x20) &- 0x61 < 26 || b == 0x5F
    }
    @inline(__always) static func hexValue(_ b: UInt8) -> UInt8? {
        if isDigit(b) { return b - 0x30 }
        let l = b | 0x20
        if l >= 0x61 && l <= 0x66 { return l - 0x61 + 10 }
        return nil
    }

    /// Each byte's class, one load instead of compare chains in the per-byte loop: bits 0–3 its
    /// hexadecimal value, 0x10 a hex digit, 0x20 a word byte (``isWordByte(_:)``).
    nonisolated(unsafe) static let byteClasses: UnsafePointer<UInt8> = {   // (read-only once made)
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for b in 0..<256 {
            let u = UInt8(b)
            var c: UInt8 = isWordByte(u) ? 0x20 : 0
            if let h = hexValue(u) { c |= 0x10 | h }
            t[b] = c
        }
        return UnsafePointer(t)
    }()

    /// Tokenizes `line[from..<to]`, appending to `skeleton` and `values`.
    public static func tokenize(_ line: UnsafeRawBufferPointer, from: Int, to end: Int,
                                into skeleton: inout SkeletonBuilder, values: inout [Int64]) {
        var i = from
        var prev: UInt8 = 0x20
        var literalStart = from
        let classes = byteClasses
        @inline(__always) func isWordByte(_ b: UInt8) -> Bool { classes[Int(b)] & 0x20 != 0 }
        @inline(__always) func hexValue(_ b: UInt8) -> UInt8? {
            let c = classes[Int(b)]
            return c & 0x10 != 0 ? c & 0x0F : nil
        }
        @inline(__always) func flushLiteral(_ upTo: Int, _ skeleton: inout SkeletonBuilder) {
            if upTo > literalStart { skeleton.appendLiteral(UnsafeRawBufferPointer(rebasing: line[literalStart..<upTo])) }
        }
        /// The run of hex digits from `k`: its end, value, and which kinds of digits it has.
        @inline(__always) func hexRun(_ k: Int) -> (end: Int, value: UInt64, digit: Bool, lower: Bool, upper: Bool) {
            var j = k
            var v: UInt64 = 0
            var digit = false, lower = false, upper = false
            while j < end, let d = hexValue(line[j]) {
                v = v &<< 4 | UInt64(d)
                let b = line[j]
                if isDigit(b) { digit = true } else if b >= 0x61 { lower = true } else { upper = true }
                j += 1
            }
            return (j, v, digit, lower, upper)
        }
        /// A hex slot for the digits from `k` (the text before it flushed as literal); moves on past it.
        @inline(__always) func emitHex(from k: Int, _ h: (end: Int, value: UInt64, digit: Bool, lower: Bool, upper: Bool)) {
            flushLiteral(k, &skeleton)
            let digits = h.end - k
            skeleton.appendNumber(h.upper ? .hexUpper : .hexLower, width: digits > 1 && line[k] == 0x30 ? UInt8(digits) : 0)
            values.append(Int64(bitPattern: h.value))
            prev = line[h.end - 1]
            i = h.end
            literalStart = h.end
        }
        while i < end {
            let c = line[i]
            if !isWordByte(prev) && prev != 0x2E {
                if c == 0x30, i + 2 < end, line[i + 1] == 0x78, hexValue(line[i + 2]) != nil {
                    // 0x… hexadecimal
                    let h = hexRun(i + 2)
                    if h.end - (i + 2) <= 16, !(h.lower && h.upper), h.end == end || !isWordByte(line[h.end]) {
                        emitHex(from: i + 2, h)
                        continue
                    }
                } else if isDigit(c) || (c == 0x2D && i + 1 < end && isDigit(line[i + 1])) {
                    let negative = c == 0x2D
                    let start = negative ? i + 1 : i
                    var j = start
                    var v: Int64 = 0
                    while j < end, isDigit(line[j]), j - start < 18 {
                        v = v * 10 + Int64(line[j] - 0x30)
                        j += 1
                    }
                    let digits = j - start
                    if j == end || (!isWordByte(line[j])), !(negative && v == 0) {
                        flushLiteral(i, &skeleton)
                        let width = digits > 1 && line[start] == 0x30 ? UInt8(digits) : 0
                        skeleton.appendNumber(.decimal, width: width)
                        values.append(negative ? -v : v)
                        prev = line[j - 1]
                        i = j
                        literalStart = j
                        continue
                    }
                }
                if hexValue(c) != nil {
                    // A bare hexadecimal word (`%x` without 0x: "7ffd3a2b", "ffffffff81063b4c", "0f"):
                    // digits and letters of one case, so words such as "add" or "dead" stay text.
                    let h = hexRun(i)
                    if h.end - i <= 16, h.digit, h.lower != h.upper, h.end == end || !isWordByte(line[h.end]) {
                        emitHex(from: i, h)
                        continue
                    }
                }
            }
            prev = c
            i += 1
        }
        flushLiteral(end, &skeleton)
    }

    /// How ``tokenize(_:from:to:into:values:)`` reads `v` printed as lower-case hexadecimal without
    /// `0x` (`%x`, `%llx`; `%02x` is `minDigits` 2) standing as a word of its own (the byte before it
    /// neither a word byte nor '.', the byte after not a word byte) — decided without printing it:
    public enum HexWord: Equatable {
        /// Only decimal digits ("1000", "85", "05"): the decimal rule takes it, a decimal slot of the
        /// text read as decimal; `width` = the digit count when it starts with a zero (else 0).
        case decimal(Int64, width: UInt8)
        /// Digits and letters ("100b", "0f"): a bare hex word, a lower-case hex slot of `v`.
        case hex(width: UInt8)
        /// Letters only ("bf", "ff"): no slot, the text stays literal.
        case literal
    }

    @inline(__always)
    public static func lowerHexWord(_ v: UInt64, minDigits: Int) -> HexWord {
        precondition(minDigits >= 1 && minDigits <= 16)
        // The n printed digits, all nibbles at once: a nibble is a letter (a-f, >= 10) when its
        // top bit and one of the two below it are set.
        let n = max(minDigits, v == 0 ? 1 : (67 - v.leadingZeroBitCount) / 4)
        let printed: UInt64 = n == 16 ? .max : (1 << UInt64(4 * n)) - 1
        let ones: UInt64 = 0x1111_1111_1111_1111 & printed
        let letters = (v >> 3) & ((v >> 2) | (v >> 1)) & ones
        let width: UInt8 = n > 1 && v >> UInt64(4 * (n - 1)) == 0 ? UInt8(n) : 0
        if letters == 0 {
            // Every nibble a decimal digit (the nibbles above n are 0): packed BCD to binary,
            // pairs of digits, then of pairs, … (at most 16 digits: within the 18 read).
            var x = v
            x = (x & 0x0F0F_0F0F_0F0F_0F0F) &+ ((x >> 4) & 0x0F0F_0F0F_0F0F_0F0F) &* 10
            x = (x & 0x00FF_00FF_00FF_00FF) &+ ((x >> 8) & 0x00FF_00FF_00FF_00FF) &* 100
            x = (x & 0x0000_FFFF_0000_FFFF) &+ ((x >> 16) & 0x0000_FFFF_0000_FFFF) &* 10_000
            x = (x & 0xFFFF_FFFF) &+ (x >> 32) &* 100_000_000
            return .decimal(Int64(x), width: width)
        }
        return letters != ones ? .hex(width: width) : .literal
    }
}
