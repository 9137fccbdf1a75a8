/// A small pure-Swift decoder for zlib streams (RFC 1950) carrying DEFLATE data (RFC 1951), as
/// written by zlib's `compress2()` — what trace-cmd's zlib compression plugin produces for every
/// compressed section and trace-data chunk of a version 7 trace.dat file.
///
/// Every read is bounds-checked; malformed input throws `InflateError` (with the input byte offset)
/// instead of trapping, and output never grows beyond the size the caller expects.
struct InflateError: Error, CustomStringConvertible {
    var offset: Int
    var message: String
    var description: String { "zlib: \(message) (input byte \(offset))" }
}

enum Inflate {
    /// Decompresses one zlib stream whose decompressed size must be exactly `expectedSize`.
    static func zlib(_ input: UnsafeRawBufferPointer, expectedSize: Int, into out: inout [UInt8]) throws(InflateError) {
        guard input.count >= 6 else { throw InflateError(offset: 0, message: "stream too short (\(input.count) bytes)") }
        let cmf = input[0], flg = input[1]
        guard cmf & 0x0F == 8 else { throw InflateError(offset: 0, message: "compression method \(cmf & 0x0F) is not deflate") }
        guard cmf >> 4 <= 7 else { throw InflateError(offset: 0, message: "window size \(cmf >> 4) too large") }
        guard (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else { throw InflateError(offset: 1, message: "header check bits wrong") }
        guard flg & 0x20 == 0 else { throw InflateError(offset: 1, message: "preset dictionary not supported") }
        var state = InflateState(input: input, start: 2, limit: expectedSize)
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(expectedSize)
        try state.run(&out)
        // Adler-32 trailer, byte aligned after the last block.
        let pos = state.bytePositionAfterAlign()
        guard pos + 4 <= input.count else { throw InflateError(offset: pos, message: "missing Adler-32 trailer") }
        let want = UInt32(input[pos]) << 24 | UInt32(input[pos + 1]) << 16 | UInt32(input[pos + 2]) << 8 | UInt32(input[pos + 3])
        let got = adler32(out)
        guard want == got else { throw InflateError(offset: pos, message: "Adler-32 mismatch") }
        guard out.count == expectedSize else {
            throw InflateError(offset: pos, message: "decompressed \(out.count) bytes, expected \(expectedSize)")
        }
    }

    /// Decodes raw DEFLATE data (no zlib header); used by the tests.
    static func raw(_ input: UnsafeRawBufferPointer, limit: Int) throws(InflateError) -> [UInt8] {
        var state = InflateState(input: input, start: 0, limit: limit)
        var out: [UInt8] = []
        try state.run(&out)
        return out
    }

    static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        data.withUnsafeBufferPointer { p in
            var i = 0
            let n = p.count
            while i < n {
                let end = min(n, i + 5552)
                while i < end { a &+= UInt32(p[i]); b &+= a; i += 1 }
                a %= 65521; b %= 65521
            }
        }
        return b << 16 | a
    }
}

/// Canonical Huffman decoding table: `fastBits`-bit direct lookup. Entries hold
/// `symbol << 4 | length`; length 0 marks an unused code.
private struct Huffman {
    var table: [UInt16]
    var bits: Int

    /// Builds the table from code lengths; throws on over-subscribed sets. Incomplete sets are
    /// allowed (a single distance code is legal) — unused slots decode as errors.
    init(lengths: UnsafeBufferPointer<UInt8>, offset: Int) throws(InflateError) {
        var count = [Int](repeating: 0, count: 16)
        var maxLen = 0
        for l in lengths where l > 0 { count[Int(l)] += 1; maxLen = max(maxLen, Int(l)) }
        var left = 1
        for len in 1...15 {
            left <<= 1
            left -= count[len]
            if left < 0 { throw InflateError(offset: offset, message: "over-subscribed Huffman code") }
        }
        bits = max(maxLen, 1)
        table = [UInt16](repeating: 0, count: 1 << bits)
        // Canonical codes (RFC 1951 3.2.2); count[0] is 0, unused lengths do not contribute.
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1...15 { code = (code + count[len - 1]) << 1; next[len] = code }
        for (sym, l) in lengths.enumerated() where l > 0 {
            let len = Int(l)
            let cd = next[len]; next[len] += 1
            // reverse `len` bits
            var r = 0
            var v = cd
            for _ in 0..<len { r = (r << 1) | (v & 1); v >>= 1 }
            let entry = UInt16(sym << 4 | len)
            var i = r
            let step = 1 << len
            while i < table.count { table[i] = entry; i += step }
        }
    }
}

private struct InflateState {
    let input: UnsafeRawBufferPointer
    var pos: Int          // next input byte to load
    var bitBuf: UInt64 = 0
    var bitCount = 0
    let limit: Int

    init(input: UnsafeRawBufferPointer, start: Int, limit: Int) {
        self.input = input
        self.pos = start
        self.limit = limit
    }

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let clOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// Byte offset (for messages) of the bits being consumed.
    var offset: Int { pos - bitCount / 8 }

    @inline(__always) mutating func refill() {
        while bitCount <= 56 && pos < input.count {
            bitBuf |= UInt64(input[pos]) << UInt64(bitCount)
            pos += 1
            bitCount += 8
        }
    }

    @inline(__always) mutating func bits(_ n: Int) throws(InflateError) -> Int {
        if n == 0 { return 0 }
        if bitCount < n {
            refill()
            if bitCount < n { throw InflateError(offset: offset, message: "input ends inside a block") }
        }
        let v = Int(bitBuf & ((1 << UInt64(n)) - 1))
        bitBuf >>= UInt64(n)
        bitCount -= n
        return v
    }

    @inline(__always) mutating func decode(_ h: borrowing Huffman) throws(InflateError) -> Int {
        if bitCount < h.bits { refill() }
        let e = Int(h.table[Int(bitBuf & UInt64((1 << h.bits) - 1))])
        let len = e & 15
        if len == 0 || len > bitCount {
            throw InflateError(offset: offset, message: len == 0 ? "invalid Huffman code" : "input ends inside a block")
        }
        bitBuf >>= UInt64(len)
        bitCount -= len
        return e >> 4
    }

    mutating func bytePositionAfterAlign() -> Int {
        let drop = bitCount % 8
        bitBuf >>= UInt64(drop)
        bitCount -= drop
        return pos - bitCount / 8
    }

    mutating func run(_ out: inout [UInt8]) throws(InflateError) {
        var final = 0
        repeat {
            final = try bits(1)
            let type = try bits(2)
            switch type {
            case 0:
                let p = bytePositionAfterAlign()
                bitBuf = 0; bitCount = 0; pos = p
                guard p + 4 <= input.count else { throw InflateError(offset: p, message: "stored block header truncated") }
                let len = Int(input[p]) | Int(input[p + 1]) << 8
                let nlen = Int(input[p + 2]) | Int(input[p + 3]) << 8
                guard len == (~nlen & 0xFFFF) else { throw InflateError(offset: p, message: "stored block length check failed") }
                guard p + 4 + len <= input.count else { throw InflateError(offset: p, message: "stored block truncated") }
                guard out.count + len <= limit else { throw InflateError(offset: p, message: "output exceeds the expected \(limit) bytes") }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[(p + 4)..<(p + 4 + len)]))
                pos = p + 4 + len
            case 1:
                try block(&out, lit: InflateState.fixedLit, dist: InflateState.fixedDist)
            case 2:
                let (lit, dist) = try dynamicTables()
                try block(&out, lit: lit, dist: dist)
            default:
                throw InflateError(offset: offset, message: "invalid block type 3")
            }
        } while final == 0
    }

    static let fixedLit: Huffman = {
        var l = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { l[i] = 9 }
        for i in 256..<280 { l[i] = 7 }
        return l.withUnsafeBufferPointer { try! Huffman(lengths: $0, offset: 0) }
    }()
    static let fixedDist: Huffman = {
        let l = [UInt8](repeating: 5, count: 30)
        return l.withUnsafeBufferPointer { try! Huffman(lengths: $0, offset: 0) }
    }()

    mutating func dynamicTables() throws(InflateError) -> (Huffman, Huffman) {
        let hlit = try bits(5) + 257
        let hdist = try bits(5) + 1
        let hclen = try bits(4) + 4
        guard hlit <= 286, hdist <= 30 else { throw InflateError(offset: offset, message: "too many length or distance codes") }
        var cl = [UInt8](repeating: 0, count: 19)
        for i in 0..<hclen { cl[InflateState.clOrder[i]] = UInt8(try bits(3)) }
        let off = offset
        let clh = try cl.withUnsafeBufferPointer { (p) throws(InflateError) in try Huffman(lengths: p, offset: off) }
        var lengths = [UInt8](repeating: 0, count: hlit + hdist)
        var i = 0
        while i < hlit + hdist {
            let sym = try decode(clh)
            switch sym {
            case 0...15:
                lengths[i] = UInt8(sym); i += 1
            case 16:
                guard i > 0 else { throw InflateError(offset: offset, message: "repeat with no previous length") }
                let prev = lengths[i - 1]
                let n = 3 + (try bits(2))
                guard i + n <= lengths.count else { throw InflateError(offset: offset, message: "too many code lengths") }
                for _ in 0..<n { lengths[i] = prev; i += 1 }
            case 17, 18:
                let n = sym == 17 ? 3 + (try bits(3)) : 11 + (try bits(7))
                guard i + n <= lengths.count else { throw InflateError(offset: offset, message: "too many code lengths") }
                i += n
            default:
                throw InflateError(offset: offset, message: "invalid code-length symbol")
            }
        }
        guard lengths[256] != 0 else { throw InflateError(offset: offset, message: "no end-of-block code") }
        let off2 = offset
        let lit = try lengths.withUnsafeBufferPointer { (p) throws(InflateError) in
            try Huffman(lengths: UnsafeBufferPointer(rebasing: p[0..<hlit]), offset: off2)
        }
        let dist = try lengths.withUnsafeBufferPointer { (p) throws(InflateError) in
            try Huffman(lengths: UnsafeBufferPointer(rebasing: p[hlit...]), offset: off2)
        }
        return (lit, dist)
    }

    mutating func block(_ out: inout [UInt8], lit: borrowing Huffman, dist: borrowing Huffman) throws(InflateError) {
        while true {
            let sym = try decode(lit)
            if sym < 256 {
                guard out.count < limit else { throw InflateError(offset: offset, message: "output exceeds the expected \(limit) bytes") }
                out.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                guard li < 29 else { throw InflateError(offset: offset, message: "invalid length symbol \(sym)") }
                let len = InflateState.lengthBase[li] + (try bits(InflateState.lengthExtra[li]))
                let ds = try decode(dist)
                guard ds < 30 else { throw InflateError(offset: offset, message: "invalid distance symbol \(ds)") }
                let d = InflateState.distBase[ds] + (try bits(InflateState.distExtra[ds]))
                guard d <= out.count else { throw InflateError(offset: offset, message: "distance \(d) reaches before the start of the output") }
                guard out.count + len <= limit else { throw InflateError(offset: offset, message: "output exceeds the expected \(limit) bytes") }
                let start = out.count - d
                if d >= len {
                    out.append(contentsOf: out[start..<(start + len)])
                } else {
                    for k in 0..<len { out.append(out[start + k]) }
                }
            }
        }
    }
}
