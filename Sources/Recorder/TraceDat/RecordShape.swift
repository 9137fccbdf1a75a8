/// Where a record's body form (`CompiledFormat.fill`, `PluginForms`) writes the record's slot values
/// and its shape: the bytes its template depends on beyond the header key (see `TemplateMemo`).
/// Fixed buffers, allocated once per import: no per-record allocation, no uniqueness checks.
struct RecordShape {
    static let valueCapacity = 256
    static let shapeCapacity = 4096

    private(set) var values: UnsafeMutablePointer<Int64>?
    private(set) var bytes: UnsafeMutablePointer<UInt8>?
    private(set) var valueCount = 0
    private(set) var count = 0
    /// A write did not fit: the record goes the general way.
    private(set) var overflow = false

    init() {}

    static func allocate() -> RecordShape {
        var s = RecordShape()
        s.values = .allocate(capacity: valueCapacity)
        s.bytes = .allocate(capacity: shapeCapacity)
        // Initialized once: `TemplateMemo.hash` loads 8 bytes of a shorter shape and masks the rest.
        s.bytes!.initialize(repeating: 0, count: shapeCapacity)
        return s
    }

    mutating func deallocate() {
        values?.deallocate(); values = nil
        bytes?.deallocate(); bytes = nil
    }

    @inline(__always) mutating func reset() { valueCount = 0; count = 0; overflow = false }

    // (The writes below reach the buffers without a nil check — only a shape made by `allocate()` is
    // written — and their counts wrap: each stays within its capacity, checked first.)
    @inline(__always) mutating func value(_ v: Int64) {
        if valueCount < Self.valueCapacity { values.unsafelyUnwrapped[valueCount] = v; valueCount &+= 1 } else { overflow = true }
    }

    @inline(__always) mutating func byte(_ b: UInt8) {
        if count < Self.shapeCapacity { bytes.unsafelyUnwrapped[count] = b; count &+= 1 } else { overflow = true }
    }

    @inline(__always) mutating func word(_ w: UInt64) {
        if count &+ 8 <= Self.shapeCapacity {
            UnsafeMutableRawPointer(bytes.unsafelyUnwrapped + count).storeBytes(of: w, as: UInt64.self)
            count &+= 8
        } else {
            overflow = true
        }
    }

    /// Text, preceded by its length (so adjacent texts cannot run together).
    mutating func text(_ t: UnsafeRawBufferPointer) {
        guard count + 4 + t.count <= Self.shapeCapacity else { overflow = true; return }
        UnsafeMutableRawPointer(bytes! + count).storeBytes(of: UInt32(t.count), as: UInt32.self)
        count += 4
        if let base = t.baseAddress, t.count > 0 {
            UnsafeMutableRawPointer(bytes! + count).copyMemory(from: base, byteCount: t.count)
            count += t.count
        }
    }

    /// Room for `values` more values and `bytes` more shape bytes, checked once, written through a
    /// cursor (what `body` writes must fit in what it asked for); overflow when there is no room.
    @inline(__always)
    mutating func withRoom(values nv: Int, bytes nb: Int, _ body: (inout ShapeCursor) -> Void) -> Bool {
        guard valueCount &+ nv <= Self.valueCapacity, count &+ nb <= Self.shapeCapacity else { overflow = true; return false }
        var c = ShapeCursor(values: values.unsafelyUnwrapped + valueCount, bytes: bytes.unsafelyUnwrapped + count)
        body(&c)
        valueCount &+= c.valueCount
        count &+= c.byteCount
        return !overflow
    }

    var shapeBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: bytes, count: count) }
    var valueBuffer: UnsafeBufferPointer<Int64> { UnsafeBufferPointer(start: values, count: valueCount) }
}

/// Writes into room a `RecordShape` reserved (`withRoom`): stores and increments, no checks.
struct ShapeCursor {
    let values: UnsafeMutablePointer<Int64>
    let bytes: UnsafeMutablePointer<UInt8>
    private(set) var valueCount = 0
    private(set) var byteCount = 0

    init(values: UnsafeMutablePointer<Int64>, bytes: UnsafeMutablePointer<UInt8>) {
        self.values = values
        self.bytes = bytes
    }

    @inline(__always) mutating func value(_ v: Int64) { values[valueCount] = v; valueCount &+= 1 }
    @inline(__always) mutating func byte(_ b: UInt8) { bytes[byteCount] = b; byteCount &+= 1 }
    /// As `RecordShape.word`.
    @inline(__always) mutating func word(_ w: UInt64) {
        UnsafeMutableRawPointer(bytes + byteCount).storeBytes(of: w, as: UInt64.self)
        byteCount &+= 8
    }
}
