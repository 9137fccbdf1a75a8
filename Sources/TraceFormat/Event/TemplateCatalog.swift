#if canImport(Glibc)
import Glibc
#endif
/// Interns templates by (name, skeleton) and hands out dense ids. One catalog serves a writer or a
/// reader; chunks carry the templates they use, so a catalog is rebuilt from any intact chunk.
public final class TemplateCatalog {
    public private(set) var templates: [EventTemplate] = []
    /// Hash of (name, skeleton) → id; collisions probe to the next hash value.
    private var index: [UInt64: UInt32] = [:]
    private var nameBytes: [[UInt8]] = []

    @inline(__always)
    static func equal(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.isEmpty || a.withUnsafeBytes { memcmp($0.baseAddress!, b.baseAddress!, a.count) == 0 })
    }

    public init() {}

    public var count: Int { templates.count }
    /// Slot count of each template, by id (kept apart so hot loops need not copy templates).
    public private(set) var valueCounts: [Int] = []
    @inline(__always) public func valueCount(_ id: UInt32) -> Int { valueCounts[Int(id)] }
    public subscript(id: UInt32) -> EventTemplate { templates[Int(id)] }

    @inline(__always)
    static func hash(name: UnsafeRawBufferPointer, skeleton: UnsafeRawBufferPointer) -> UInt64 {
        // FNV-1a over name, a separator, then the skeleton.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h = (h ^ 0x1FF) &* 0x100_0000_01b3
        for b in skeleton { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// The id of the template with this name and skeleton, adding it when new.
    public func intern(name: UnsafeRawBufferPointer, skeleton: UnsafeRawBufferPointer) throws(DecodeError) -> UInt32 {
        var h = Self.hash(name: name, skeleton: skeleton)
        while let id = index[h] {
            let t = templates[Int(id)]
            if Self.equal(t.skeleton, skeleton) && Self.equal(nameBytes[Int(id)], name) { return id }
            h &+= 1
        }
        let t = try EventTemplate(name: String(decoding: name, as: UTF8.self), skeleton: Array(skeleton))
        let id = UInt32(templates.count)
        templates.append(t)
        valueCounts.append(t.valueCount)
        nameBytes.append(Array(name))
        index[h] = id
        return id
    }

    public func intern(name: String, skeleton: [UInt8]) throws -> UInt32 {
        let n = Array(name.utf8)
        return try n.withUnsafeBytes { nb in
            try skeleton.withUnsafeBytes { sb in try intern(name: nb, skeleton: sb) }
        }
    }
}
