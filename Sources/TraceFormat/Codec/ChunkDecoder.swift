/// Decodes a chunk payload (after zstd) into an ``EventBatch``, interning its templates into a catalog.
/// The batch's arrays are reused from chunk to chunk (resized, never reallocated once large enough),
/// so steady-state decoding allocates nothing and page-faults nothing.
enum ChunkDecoder {
    /// Upper bound on events in one chunk; guards allocations driven by damaged input.
    static let maxEvents = 1 << 26

    static func decode(_ payload: UnsafeRawBufferPointer, firstEventIndex: Int, expectedCount: Int,
                       catalog: TemplateCatalog, into b: inout EventBatch, origin: Int = 0) throws {
        var scope = DecodeScope.everything
        try decode(payload, firstEventIndex: firstEventIndex, expectedCount: expectedCount, catalog: catalog, scope: &scope, into: &b, origin: origin)
    }

    /// The columns `scope` asks for (``DecodeScope``); the others are read through and checked.
    static func decode(_ payload: UnsafeRawBufferPointer, firstEventIndex: Int, expectedCount: Int,
                       catalog: TemplateCatalog, scope: inout DecodeScope, into b: inout EventBatch, origin: Int = 0) throws {
        var c = ByteCursor(payload, origin: origin)
        let version = try c.readByte()
        guard version == ChunkCodec.version else { throw c.error("unknown chunk codec version \(version)") }
        let templateCount = try c.readCount(limit: 1 << 20)
        var localToGlobal = [UInt32]()
        var arity = [Int]()
        localToGlobal.reserveCapacity(templateCount)
        arity.reserveCapacity(templateCount)
        for _ in 0..<templateCount {
            let nameLength = try c.readCount(limit: min(4096, c.remaining))
            let name = UnsafeRawBufferPointer(rebasing: payload[c.position..<c.position + nameLength])
            c.position += nameLength
            let skeletonLength = try c.readCount(limit: min(1 << 16, c.remaining))
            let skeleton = UnsafeRawBufferPointer(rebasing: payload[c.position..<c.position + skeletonLength])
            c.position += skeletonLength
            let id = try catalog.intern(name: name, skeleton: skeleton)
            localToGlobal.append(id)
            arity.append(catalog.valueCount(id))
        }
        let stringCount = try c.readCount(limit: c.remaining)
        b.strings.removeAll(keepingCapacity: true)
        for _ in 0..<stringCount { b.strings.append(try c.readBlob()) }
        let n = try c.readCount(limit: maxEvents)
        guard n == expectedCount else { throw c.error("chunk holds \(n) events, its header says \(expectedCount)") }
        b.firstEventIndex = firstEventIndex
        // (The count is set last, once every per-event column holds the n events and `columnBase`
        // describes their templates — EventBatch's readers rely on it: a batch left by a decode that
        // threw holds no event to read.)
        b.count = 0
        resize(&b.times, scope.times ? n : 0)
        resize(&b.cpus, n)
        resize(&b.threads, n)
        resize(&b.domains, n)
        resize(&b.templates, n)
        resize(&b.localTemplates, n)
        resize(&b.rows, n)

        // Times.
        let unitExp = try c.readCount(limit: 9)
        var unit: Int64 = 1
        for _ in 0..<unitExp { unit *= 10 }
        if scope.times {
            try b.times.withUnsafeMutableBufferPointer { t in
                var prev: Int64 = 0
                try zigzags(&c, count: n) { i, v in
                    prev &+= v &* unit
                    t[i] = prev
                }
            }
        } else {
            try skipVarints(&c, count: n)
        }
        try b.cpus.withUnsafeMutableBufferPointer { o in
            try dictionary(&c, count: n, limit: 1 << 20, into: o) { Int32(truncatingIfNeeded: $0) }
        }
        try b.threads.withUnsafeMutableBufferPointer { o in
            try dictionary(&c, count: n, limit: 1 << 24, into: o) { Int32(truncatingIfNeeded: $0) }
        }
        try b.domains.withUnsafeMutableBufferPointer { o in
            try dictionary(&c, count: n, limit: 256, into: o) { UInt8(truncatingIfNeeded: $0) }
        }

        // Template indices, rows and catalog ids in one pass.
        let w = Int(try c.readByte())
        guard w == ChunkCodec.indexWidth(distinct: templateCount) else { throw c.error("template index width \(w) does not fit \(templateCount) templates") }
        guard c.remaining >= n * w else { throw c.error("template column needs \(n * w) bytes, \(c.remaining) left") }
        if n > 0 && templateCount == 0 { throw c.error("\(n) events but no templates") }
        var columnLength = [Int](repeating: 0, count: templateCount)
        let p = c.position
        let base = c.base
        var bad = false
        columnLength.withUnsafeMutableBufferPointer { len in
            localToGlobal.withUnsafeBufferPointer { l2g in
                b.localTemplates.withUnsafeMutableBufferPointer { loc in
                    b.rows.withUnsafeMutableBufferPointer { rows in
                        b.templates.withUnsafeMutableBufferPointer { tpl in
                            @inline(__always) func put(_ i: Int, _ l: Int) -> Bool {
                                guard l < templateCount else { return false }
                                loc[i] = UInt32(truncatingIfNeeded: l)
                                rows[i] = UInt32(truncatingIfNeeded: len[l])
                                len[l] &+= 1
                                tpl[i] = l2g[l]
                                return true
                            }
                            // (One loop per index width: the width is not re-decided per event.)
                            switch w {
                            case 0:
                                for i in 0..<n where !put(i, 0) { bad = true; return }
                            case 1:
                                for i in 0..<n where !put(i, Int(base[p &+ i])) { bad = true; return }
                            case 2:
                                for i in 0..<n where !put(i, Int(base[p &+ 2 &* i]) | Int(base[p &+ 2 &* i &+ 1]) << 8) { bad = true; return }
                            default:
                                for i in 0..<n {
                                    let q = p &+ 4 &* i
                                    guard put(i, Int(base[q]) | Int(base[q + 1]) << 8 | Int(base[q + 2]) << 16 | Int(base[q + 3]) << 24) else { bad = true; return }
                                }
                            }
                        }
                    }
                }
            }
        }
        if bad { throw c.error("template index out of range \(templateCount)") }
        c.position += n * w
        var columnBase = [Int](repeating: 0, count: templateCount)
        var decoded = [Bool](repeating: true, count: templateCount)
        var total = 0
        for l in 0..<templateCount {
            decoded[l] = scope.decodesValues(of: localToGlobal[l], catalog)
            // (A template whose values are left out gets a base no row can reach from: reading one traps.)
            columnBase[l] = decoded[l] ? total : Self.absentColumns
            if decoded[l] { total += columnLength[l] * arity[l] }
        }
        resize(&b.values, total)
        try b.values.withUnsafeMutableBufferPointer { v in
            for l in 0..<templateCount {
                let length = columnLength[l]
                for s in 0..<arity[l] {
                    if decoded[l] {
                        try valueColumn(&c, count: length, into: v.baseAddress! + columnBase[l] + s * length)
                    } else {
                        try skipValueColumn(&c, count: length)
                    }
                }
            }
        }
        guard c.isAtEnd else { throw c.error("\(c.remaining) trailing bytes after the last column") }
        b.columnBase = columnBase
        b.columnLength = columnLength
        b.count = n
    }

    /// ``EventBatch/columnBase`` of a template whose values a ``DecodeScope`` left out: far below zero.
    static let absentColumns = -(1 << 48)

    /// Sets `a.count` to `n`, keeping its storage (the contents are overwritten by the caller).
    @inline(__always)
    static func resize<T: FixedWidthInteger>(_ a: inout [T], _ n: Int) {
        if a.count > n { a.removeLast(a.count - n) } else if a.count < n { a.append(contentsOf: repeatElement(0, count: n - a.count)) }
    }

    /// A small dictionary column decoded straight into its target type.
    @inline(__always)
    static func dictionary<T>(_ c: inout ByteCursor, count n: Int, limit: Int, into out: UnsafeMutableBufferPointer<T>,
                              _ convert: (Int64) -> T) throws(DecodeError) {
        let k = try c.readCount(limit: max(1, min(n, limit)))
        var dict = [T]()
        dict.reserveCapacity(k)
        for _ in 0..<k { dict.append(convert(try c.readZigzag())) }
        let w = Int(try c.readByte())
        guard w == ChunkCodec.indexWidth(distinct: k) else { throw c.error("index width \(w) does not fit \(k) entries") }
        if k == 0 {
            guard n == 0 else { throw c.error("empty dictionary for \(n) events") }
            return
        }
        if k == 1 {
            if n > 0 { out.baseAddress!.update(repeating: dict[0], count: n) }
            return
        }
        guard c.remaining >= n * w else { throw c.error("index column needs \(n * w) bytes, \(c.remaining) left") }
        let p = c.position
        let base = c.base
        // (One loop per index width: the width is not re-decided per event. Positions wrap: the
        // column's n × w bytes were checked to be there, so none can overflow.)
        let ok = dict.withUnsafeBufferPointer { d -> Bool in
            switch w {
            case 1:
                for i in 0..<n {
                    let x = Int(base[p &+ i])
                    guard x < k else { return false }
                    out[i] = d[x]
                }
            case 2:
                for i in 0..<n {
                    let x = Int(base[p &+ 2 &* i]) | Int(base[p &+ 2 &* i &+ 1]) << 8
                    guard x < k else { return false }
                    out[i] = d[x]
                }
            default:
                for i in 0..<n {
                    let q = p &+ 4 &* i
                    let x = Int(base[q]) | Int(base[q + 1]) << 8 | Int(base[q + 2]) << 16 | Int(base[q + 3]) << 24
                    guard x < k else { return false }
                    out[i] = d[x]
                }
            }
            return true
        }
        guard ok else { throw c.error("dictionary index out of range \(k)") }
        c.position += n * w
    }

    /// One value column of `n` values.
    @inline(__always)
    static func valueColumn(_ c: inout ByteCursor, count n: Int, into out: UnsafeMutablePointer<Int64>) throws(DecodeError) {
        let mode = try c.readByte()
        switch mode {
        case ChunkCodec.modeConstant:
            let v = try c.readZigzag()
            out.update(repeating: v, count: n)
        case ChunkCodec.modeDelta:
            var prev: Int64 = 0
            try zigzags(&c, count: n) { i, v in prev &+= v; out[i] = prev }
        case ChunkCodec.modeRaw:
            try zigzags(&c, count: n) { i, v in out[i] = v }
        default:
            throw c.error("unknown value column mode \(mode)")
        }
    }

    /// `n` zigzag varints, handed to `store` with their index: ``ByteCursor/readZigzag()``'s result
    /// and errors, read with the position in a local (a register) and no end check per value while
    /// at least 10 bytes (a varint's most) are left (``ByteCursor/varint(at:)``).
    @inline(__always)
    static func zigzags(_ c: inout ByteCursor, count n: Int, _ store: (Int, Int64) -> Void) throws(DecodeError) {
        var i = 0
        var p = c.position
        let fastEnd = c.end - 10
        let reader = c   // (a copy: its buffer stays in registers, not reloaded through `inout c`)
        while i < n && p <= fastEnd {
            store(i, zigzagDecode(try reader.varint(at: &p)))
            i &+= 1
        }
        c.position = p
        while i < n {
            store(i, try c.readZigzag())
            i += 1
        }
    }
}
