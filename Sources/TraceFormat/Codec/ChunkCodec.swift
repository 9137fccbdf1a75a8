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

    static func encodeValueColumn(_ column: ArraySlice<Int64>, into out: inout ByteSink) {
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
}
