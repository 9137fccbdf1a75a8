/// Column codecs shared by ``ChunkBuilder`` (encode) and ``ChunkDecoder`` (decode).
enum ChunkCodec {
    /// Version of the chunk payload layout (docs/FORMAT.md §4).
    static let version: UInt8 = 1

    /// Value-column modes.
    static let modeRaw: UInt8 = 0
    static let modeDelta: UInt8 = 1
    static let modeConstant: UInt8 = 2

    /// A dictionary of distinct values, then fixed-width indices (none when there is one value).
    static func encodeSmallDictionary<T: FixedWidthInteger>(_ values: UnsafeBufferPointer<T>, into out: inout ByteSink) {
        var dict: [Int64] = []
        var lookup = IntMap<Int64, UInt32>()
        var indices = [UInt32](repeating: 0, count: values.count)
        var last: Int64? = nil
        var lastIndex: UInt32 = 0
        for k in values.indices {
            let v = Int64(values[k])
            if v != last {
                if let k = lookup[v] { lastIndex = k } else {
                    lastIndex = UInt32(dict.count)
                    lookup[v] = lastIndex
                    dict.append(v)
                }
                last = v
            }
            indices[k] = lastIndex
        }
        out.appendVarint(dict.count)
        for v in dict { out.appendZigzag(v) }
        indices.withUnsafeBufferPointer { encodeIndices($0, distinct: dict.count, into: &out) }
    }

    static func indexWidth(distinct: Int) -> Int {
        distinct <= 1 ? 0 : distinct <= 256 ? 1 : distinct <= 65536 ? 2 : 4
    }

    static func encodeIndices(_ indices: UnsafeBufferPointer<UInt32>, distinct: Int, into out: inout ByteSink) {
        let w = indexWidth(distinct: distinct)
        out.bytes.append(UInt8(w))
        switch w {
        case 0: break
        case 1:
            // One pass into reserved bytes (a lazy map appends element by element).
            let start = out.bytes.count
            out.bytes.append(contentsOf: repeatElement(0, count: indices.count))
            out.bytes.withUnsafeMutableBufferPointer { b in
                for (k, i) in indices.enumerated() { b[start + k] = UInt8(truncatingIfNeeded: i) }
            }
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
            let s = column.startIndex
            out.appendZigzags(count: column.count, size: deltaSize) { k in column[s + k] &- (k == 0 ? 0 : column[s + k - 1]) }
        } else {
            out.bytes.append(modeRaw)
            let s = column.startIndex
            out.appendZigzags(count: column.count, size: rawSize) { k in column[s + k] }
        }
    }
}
