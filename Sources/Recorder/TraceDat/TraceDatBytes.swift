/// Errors thrown by the trace.dat reader: where in the file (byte offset) and what is wrong.
public struct TraceDatError: Error, CustomStringConvertible, Sendable {
    public var path: String
    /// File byte offset of the problem (for data inside a compressed block: the block's offset).
    public var offset: Int
    public var message: String
    public var description: String { "\(path): byte \(offset): \(message)" }

    public init(path: String, offset: Int, message: String) {
        self.path = path
        self.offset = offset
        self.message = message
    }
}

/// Internal error before the path is attached.
struct DatFault: Error {
    var offset: Int
    var message: String
}

/// Bounds-checked reader over raw bytes in the file's byte order. `fileBase` maps positions to file
/// offsets; for decompressed data it is nil and errors point at `blockOffset` instead, with the
/// position inside the decompressed block in the message.
struct DatReader {
    let buf: UnsafeRawBufferPointer
    var pos: Int
    let big: Bool
    let fileBase: Int?
    let blockOffset: Int
    let context: String

    init(_ buf: UnsafeRawBufferPointer, pos: Int = 0, big: Bool, fileBase: Int?, blockOffset: Int = 0, context: String = "") {
        self.buf = buf
        self.pos = pos
        self.big = big
        self.fileBase = fileBase
        self.blockOffset = blockOffset
        self.context = context
    }

    var remaining: Int { buf.count - pos }
    var atEnd: Bool { pos >= buf.count }

    func fault(_ message: String, at p: Int? = nil) -> DatFault {
        let at = p ?? pos
        if let base = fileBase {
            return DatFault(offset: base + at, message: context.isEmpty ? message : "\(message) (\(context))")
        }
        return DatFault(offset: blockOffset, message: "\(message) (byte \(at) of \(context))")
    }

    func fileOffset(_ p: Int) -> Int { (fileBase ?? blockOffset) + (fileBase == nil ? 0 : p) }

    @inline(__always) mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws(DatFault) {
        if n < 0 || n > buf.count - pos {
            throw fault("truncated: \(what()) needs \(n) bytes, \(max(0, buf.count - pos)) left")
        }
    }

    mutating func u8(_ what: @autoclosure () -> String) throws(DatFault) -> UInt8 {
        try need(1, what())
        defer { pos += 1 }
        return buf[pos]
    }

    mutating func u16(_ what: @autoclosure () -> String) throws(DatFault) -> UInt16 {
        try need(2, what())
        defer { pos += 2 }
        return DatReader.load16(buf, pos, big)
    }

    mutating func u32(_ what: @autoclosure () -> String) throws(DatFault) -> UInt32 {
        try need(4, what())
        defer { pos += 4 }
        return DatReader.load32(buf, pos, big)
    }

    mutating func u64(_ what: @autoclosure () -> String) throws(DatFault) -> UInt64 {
        try need(8, what())
        defer { pos += 8 }
        return DatReader.load64(buf, pos, big)
    }

    /// Reads a size field and checks it fits in what is left.
    mutating func size64(_ what: @autoclosure () -> String) throws(DatFault) -> Int {
        let start = pos
        let v = try u64(what())
        guard v <= UInt64(buf.count - pos) else {
            throw fault("\(what()) size \(v) exceeds the \(buf.count - pos) bytes left", at: start)
        }
        return Int(v)
    }

    mutating func size32(_ what: @autoclosure () -> String) throws(DatFault) -> Int {
        let start = pos
        let v = try u32(what())
        guard Int(v) <= buf.count - pos else {
            throw fault("\(what()) size \(v) exceeds the \(buf.count - pos) bytes left", at: start)
        }
        return Int(v)
    }

    mutating func bytes(_ n: Int, _ what: @autoclosure () -> String) throws(DatFault) -> UnsafeRawBufferPointer {
        try need(n, what())
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: buf[pos..<(pos + n)])
    }

    mutating func array(_ n: Int, _ what: @autoclosure () -> String) throws(DatFault) -> [UInt8] {
        [UInt8](try bytes(n, what()))
    }

    /// A NUL-terminated string (the NUL is consumed).
    mutating func cString(_ what: @autoclosure () -> String) throws(DatFault) -> String {
        var e = pos
        while e < buf.count, buf[e] != 0 { e += 1 }
        guard e < buf.count else { throw fault("unterminated string (\(what()))") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: buf[pos..<e]), as: UTF8.self)
        pos = e + 1
        return s
    }

    mutating func skip(_ n: Int, _ what: @autoclosure () -> String) throws(DatFault) {
        try need(n, what())
        pos += n
    }

    @inline(__always) static func load16(_ b: UnsafeRawBufferPointer, _ p: Int, _ big: Bool) -> UInt16 {
        let v = b.loadUnaligned(fromByteOffset: p, as: UInt16.self)
        return big ? UInt16(bigEndian: v) : UInt16(littleEndian: v)
    }

    @inline(__always) static func load32(_ b: UnsafeRawBufferPointer, _ p: Int, _ big: Bool) -> UInt32 {
        let v = b.loadUnaligned(fromByteOffset: p, as: UInt32.self)
        return big ? UInt32(bigEndian: v) : UInt32(littleEndian: v)
    }

    @inline(__always) static func load64(_ b: UnsafeRawBufferPointer, _ p: Int, _ big: Bool) -> UInt64 {
        let v = b.loadUnaligned(fromByteOffset: p, as: UInt64.self)
        return big ? UInt64(bigEndian: v) : UInt64(littleEndian: v)
    }

    /// The mask that reads a little-endian field of `size` bytes from an 8-byte load; 0 when it
    /// cannot (big-endian files, sizes tep_read_number does not read).
    static func loadMask(_ size: Int, big: Bool) -> UInt64 {
        guard !big else { return 0 }
        switch size {
        case 1: return 0xFF
        case 2: return 0xFFFF
        case 4: return 0xFFFF_FFFF
        case 8: return .max
        default: return 0
        }
    }

    /// A field of `size` bytes at `offset`, 0 past the record's end (`number` under a bounds check):
    /// one 8-byte load and `loadMask` when the mask allows it and 8 bytes are left from the field on
    /// (no switch on the size; the record's hot fields are read per record).
    @inline(__always)
    static func field(_ d: UnsafeRawBufferPointer, _ offset: Int, _ size: Int, loadMask: UInt64, _ big: Bool) -> UInt64 {
        if loadMask != 0 && d.count &- offset >= 8 { return d.loadUnaligned(fromByteOffset: offset, as: UInt64.self) & loadMask }
        return offset + size <= d.count ? number(d, offset, size, big) : 0
    }

    /// `tep_read_number`: sizes other than 1, 2, 4, 8 read as 0.
    @inline(__always) static func number(_ b: UnsafeRawBufferPointer, _ p: Int, _ size: Int, _ big: Bool) -> UInt64 {
        switch size {
        case 1: return UInt64(b[p])
        case 2: return UInt64(load16(b, p, big))
        case 4: return UInt64(load32(b, p, big))
        case 8: return load64(b, p, big)
        default: return 0
        }
    }
}

extension Array where Element == UInt8 {
    @inline(__always) mutating func append(ascii s: StaticString) {
        s.withUTF8Buffer { append(contentsOf: $0) }
    }
    @inline(__always) mutating func append(string s: String) {
        var s = s
        s.withUTF8 { append(contentsOf: $0) }
    }
    @inline(__always) mutating func appendSpaces(_ n: Int) {
        if n > 0 { append(contentsOf: repeatElement(0x20, count: n)) }
    }
}

/// `withUnsafeBytes` for code that throws `DatFault` (typed throws).
@inline(__always) func withDatBytes<R>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(DatFault) -> R) throws(DatFault) -> R {
    do {
        return try a.withUnsafeBytes { (p: UnsafeRawBufferPointer) throws -> R in try body(p) }
    } catch let f as DatFault {
        throw f
    } catch {
        throw DatFault(offset: 0, message: "\(error)")
    }
}

/// Appends the NUL-terminated string at `off` (bounded by the buffer end).
@inline(__always) func appendCString(_ d: UnsafeRawBufferPointer, _ off: Int, _ s: inout [UInt8]) {
    var k = off
    while k < d.count, d[k] != 0 { k += 1 }
    if k > off { s.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[off..<k])) }
}
