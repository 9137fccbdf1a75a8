import TraceFormat

#if canImport(Glibc)
import Glibc
#endif

/// Template ids of record shapes already seen: (header, shape bytes) → template id.
///
/// A record's template (its skeleton) is fixed by its header skeleton and event (the header key:
/// `TraceDatImport` interns header skeletons by content, so tasks of one name share them) and by
/// what its body form writes as the shape (`RecordShape`): the padding of width-formatted numbers,
/// the class each number falls in when the tokenizer would read it, the text of string
/// conversions. Once a shape has been stored the normal way, its template id is found here without
/// building, hashing or comparing a skeleton.
///
/// Open addressing over a flat arena of shape bytes; keys are compared exactly (no hash trust).
struct TemplateMemo {
    private struct Entry {
        var hash: UInt64
        var header: UInt64
        var shapeStart: Int32
        var shapeCount: Int32
        var template: UInt32
    }
    private var entries: [Entry] = []
    /// Entry index + 1 per table slot; 0 = empty.
    private var table: [Int32]
    private var mask: Int
    private var arena: [UInt8] = []
    /// Entry index + 1 of the last shape found per slot of a hash's top bits (0 = none): a small
    /// table that stays in cache, tried first (the open-addressed table and its entries are large
    /// and probed at random, a cache miss each).
    private var recent = [Int32](repeating: 0, count: 1024)

    init() {
        table = Array(repeating: 0, count: 1024)
        mask = 1023
        entries.reserveCapacity(512)
        arena.reserveCapacity(1 << 14)
    }

    var count: Int { entries.count }

    /// The memo's hash of (header key, shape bytes): the catalog's byte mixer (keys are compared exactly).
    @inline(__always)
    static func hash(_ header: UInt64, _ shape: UnsafeRawBufferPointer) -> UInt64 {
        TemplateCatalog.mix(shape, seed: header &* 0x9E37_79B9_7F4A_7C15)
    }

    /// ``hash(_:_:)`` of a record's shape, the same value: a shape shorter than 8 bytes (most
    /// `kvm_emulate_insn` shapes) is read by one masked load from its buffer, which always holds
    /// `RecordShape.shapeCapacity` bytes, where `mix` reads it a byte at a time.
    @inline(__always)
    static func hash(_ header: UInt64, _ shape: RecordShape) -> UInt64 {
        let n = shape.count
        guard n < 8, let base = shape.bytes else { return hash(header, shape.shapeBytes) }
        let seed = header &* 0x9E37_79B9_7F4A_7C15
        var h = seed ^ UInt64(n) &* 0xFF51_AFD7_ED55_8CCD
        // The first n bytes as a little-endian number (what `mix`'s byte loop makes).
        let w = UInt64(littleEndian: UnsafeRawPointer(base).loadUnaligned(as: UInt64.self))
        let tail = n == 0 ? 0 : w & (UInt64.max &>> UInt64(truncatingIfNeeded: 64 &- 8 &* n))
        h = (h ^ tail) &* 0x9FB2_1C65_1E98_DF25
        return h ^ (h >> 32)
    }

    @inline(__always)
    func lookup(header: UInt64, shape: UnsafeRawBufferPointer, hash h: UInt64) -> UInt32? {
        probe(header: header, shape: shape, hash: h)?.0
    }

    /// `lookup`, trying the recently found shapes first (and remembering what it finds).
    @inline(__always)
    mutating func find(header: UInt64, shape: UnsafeRawBufferPointer, hash h: UInt64) -> UInt32? {
        let r = Int(truncatingIfNeeded: h >> 54)
        let k = recent.withUnsafeBufferPointer { $0[r] }
        if k != 0, let t = entries.withUnsafeBufferPointer({ es in
            arena.withUnsafeBytes { a in Self.matches(es[Int(k) - 1], header, shape, h, a) ? es[Int(k) - 1].template : nil }
        }) {
            return t
        }
        guard let (t, found) = probe(header: header, shape: shape, hash: h) else { return nil }
        recent.withUnsafeMutableBufferPointer { $0[r] = found }
        return t
    }

    @inline(__always)
    private static func matches(_ e: Entry, _ header: UInt64, _ shape: UnsafeRawBufferPointer, _ h: UInt64,
                                _ a: UnsafeRawBufferPointer) -> Bool {
        e.hash == h && e.header == header && Int(e.shapeCount) == shape.count
            && (shape.count == 0 || memcmp(a.baseAddress! + Int(e.shapeStart), shape.baseAddress!, shape.count) == 0)
    }

    /// The template and entry index + 1 of (header, shape).
    @inline(__always)
    private func probe(header: UInt64, shape: UnsafeRawBufferPointer, hash h: UInt64) -> (UInt32, Int32)? {
        table.withUnsafeBufferPointer { t in
            entries.withUnsafeBufferPointer { es in
                arena.withUnsafeBytes { a in
                    var i = Int(truncatingIfNeeded: h) & mask
                    while true {
                        let k = t[i]
                        if k == 0 { return nil }
                        if Self.matches(es[Int(k) - 1], header, shape, h, a) { return (es[Int(k) - 1].template, k) }
                        i = (i + 1) & mask
                    }
                }
            }
        }
    }

    mutating func insert(header: UInt64, shape: UnsafeRawBufferPointer, hash h: UInt64, template: UInt32) {
        guard lookup(header: header, shape: shape, hash: h) == nil else { return }
        if (entries.count + 1) * 2 > table.count { grow() }
        entries.append(Entry(hash: h, header: header, shapeStart: Int32(arena.count), shapeCount: Int32(shape.count), template: template))
        arena.append(contentsOf: shape)
        place(entries.count - 1)
    }

    private mutating func place(_ k: Int) {
        var i = Int(truncatingIfNeeded: entries[k].hash) & mask
        while table[i] != 0 { i = (i + 1) & mask }
        table[i] = Int32(k + 1)
    }

    private mutating func grow() {
        table = Array(repeating: 0, count: table.count * 2)
        mask = table.count - 1
        for k in entries.indices { place(k) }
    }
}
