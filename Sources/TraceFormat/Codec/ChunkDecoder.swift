/// Decodes a chunk payload (after zstd) into an ``EventBatch``, interning its templates into a catalog.
enum ChunkDecoder {
    /// Upper bound on events in one chunk; guards allocations driven by damaged input.
    static let maxEvents = 1 << 26

    static func decode(_ payload: UnsafeRawBufferPointer, firstEventIndex: Int, expectedCount: Int,
                       catalog: TemplateCatalog, origin: Int = 0) throws -> EventBatch {
        var c = ByteCursor(payload, origin: origin)
        let version = try c.readByte()
        guard version == ChunkCodec.version else { throw c.error("unknown chunk codec version \(version)") }
        let templateCount = try c.readCount(limit: 1 << 20)
        var localToGlobal = [UInt32]()
        var arity = [Int]()
        localToGlobal.reserveCapacity(templateCount)
        for _ in 0..<templateCount {
            let name = try c.readBlob(limit: 4096)
            let skeleton = try c.readBlob(limit: 1 << 16)
            let id = try name.withUnsafeBytes { nb in
                try skeleton.withUnsafeBytes { sb in try catalog.intern(name: nb, skeleton: sb) }
            }
            localToGlobal.append(id)
            arity.append(catalog[id].valueCount)
        }
        let stringCount = try c.readCount(limit: c.remaining)
        var strings = [[UInt8]]()
        strings.reserveCapacity(stringCount)
        for _ in 0..<stringCount { strings.append(try c.readBlob()) }
        let n = try c.readCount(limit: maxEvents)
        guard n == expectedCount else { throw c.error("chunk holds \(n) events, its header says \(expectedCount)") }

        // Times.
        let unitExp = try c.readCount(limit: 9)
        var unit: Int64 = 1
        for _ in 0..<unitExp { unit *= 10 }
        var times = [Int64](repeating: 0, count: n)
        try times.withUnsafeMutableBufferPointer { (t) in
            var prev: Int64 = 0
            for i in 0..<n {
                prev &+= try c.readZigzag() &* unit
                t[i] = prev
            }
        }
        let cpus = try ChunkCodec.decodeSmallDictionary(&c, count: n, limit: 1 << 20).map { Int32(truncatingIfNeeded: $0) }
        let threads = try ChunkCodec.decodeSmallDictionary(&c, count: n, limit: 1 << 24).map { Int32(truncatingIfNeeded: $0) }
        let domains = try ChunkCodec.decodeSmallDictionary(&c, count: n, limit: 256).map { UInt8(truncatingIfNeeded: $0) }
        let local = try ChunkCodec.decodeIndices(&c, count: n, distinct: templateCount)

        // Rows within each template, and column lengths.
        var columnLength = [Int](repeating: 0, count: templateCount)
        var rows = [UInt32](repeating: 0, count: n)
        var templates = [UInt32](repeating: 0, count: n)
        for i in 0..<n {
            let l = Int(local[i])
            guard l < templateCount else { throw c.error("template index \(l) out of range \(templateCount)") }
            rows[i] = UInt32(columnLength[l])
            columnLength[l] += 1
            templates[i] = localToGlobal[l]
        }
        var columnBase = [Int](repeating: 0, count: templateCount)
        var total = 0
        for l in 0..<templateCount {
            columnBase[l] = total
            total += columnLength[l] * arity[l]
        }
        var values = [Int64](repeating: 0, count: total)
        try values.withUnsafeMutableBufferPointer { (v) in
            for l in 0..<templateCount {
                for s in 0..<arity[l] {
                    try ChunkCodec.decodeValueColumn(&c, count: columnLength[l], into: v, at: columnBase[l] + s * columnLength[l])
                }
            }
        }
        guard c.isAtEnd else { throw c.error("\(c.remaining) trailing bytes after the last column") }
        return EventBatch(firstEventIndex: firstEventIndex, times: times, cpus: cpus, threads: threads, domains: domains,
                          templates: templates, localTemplates: local, rows: rows, columnBase: columnBase,
                          columnLength: columnLength, values: values, strings: strings)
    }
}
