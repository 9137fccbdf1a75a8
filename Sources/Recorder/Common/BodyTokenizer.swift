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

    /// Tokenizes `line[from..<to]`, appending to `skeleton` and `values`.
    public static func tokenize(_ line: UnsafeRawBufferPointer, from: Int, to end: Int,
                                into skeleton: inout SkeletonBuilder, values: inout [Int64]) {
        var i = from
        var prev: UInt8 = 0x20
        var literalStart = from
        @inline(__always) func flushLiteral(_ upTo: Int, _ skeleton: inout SkeletonBuilder) {
            if upTo > literalStart { skeleton.appendLiteral(UnsafeRawBufferPointer(rebasing: line[literalStart..<upTo])) }
        }
        while i < end {
            let c = line[i]
            if !isWordByte(prev) && prev != 0x2E {
                if c == 0x30, i + 2 < end, line[i + 1] == 0x78, hexValue(line[i + 2]) != nil {
                    // 0x… hexadecimal
                    var j = i + 2
                    var v: UInt64 = 0
                    var lower = false, upper = false
                    while j < end, let d = hexValue(line[j]) {
                        v = v &<< 4 | UInt64(d)
                        let b = line[j]
                        if b >= 0x61 { lower = true } else if b >= 0x41 && b <= 0x46 { upper = true }
                        j += 1
                    }
                    let digits = j - (i + 2)
                    if digits <= 16, !(lower && upper), j == end || !isWordByte(line[j]) {
                        flushLiteral(i + 2, &skeleton)
                        let width = digits > 1 && line[i + 2] == 0x30 ? UInt8(digits) : 0
                        skeleton.appendNumber(upper ? .hexUpper : .hexLower, width: width)
                        values.append(Int64(bitPattern: v))
                        prev = line[j - 1]
                        i = j
                        literalStart = j
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
                    var j = i
                    var v: UInt64 = 0
                    var digit = false, lower = false, upper = false
                    while j < end, let d = hexValue(line[j]) {
                        v = v &<< 4 | UInt64(d)
                        let b = line[j]
                        if isDigit(b) { digit = true } else if b >= 0x61 { lower = true } else { upper = true }
                        j += 1
                    }
                    let digits = j - i
                    if digits <= 16, digit, lower != upper, j == end || !isWordByte(line[j]) {
                        flushLiteral(i, &skeleton)
                        let width = digits > 1 && line[i] == 0x30 ? UInt8(digits) : 0
                        skeleton.appendNumber(upper ? .hexUpper : .hexLower, width: width)
                        values.append(Int64(bitPattern: v))
                        prev = line[j - 1]
                        i = j
                        literalStart = j
                        continue
                    }
                }
            }
            prev = c
            i += 1
        }
        flushLiteral(end, &skeleton)
    }
}
