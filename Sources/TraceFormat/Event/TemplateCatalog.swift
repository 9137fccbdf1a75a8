#if canImport(Glibc)
import Glibc
#endif
/// Interns templates by (name, skeleton) and hands out dense ids. One catalog serves a writer or a
/// reader; chunks carry the templates they use, so a catalog is rebuilt from any intact chunk.
///
/// A catalog is used from one thread at a time, so its properties skip Swift's dynamic exclusivity
/// checks (`@exclusivity(unchecked)`): `record` looks up every line's template here, and the checks
/// (`swift_beginAccess` and its access set) were ~4 % of an import.
public final class TemplateCatalog {
    @exclusivity(unchecked) public private(set) var templates: [EventTemplate] = []
    /// Hash of (name, skeleton) → ids.
    @exclusivity(unchecked) private var index = HashIndex()
    @exclusivity(unchecked) private var nameBytes: [[UInt8]] = []
    /// The templates' skeletons again, so a lookup compares bytes without copying a template out.
    @exclusivity(unchecked) private var skeletons: [[UInt8]] = []

    @inline(__always)
    static func equal(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.isEmpty || a.withUnsafeBytes { memcmp($0.baseAddress!, b.baseAddress!, a.count) == 0 })
    }

    public init() {}

    public var count: Int { templates.count }
    /// Slot count of each template, by id (kept apart so hot loops need not copy templates).
    @exclusivity(unchecked) public private(set) var valueCounts: [Int] = []
    @inline(__always) public func valueCount(_ id: UInt32) -> Int { valueCounts[Int(id)] }
    public subscript(id: UInt32) -> EventTemplate { templates[Int(id)] }
    /// The skeleton of template `id`, without copying the template out.
    @inline(__always)
    public func withSkeleton<R>(_ id: UInt32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        skeletons.withUnsafeBufferPointer { all in all[Int(id)].withUnsafeBufferPointer(body) }
    }

    @inline(__always)
    static func hash(name: UnsafeRawBufferPointer, skeleton: UnsafeRawBufferPointer) -> UInt64 {
        mix(skeleton, seed: mix(name, seed: 0x9E37_79B9_7F4A_7C15))
    }

    /// 8 bytes at a time, multiply-xorshift mixing (not cryptographic; collisions are checked).
    /// Also the trace.dat importer's template memo hash.
    @inlinable @inline(__always)
    public static func mix(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var h = seed ^ UInt64(bytes.count) &* 0xFF51_AFD7_ED55_8CCD
        var i = 0
        let n = bytes.count
        while n - i >= 8 {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ w) &* 0x9FB2_1C65_1E98_DF25
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        if i < n && n >= 8 {
            // The last 1–7 bytes from one load of the last 8, the bytes already mixed shifted out
            // (on a little-endian host, the value the byte loop below makes).
            tail = bytes.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) >> UInt64(8 * (8 - (n - i)))
        } else {
            var shift: UInt64 = 0
            while i < n { tail |= UInt64(bytes[i]) << shift; shift += 8; i += 1 }
        }
        h = (h ^ tail) &* 0x9FB2_1C65_1E98_DF25
        return h ^ (h >> 32)
    }

    /// The id of the template with this name and skeleton, or nil when it is not in the catalog.
    public func lookup(name: UnsafeRawBufferPointer, skeleton: UnsafeRawBufferPointer) -> UInt32? {
        let h = Self.hash(name: name, skeleton: skeleton)
        return index.first(h) { id in Self.equal(skeletons[Int(id)], skeleton) && Self.equal(nameBytes[Int(id)], name) }
    }

    /// The id of the template with this name and skeleton, adding it when new.
    public func intern(name: UnsafeRawBufferPointer, skeleton: UnsafeRawBufferPointer) throws(DecodeError) -> UInt32 {
        let h = Self.hash(name: name, skeleton: skeleton)
        if let id = index.first(h, where: { id in Self.equal(skeletons[Int(id)], skeleton) && Self.equal(nameBytes[Int(id)], name) }) {
            return id
        }
        let t = try EventTemplate(name: String(decoding: name, as: UTF8.self), skeleton: Array(skeleton))
        let id = UInt32(templates.count)
        templates.append(t)
        valueCounts.append(t.valueCount)
        nameBytes.append(Array(name))
        skeletons.append(t.skeleton)
        index.insert(h, id)
        return id
    }

    public func intern(name: String, skeleton: [UInt8]) throws -> UInt32 {
        let n = Array(name.utf8)
        return try n.withUnsafeBytes { nb in
            try skeleton.withUnsafeBytes { sb in try intern(name: nb, skeleton: sb) }
        }
    }
}
