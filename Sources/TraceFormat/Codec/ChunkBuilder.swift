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
///
/// A class with its per-event columns in ``RawColumn``s: appending an event is a few stores, with
/// no copy-on-write uniqueness check per column (every importer and the simulator append through
/// here). One thread at a time owns a builder: the writer's, then the encoder's after a hand-over.
final class ChunkBuilder {
    @exclusivity(unchecked) private(set) var times = RawColumn<Int64>()
    @exclusivity(unchecked) private(set) var cpus = RawColumn<Int32>()
    @exclusivity(unchecked) private(set) var threads = RawColumn<Int32>()
    @exclusivity(unchecked) private(set) var domains = RawColumn<UInt8>()
    @exclusivity(unchecked) private(set) var localTemplates = RawColumn<UInt32>()
    /// Slot values of every event, event after event (split into columns when the chunk is encoded).
    @exclusivity(unchecked) private(set) var values = RawColumn<Int64>()
    /// Catalog id of each local template.
    @exclusivity(unchecked) private(set) var localToGlobal: [UInt32] = []
    /// Catalog id → local index + 1 (0: not used in this chunk yet).
    @exclusivity(unchecked) private var globalToLocal: [UInt32] = []
    /// Slot count of each local template.
    @exclusivity(unchecked) private var localArity: [Int] = []
    private var stringIndex: [[UInt8]: Int64] = [:]
    private var strings: [[UInt8]] = []
    @exclusivity(unchecked) private(set) var estimatedSize = 0
    /// Room reserved in each per-event column (`times` … `localTemplates`, which hold one entry an
    /// event): an append checks it once for all five.
    @exclusivity(unchecked) private var rowCapacity = 0
    /// Events appended: `times` counts them as they come; `cpus`, `threads`, `domains` and
    /// `localTemplates` are stored at the same index and counted once, by ``syncRows()``, before
    /// they are read (a count load and store less per column per event).
    @exclusivity(unchecked) private var rowsSynced = true

    var count: Int { times.count }

    /// Earliest and latest event time of the chunk (`.max`/`.min` when empty): scanned when the
    /// chunk is written, not tracked per event.
    var minTime: Int64 { times.buffer.min() ?? .max }
    var maxTime: Int64 { times.buffer.max() ?? .min }

    /// Sets the counts of the columns `append` stores into without counting.
    private func syncRows() {
        guard !rowsSynced else { return }
        let n = times.count
        cpus.setCount(n); threads.setCount(n); domains.setCount(n); localTemplates.setCount(n)
        rowsSynced = true
    }

    init() {}

    deinit {
        times.deallocate(); cpus.deallocate(); threads.deallocate(); domains.deallocate()
        localTemplates.deallocate(); values.deallocate()
    }

    func reset() {
        times.removeAll()
        cpus.removeAll()
        threads.removeAll()
        domains.removeAll()
        localTemplates.removeAll()
        for g in localToGlobal { globalToLocal[Int(g)] = 0 }
        localToGlobal.removeAll(keepingCapacity: true)
        values.removeAll()
        localArity.removeAll(keepingCapacity: true)
        stringIndex.removeAll(keepingCapacity: true)
        strings.removeAll(keepingCapacity: true)
        estimatedSize = 0
        rowsSynced = true
    }

    /// Swaps every column and table with `other`'s (O(1)): how a filled chunk is handed to the
    /// encoder's builder and an emptied one taken back, while each writer keeps its own object.
    func exchange(with other: ChunkBuilder) {
        syncRows(); other.syncRows()
        swap(&times, &other.times); swap(&cpus, &other.cpus); swap(&threads, &other.threads)
        swap(&domains, &other.domains); swap(&localTemplates, &other.localTemplates); swap(&values, &other.values)
        swap(&localToGlobal, &other.localToGlobal); swap(&globalToLocal, &other.globalToLocal)
        swap(&localArity, &other.localArity); swap(&stringIndex, &other.stringIndex); swap(&strings, &other.strings)
        swap(&estimatedSize, &other.estimatedSize)
        swap(&rowCapacity, &other.rowCapacity)
    }

    /// Chunk-local index of a string (string slots store it).
    func internString(_ bytes: [UInt8]) -> Int64 {
        if let k = stringIndex[bytes] { return k }
        let k = Int64(strings.count)
        strings.append(bytes)
        stringIndex[bytes] = k
        estimatedSize += bytes.count + 2
        return k
    }

    @inline(__always)
    func append(time: Int64, cpu: Int32, thread: Int32, domain: UInt8, template: UInt32,
                arity: Int, values v: UnsafeBufferPointer<Int64>) {
        // Wrapping sums: a size is at most 10 bytes a value (no overflow checks in the per-value loop).
        var size = appendRow(time: time, cpu: cpu, thread: thread, domain: domain, template: template, arity: arity)
        if arity > 0 {
            let slots = values.appendUninitialized(arity)
            for s in 0..<arity {
                let x = v[s]
                slots[s] = x
                size &+= varintSize(zigzagEncode(x))
            }
        }
        estimatedSize &+= size
    }

    /// ``append(time:cpu:thread:domain:template:arity:values:)`` of `arity` values whose varints take
    /// `valueBytes` (``encodedSize(_:)``, computed once by a caller that appends them repeatedly).
    @inline(__always)
    func append(time: Int64, cpu: Int32, thread: Int32, domain: UInt8, template: UInt32,
                arity: Int, values v: UnsafeBufferPointer<Int64>, valueBytes: Int) {
        let size = appendRow(time: time, cpu: cpu, thread: thread, domain: domain, template: template, arity: arity)
        if arity > 0 {
            let slots = values.appendUninitialized(arity)
            for s in 0..<arity { slots[s] = v[s] }
        }
        estimatedSize &+= size &+ valueBytes
    }

    /// The varint bytes of `values` in the chunk's size estimate.
    static func encodedSize(_ values: UnsafeBufferPointer<Int64>) -> Int {
        var size = 0
        for x in values { size &+= varintSize(zigzagEncode(x)) }
        return size
    }

    /// One event's row (its per-event columns); the estimate's share of it (its time delta's varint
    /// and the row's fixed bytes).
    @inline(__always)
    private func appendRow(time: Int64, cpu: Int32, thread: Int32, domain: UInt8, template: UInt32, arity: Int) -> Int {
        let g = Int(template)
        if g >= globalToLocal.count { globalToLocal.append(contentsOf: repeatElement(0, count: g + 1 - globalToLocal.count)) }
        var local = globalToLocal.withUnsafeBufferPointer { $0[g] }   // (g < count: made so above)
        if local == 0 {
            localToGlobal.append(template)
            localArity.append(arity)
            local = UInt32(localToGlobal.count)
            globalToLocal[g] = local
            estimatedSize += 64
        }
        let n = times.count
        if n == rowCapacity { reserveRows(n + 1) }
        let previous = n == 0 ? time : times[n &- 1]
        times.appendUnchecked(time)
        cpus.store(cpu, at: n)
        threads.store(thread, at: n)
        domains.store(domain, at: n)
        localTemplates.store(local &- 1, at: n)
        rowsSynced = false
        return 2 &+ varintSize(zigzagEncode(time &- previous))
    }

    @inline(never)
    private func reserveRows(_ needed: Int) {
        syncRows()      // growing copies `count` elements
        rowCapacity = max(needed, rowCapacity * 2, 1024)
        times.reserve(rowCapacity); cpus.reserve(rowCapacity); threads.reserve(rowCapacity)
        domains.reserve(rowCapacity); localTemplates.reserve(rowCapacity)
    }

    /// The templates this chunk uses, in local order (what ``encode(templates:)`` needs of the catalog).
    func localTemplateList(_ catalog: TemplateCatalog) -> [EventTemplate] { localToGlobal.map { catalog[$0] } }

    /// The chunk payload before compression; `templates` from ``localTemplateList(_:)`` (taken on the
    /// thread that owns the catalog, so the encoding may run on another).
    func encode(templates used: [EventTemplate]) -> [UInt8] {
        syncRows()
        var out = ByteSink(capacity: estimatedSize + 1024)
        out.bytes.append(ChunkCodec.version)
        out.appendVarint(localToGlobal.count)
        for t in used {
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
        for t in times.buffer where t != 0 {
            while unitExp > 0 && t % unit != 0 { unitExp -= 1; unit /= 10 }
            if unitExp == 0 { break }
        }
        out.appendVarint(unitExp)
        var timeSize = 0
        var prev: Int64 = 0
        for t in times.buffer { timeSize += varintSize(zigzagEncode((t &- prev) / unit)); prev = t }
        let tp = times.buffer
        out.appendZigzags(count: n, size: timeSize) { k in (tp[k] &- (k == 0 ? 0 : tp[k - 1])) / unit }
        ChunkCodec.encodeSmallDictionary(cpus.buffer, into: &out)
        ChunkCodec.encodeSmallDictionary(threads.buffer, into: &out)
        ChunkCodec.encodeSmallDictionary(domains.buffer, into: &out)
        ChunkCodec.encodeIndices(localTemplates.buffer, distinct: localToGlobal.count, into: &out)
        // Split the row-ordered values into one column per (template, slot): the events' value
        // offsets grouped by template (a counting sort, 4 bytes an event), then each column gathered
        // into one reused buffer — not every column at once, which would double the values' memory
        // while a chunk is encoded.
        let templates = localToGlobal.count
        var rows = [Int](repeating: 0, count: templates)
        for l in localTemplates.buffer { rows[Int(l)] += 1 }
        var first = [Int](repeating: 0, count: templates + 1)
        for l in 0..<templates { first[l + 1] = first[l] + rows[l] }
        var order = [UInt32](repeating: 0, count: n)
        var next = first
        var cursor = 0
        for l32 in localTemplates.buffer {
            let l = Int(l32)
            order[next[l]] = UInt32(cursor)
            next[l] += 1
            cursor += localArity[l]
        }
        let v = values.buffer
        var column = [Int64](repeating: 0, count: rows.max() ?? 0)
        for l in 0..<templates {
            let count = rows[l]
            for s in 0..<localArity[l] {
                column.withUnsafeMutableBufferPointer { c in
                    order.withUnsafeBufferPointer { o in
                        for k in 0..<count { c[k] = v[Int(o[first[l] + k]) + s] }
                    }
                }
                ChunkCodec.encodeValueColumn(column[0..<count], into: &out)
            }
        }
        return out.bytes
    }
}
