/// Fixed byte layouts of the `.irqt` container (docs/FORMAT.md §2–§5). All integers little-endian.
public enum FormatVersion {
    public static let major: UInt16 = 1
    public static let minor: UInt16 = 0
    public static var string: String { "\(major).\(minor)" }
}

public enum Layout {
    /// File magic: 0x89 "IRQT" CR LF 0x1A, in the manner of PNG's (catches text-mode mangling).
    static let fileMagic: [UInt8] = [0x89, 0x49, 0x52, 0x51, 0x54, 0x0D, 0x0A, 0x1A]
    static let fileHeaderFixed = 24
    static let chunkMagic: [UInt8] = Array("IRQC".utf8)
    static let chunkHeaderSize = 52
    static let footerMagic: [UInt8] = Array("IRQF".utf8)
    static let trailerMagic: [UInt8] = Array("IRQTEND!".utf8)
    static let trailerSize = 24
    static let indexEntrySize = 48
    /// Largest chunk payload a reader accepts (uncompressed or compressed): 64 MiB, so a damaged or
    /// hostile header cannot make the reader allocate more (writers make chunks of about 1 MiB;
    /// `--chunk-size` is capped at this).
    public static let maxChunkBytes = 64 << 20
    /// Largest event index (and event count) a reader accepts: 2^48, far beyond any real trace, so a
    /// damaged header or footer whose checksum happens to hold cannot overflow index arithmetic
    /// (found by fuzzing: a chunk header declaring firstEvent near 2^64).
    public static let maxEventIndex: UInt64 = 1 << 48
}

/// A chunk's fixed header (52 bytes).
struct ChunkHeader: Equatable {
    var firstEvent: UInt64
    var eventCount: UInt32
    var rawSize: UInt32
    var compressedSize: UInt32
    var minTime: Int64
    var maxTime: Int64
    var payloadCRC: UInt32

    func encode() -> [UInt8] {
        var s = ByteSink(capacity: Layout.chunkHeaderSize)
        s.append(Layout.chunkMagic)
        s.appendLE(UInt32(0)) // flags, reserved
        s.appendLE(firstEvent)
        s.appendLE(eventCount)
        s.appendLE(rawSize)
        s.appendLE(compressedSize)
        s.appendLE(minTime)
        s.appendLE(maxTime)
        s.appendLE(payloadCRC)
        s.appendLE(CRC32C.checksum(s.bytes))
        return s.bytes
    }

    /// Parses and checks a chunk header at `offset`; nil when the magic or checksum does not hold.
    static func parse(_ file: UnsafeRawBufferPointer, at offset: Int) -> ChunkHeader? {
        guard offset >= 0, offset + Layout.chunkHeaderSize <= file.count else { return nil }
        guard file[offset] == 0x49, file[offset + 1] == 0x52, file[offset + 2] == 0x51, file[offset + 3] == 0x43 else { return nil }
        let h = UnsafeRawBufferPointer(rebasing: file[offset..<offset + Layout.chunkHeaderSize])
        var c = ByteCursor(h, position: 4)
        do {
            let flags = try c.readLE(UInt32.self)
            let header = ChunkHeader(firstEvent: try c.readLE(UInt64.self), eventCount: try c.readLE(UInt32.self),
                                     rawSize: try c.readLE(UInt32.self), compressedSize: try c.readLE(UInt32.self),
                                     minTime: try c.readLE(Int64.self), maxTime: try c.readLE(Int64.self),
                                     payloadCRC: try c.readLE(UInt32.self))
            let crc = try c.readLE(UInt32.self)
            guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: h[0..<48])), flags == 0 else { return nil }
            guard Int(header.rawSize) <= Layout.maxChunkBytes, Int(header.compressedSize) <= Layout.maxChunkBytes,
                  header.firstEvent <= Layout.maxEventIndex else { return nil }
            return header
        } catch { return nil }
    }
}

/// One footer index entry (48 bytes).
struct IndexEntry: Equatable {
    var offset: UInt64
    var firstEvent: UInt64
    var eventCount: UInt32
    var rawSize: UInt32
    var compressedSize: UInt32
    var minTime: Int64
    var maxTime: Int64

    func encode(into s: inout ByteSink) {
        s.appendLE(offset)
        s.appendLE(firstEvent)
        s.appendLE(eventCount)
        s.appendLE(rawSize)
        s.appendLE(compressedSize)
        s.appendLE(UInt32(0))
        s.appendLE(minTime)
        s.appendLE(maxTime)
    }

    static func decode(_ c: inout ByteCursor) throws(DecodeError) -> IndexEntry {
        let offset = try c.readLE(UInt64.self)
        let first = try c.readLE(UInt64.self)
        let count = try c.readLE(UInt32.self)
        let raw = try c.readLE(UInt32.self)
        let comp = try c.readLE(UInt32.self)
        _ = try c.readLE(UInt32.self)
        let minTime = try c.readLE(Int64.self), maxTime = try c.readLE(Int64.self)
        // Bounds as for chunk headers: nothing a reader later turns into an Int may overflow it.
        // (Checked after the whole entry is read, so the next entry starts where it should.)
        guard offset <= UInt64(Int.max), first <= Layout.maxEventIndex,
              Int(raw) <= Layout.maxChunkBytes, Int(comp) <= Layout.maxChunkBytes else {
            throw DecodeError(offset: c.position - Layout.indexEntrySize, "index entry out of range")
        }
        return IndexEntry(offset: offset, firstEvent: first, eventCount: count, rawSize: raw, compressedSize: comp,
                          minTime: minTime, maxTime: maxTime)
    }
}
