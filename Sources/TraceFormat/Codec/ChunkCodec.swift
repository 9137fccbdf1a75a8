/// Column codecs shared by ``ChunkBuilder`` (encode) and ``ChunkDecoder`` (decode).
enum ChunkCodec {
    /// Version of the chunk payload layout (docs/FORMAT.md §4).
    static let version: UInt8 = 1

    /// Value-column modes.
    static let modeRaw: UInt8 = 0
    static let modeDelta: UInt8 = 1
    static let modeConstant: UInt8 = 2

    /// A dictionary of distinct values, then fixed-width indices (none when there is one value).
    static func encodeSmallDictionary<C: Collection>(_ values: C, count n: Int, into out: inout ByteSink) where C.Element == Int64 {
        var dict: [Int64] = []
        var lookup: [Int64: UInt32] = [:]
        var indices: [UInt32] = []
        indices.reserveCapacity(n)
        var last: Int64? = nil
        var lastIndex: UInt32 = 0
        for v in values {
            if v != last {
                if let k = lookup[v] { lastIndex = k } else {
                    lastIndex = UInt32(dict.count)
                    lookup[v] = lastIndex
                    dict.append(v)
                }
                last = v
            }
            indices.append(lastIndex)
        }
        out.appendVarint(dict.count)
        for v in dict { out.appendZigzag(v) }
        encodeIndices(indices, distinct: dict.count, into: &out)
    }

    static func indexWidth(distinct: Int) -> Int {
        distinct <= 1 ? 0 : distinct <= 256 ? 1 : distinct <= 65536 ? 2 : 4
    }

    static func encodeIndices(_ indices: [UInt32], distinct: Int, into out: inout ByteSink) {
        let w = indexWidth(distinct: distinct)
        out.bytes.append(UInt8(w))
        switch w {
        case 0: break
        case 1: for i in indices { out.bytes.append(UInt8(truncatingIfNeeded: i)) }
        case 2: for i in indices { out.appendLE(UInt16(truncatingIfNeeded: i)) }
        default: for i in indices { out.appendLE(i) }
        }
    }

    static func encodeValueColumn(_ column: [Int64], into out: inout ByteSink) {
        guard let first = column.first else { out.bytes.append(modeConstant); out.appendZigzag(0); return }
        var rawSize = 0, deltaSize = 0
        var constant = true
        var prev: Int64 = 0
        for v in column {
            rawSize += varintSize(zigzagEncode(v))
            deltaSize += varintSize(zigzagEncode(v &- prev))
            prev = v
            if v != first { constant = false }
        }
        if constant {
            out.bytes.append(modeConstant)
            out.appendZigzag(first)
        } else if deltaSize < rawSize {
            out.bytes.append(modeDelta)
            prev = 0
            for v in column { out.appendZigzag(v &- prev); prev = v }
        } else {
            out.bytes.append(modeRaw)
            for v in column { out.appendZigzag(v) }
        }
    }

    // MARK: decoding

    static func decodeSmallDictionary(_ c: inout ByteCursor, count n: Int, limit: Int) throws(DecodeError) -> [Int64] {
        let k = try c.readCount(limit: max(1, min(n, limit)))
        var dict = [Int64]()
        dict.reserveCapacity(k)
        for _ in 0..<k { dict.append(try c.readZigzag()) }
        let indices = try decodeIndices(&c, count: n, distinct: k)
        if k == 0 {
            guard n == 0 else { throw c.error("empty dictionary for \(n) events") }
            return []
        }
        if k == 1 { return [Int64](repeating: dict[0], count: n) }
        var out = [Int64](repeating: 0, count: n)
        for i in 0..<n {
            let x = Int(indices[i])
            guard x < k else { throw c.error("dictionary index \(x) out of range \(k)") }
            out[i] = dict[x]
        }
        return out
    }

    static func decodeIndices(_ c: inout ByteCursor, count n: Int, distinct: Int) throws(DecodeError) -> [UInt32] {
        let w = Int(try c.readByte())
        guard w == indexWidth(distinct: distinct) else { throw c.error("index width \(w) does not fit \(distinct) entries") }
        if w == 0 { return [UInt32](repeating: 0, count: n) }
        guard c.remaining >= n * w else { throw c.error("index column needs \(n * w) bytes, \(c.remaining) left") }
        var out = [UInt32](repeating: 0, count: n)
        let base = c.base
        let p = c.position
        out.withUnsafeMutableBufferPointer { o in
            switch w {
            case 1: for i in 0..<n { o[i] = UInt32(base[p + i]) }
            case 2: for i in 0..<n { o[i] = UInt32(base[p + 2 * i]) | UInt32(base[p + 2 * i + 1]) << 8 }
            default:
                for i in 0..<n {
                    let q = p + 4 * i
                    o[i] = UInt32(base[q]) | UInt32(base[q + 1]) << 8 | UInt32(base[q + 2]) << 16 | UInt32(base[q + 3]) << 24
                }
            }
        }
        c.position += n * w
        return out
    }

    /// Decodes one value column of `n` values into `out[start..<start+n]`.
    @inline(__always)
    static func decodeValueColumn(_ c: inout ByteCursor, count n: Int, into out: UnsafeMutableBufferPointer<Int64>, at start: Int) throws(DecodeError) {
        let mode = try c.readByte()
        switch mode {
        case modeConstant:
            let v = try c.readZigzag()
            for i in 0..<n { out[start + i] = v }
        case modeDelta:
            var prev: Int64 = 0
            for i in 0..<n { prev &+= try c.readZigzag(); out[start + i] = prev }
        case modeRaw:
            for i in 0..<n { out[start + i] = try c.readZigzag() }
        default:
            throw c.error("unknown value column mode \(mode)")
        }
    }
}
