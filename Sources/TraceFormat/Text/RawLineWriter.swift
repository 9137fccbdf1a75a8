/// Writes a line into memory the caller holds, up to a fixed capacity: what a reprint check
/// (``SkeletonRenderer/reprints(_:skeleton:values:time:cpu:thread:scratch:)``) renders before it
/// compares. A store per byte and one room check per piece, where `Array.append(contentsOf:)` cost
/// ~90–190 instructions a call (a checked line costs ~4,000 instructions that way; importers check
/// every new template and every 64th line).
///
/// A write that does not fit sets ``overflow`` and writes nothing: the line is then longer than the
/// capacity, which the caller chose as the length of the line it compares with.
public struct RawLineWriter {
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    @usableFromInline var _count = 0
    @usableFromInline var _overflow = false
    /// Bytes written.
    public var count: Int { _count }
    /// A write did not fit.
    public var overflow: Bool { _overflow }

    @inlinable
    public init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inlinable @inline(__always)
    public mutating func byte(_ b: UInt8) {
        guard _count < capacity else { _overflow = true; return }
        base[_count] = b
        _count &+= 1
    }

    @inlinable @inline(__always)
    public mutating func bytes(_ p: UnsafePointer<UInt8>, _ n: Int) {
        guard n <= capacity &- _count else { _overflow = true; return }
        (base + _count).update(from: p, count: n)
        _count &+= n
    }

    @inlinable @inline(__always)
    public mutating func repeated(_ b: UInt8, _ n: Int) {
        guard n > 0 else { return }
        guard n <= capacity &- _count else { _overflow = true; return }
        (base + _count).update(repeating: b, count: n)
        _count &+= n
    }

    /// `LinePrinter.appendDigits`: the digits of `value` in base 10 or 16, `pad` before them up to `width`.
    @inlinable @inline(__always)
    public mutating func digits(_ value: UInt64, hex: Bool, upper: Bool, width: Int, pad: UInt8) {
        var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: enough for 20 decimal digits
        let n: Int = withUnsafeMutableBytes(of: &buf) { b in
            var v = value
            var k = 24
            if hex {
                let letters: UInt8 = upper ? 0x37 : 0x57
                repeat {
                    let d = UInt8(truncatingIfNeeded: v & 15)
                    v &>>= 4
                    k &-= 1
                    b[k] = d < 10 ? 0x30 &+ d : letters &+ d
                } while v != 0
            } else {
                repeat {
                    let q = v / 10
                    k &-= 1
                    b[k] = 0x30 &+ UInt8(truncatingIfNeeded: v &- q &* 10)
                    v = q
                } while v != 0
            }
            return 24 &- k
        }
        if width > n { repeated(pad, width &- n) }
        withUnsafeBytes(of: &buf) { b in
            bytes(b.baseAddress!.assumingMemoryBound(to: UInt8.self) + (24 &- n), n)
        }
    }

    /// `LinePrinter.appendNumber`.
    @inline(__always)
    mutating func number(_ v: Int64, style: NumberStyle, width: Int) {
        switch style {
        case .decimal:
            if v < 0 {
                byte(0x2D)
                digits(UInt64(bitPattern: 0 &- v), hex: false, upper: false, width: width, pad: 0x30)
            } else {
                digits(UInt64(v), hex: false, upper: false, width: width, pad: 0x30)
            }
        case .hexLower: digits(UInt64(bitPattern: v), hex: true, upper: false, width: width, pad: 0x30)
        case .hexUpper: digits(UInt64(bitPattern: v), hex: true, upper: true, width: width, pad: 0x30)
        }
    }

    /// `LinePrinter.appendPadded`.
    mutating func padded(_ v: Int64, width: Int, pad: UInt8) {
        if pad == 0x30 || v >= 0 && pad == 0x20 {
            if v < 0 {
                byte(0x2D)
                digits(UInt64(bitPattern: 0 &- v), hex: false, upper: false, width: width - 1, pad: pad)
            } else {
                digits(UInt64(v), hex: false, upper: false, width: width, pad: pad)
            }
        } else {
            // A space-padded negative number: the spaces go before the sign.
            var m = UInt64(bitPattern: 0 &- v)
            var n = 1
            repeat { n += 1; m /= 10 } while m != 0
            repeated(0x20, width - n)
            byte(0x2D)
            digits(UInt64(bitPattern: 0 &- v), hex: false, upper: false, width: 0, pad: 0x30)
        }
    }

    /// `LinePrinter.appendTime` (`code`: fraction digits, bit 7 rounded; at most 9 digits).
    mutating func time(_ time: Int64, fractionDigits code: Int, secondsWidth: Int) {
        let t = LinePrinter.timeParts(time, fractionDigits: code)
        if t.negative { byte(0x2D) }
        digits(t.seconds, hex: false, upper: false, width: secondsWidth - (t.negative ? 1 : 0), pad: 0x20)
        if t.fractionDigits > 0 {
            byte(0x2E)
            digits(t.fraction, hex: false, upper: false, width: t.fractionDigits, pad: 0x30)
        }
    }
}

extension SkeletonRenderer {
    /// ``render(_:values:strings:time:cpu:thread:to:)`` (without string slots) into `out`; false when
    /// the skeleton is malformed, lacks values or has a string slot. The same bytes, by the same rules.
    static func render(_ sk: UnsafeBufferPointer<UInt8>, values: UnsafeBufferPointer<Int64>, time: Int64, cpu: Int32,
                       thread: Int32, to out: inout RawLineWriter) -> Bool {
        guard let base = sk.baseAddress else { return true }
        var i = 0
        var slot = 0
        let n = sk.count
        while i < n {
            if sk[i] != 0xFF {
                // A run of literal bytes up to the next code.
                let start = i
                i &+= 1
                // Eight bytes at a time while none is 0xFF (a zero byte of the complement), then bytewise.
                while n &- i >= 8 {
                    let x = ~UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                    if (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 != 0 { break }
                    i &+= 8
                }
                while i < n && sk[i] != 0xFF { i &+= 1 }
                out.bytes(base + start, i &- start)
                if out.overflow { return true }
                continue
            }
            guard i + 1 < n else { return false }
            let code = sk[i + 1]
            i &+= 2
            switch code {
            case 0xFF: out.byte(0xFF)
            case SkeletonCode.number:
                guard i + 1 < n, slot < values.count, let style = NumberStyle(rawValue: sk[i]) else { return false }
                out.number(values[slot], style: style, width: Int(sk[i + 1]))
                slot &+= 1; i &+= 2
            case SkeletonCode.thread: out.number(Int64(thread), style: .decimal, width: 0)
            case SkeletonCode.cpu:
                guard i + 1 < n else { return false }
                out.padded(Int64(cpu), width: Int(sk[i]), pad: sk[i + 1] != 0 ? 0x30 : 0x20); i &+= 2
            case SkeletonCode.time:
                guard i + 1 < n, sk[i] & 0x7F <= 9 else { return false }
                out.time(time, fractionDigits: Int(sk[i]), secondsWidth: Int(sk[i + 1])); i &+= 2
            case SkeletonCode.rawTime: out.number(time, style: .decimal, width: 0)
            case SkeletonCode.bodyStart: break
            default: return false   // string slots (no string table here) and unknown codes
            }
            if out.overflow { return true }
        }
        return true
    }
}
