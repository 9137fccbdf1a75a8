/// Accumulates one chunk's events as columns and encodes them (before zstd).
///
/// Domain-aware encoding, byte layout in docs/FORMAT.md §4:
/// - times: delta from the previous event, in the largest power-of-ten unit dividing every time in
///   the chunk (QEMU's µs clock stores deltas in µs), zigzag varints;
/// - CPU, thread and clock domain: a small dictionary plus fixed-width indices (nothing when the
///   column holds one value);
/// - template: fixed-width chunk-local index;
/// - slot values: one column per (template, slot), each stored raw, as deltas, or as a constant,
///   whichever is smallest — the values of one field of one event kind sit together, which is what
///   zstd then exploits.
struct ChunkBuilder {
    var times: [Int64] = []
    var cpus: [Int32] = []
    var threads: [Int32] = []
    var domains: [UInt8] = []
    var localTemplates: [UInt32] = []
    /// Catalog id of each local template.
    var localToGlobal: [UInt32] = []
    /// Catalog id → local index + 1 (0: not used in this chunk yet).
    var globalToLocal: [UInt32] = []
    /// Slot values of every event, event after event (split into columns when the chunk is encoded).
    var values: [Int64] = []
    /// Slot count of each local template.
    var localArity: [Int] = []
    var stringIndex: [[UInt8]: Int64] = [:]
    var strings: [[UInt8]] = []
    var estimatedSize = 0
    var minTime = Int64.max
    var maxTime = Int64.min

    var count: Int { times.count }

    mutating func reset() {
        times.removeAll(keepingCapacity: true)
        cpus.removeAll(keepingCapacity: true)
        threads.removeAll(keepingCapacity: true)
        domains.removeAll(keepingCapacity: true)
        localTemplates.removeAll(keepingCapacity: true)
        for g in localToGlobal { globalToLocal[Int(g)] = 0 }
        localToGlobal.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
        localArity.removeAll(keepingCapacity: true)
        stringIndex.removeAll(keepingCapacity: true)
        strings.removeAll(keepingCapacity: true)
        estimatedSize = 0
        minTime = .max
        maxTime = .min
    }

    /// Chunk-local index of a string (string slots store it).
    mutating func internString(_ bytes: [UInt8]) -> Int64 {
        if let k = stringIndex[bytes] { return k }
        let k = Int64(strings.count)
        strings.append(bytes)
        stringIndex[bytes] = k
        estimatedSize += bytes.count + 2
        return k
    }

    @inline(__always)
    mutating func append(time: Int64, cpu: Int32, thread: Int32, domain: UInt8, template: UInt32,
                         arity: Int, values: UnsafeBufferPointer<Int64>) {
        let g = Int(template)
        if g >= globalToLocal.count { globalToLocal.append(contentsOf: repeatElement(0, count: g + 1 - globalToLocal.count)) }
        var local = globalToLocal[g]
        if local == 0 {
            localToGlobal.append(template)
            localArity.append(arity)
            local = UInt32(localToGlobal.count)
            globalToLocal[g] = local
            estimatedSize += 64
        }
        let l = Int(local - 1)
        let previous = times.last ?? time
        times.append(time)
        cpus.append(cpu)
        threads.append(thread)
        domains.append(domain)
        localTemplates.append(UInt32(l))
        if time < minTime { minTime = time }
        if time > maxTime { maxTime = time }
        var size = 2 + varintSize(zigzagEncode(time &- previous))
        for s in 0..<arity { size += varintSize(zigzagEncode(values[s])) }
        self.values.append(contentsOf: UnsafeBufferPointer(rebasing: values[0..<arity]))
        estimatedSize += size
    }

    /// The chunk payload before compression.
    func encode(catalog: TemplateCatalog) -> [UInt8] {
        var out = ByteSink(capacity: estimatedSize + 1024)
        out.bytes.append(ChunkCodec.version)
        out.appendVarint(localToGlobal.count)
        for g in localToGlobal {
            let t = catalog[g]
            out.appendString(t.name)
            out.appendBlob(t.skeleton)
        }
        out.appendVarint(strings.count)
        for s in strings { out.appendBlob(s) }
        let n = times.count
        out.appendVarint(n)
        // Times.
        var unitExp = 9
        var unit: Int64 = 1_000_000_000
        for t in times where t != 0 {
            while unitExp > 0 && t % unit != 0 { unitExp -= 1; unit /= 10 }
            if unitExp == 0 { break }
        }
        out.appendVarint(unitExp)
        var timeSize = 0
        var prev: Int64 = 0
        for t in times { timeSize += varintSize(zigzagEncode((t &- prev) / unit)); prev = t }
        times.withUnsafeBufferPointer { tp in
            out.appendZigzags(count: n, size: timeSize) { k in (tp[k] &- (k == 0 ? 0 : tp[k - 1])) / unit }
        }
        ChunkCodec.encodeSmallDictionary(cpus, into: &out)
        ChunkCodec.encodeSmallDictionary(threads, into: &out)
        ChunkCodec.encodeSmallDictionary(domains, into: &out)
        ChunkCodec.encodeIndices(localTemplates, distinct: localToGlobal.count, into: &out)
        // Split the row-ordered values into one column per (template, slot).
        let templates = localToGlobal.count
        var rows = [Int](repeating: 0, count: templates)
        for l in localTemplates { rows[Int(l)] += 1 }
        var base = [Int](repeating: 0, count: templates)
        var total = 0
        for l in 0..<templates { base[l] = total; total += rows[l] * localArity[l] }
        var columns = [Int64](repeating: 0, count: total)
        var next = [Int](repeating: 0, count: templates)
        var cursor = 0
        columns.withUnsafeMutableBufferPointer { c in
            values.withUnsafeBufferPointer { v in
                for l32 in localTemplates {
                    let l = Int(l32)
                    let r = next[l]
                    next[l] = r + 1
                    for s in 0..<localArity[l] { c[base[l] + s * rows[l] + r] = v[cursor + s] }
                    cursor += localArity[l]
                }
            }
        }
        for l in 0..<templates {
            for s in 0..<localArity[l] {
                ChunkCodec.encodeValueColumn(columns[(base[l] + s * rows[l])..<(base[l] + (s + 1) * rows[l])], into: &out)
            }
        }
        return out.bytes
    }
}
