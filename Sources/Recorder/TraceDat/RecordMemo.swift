/// Records seen before, byte for byte: (header key, record bytes) → template id and slot values.
///
/// What a side-effect-free body form gives (`CompiledFormat.fill`, `kvm_emulate_insn`'s form) is a
/// function of the record's bytes alone, and the template is a function of that and the header key
/// (`TemplateMemo`): a record identical to one stored before, under the same header key, is the
/// same event at another time. Real traces repeat records heavily — an emulated MMIO instruction at
/// the same guest address, a syscall return, an APIC register write — so the importer looks here
/// before running the form, hashing its shape and looking the shape up (~250 instructions of a
/// `kvm_emulate_insn` record). Only what the memo way stored, not due for verification, enters.
/// (The forms' values are numbers: never an index into a chunk's string table, which would not
/// outlive the chunk.)
///
/// Direct-mapped: each slot holds the last record hashed to it. Keys are compared exactly (header,
/// length and every byte), so a collision costs a miss, never a wrong event. An event whose records
/// rarely repeat (`sys_enter`'s pointer arguments) stops being looked up after `trial` tries.
struct RecordMemo {
    static let slotCount = 4096
    /// Longest record kept (bytes; a multiple of 8).
    static let maxBytes = 64
    /// Most slot values kept.
    static let maxValues = 16
    /// Tries per event before a poor hit rate turns the memo off for it.
    static let trial: UInt32 = 4096

    // Slot layout: header (8), length (4), template (4), value count (4), the values' encoded size (4),
    // bytes, values.
    private static let bytesOffset = 24
    private static let valuesOffset = bytesOffset + maxBytes
    private static let stride = valuesOffset + maxValues * 8

    private var slots: UnsafeMutableRawPointer?
    /// Per event id: look-ups and finds while on trial; `tries` is `.max` for an event whose trial
    /// ended with too few found (off).
    private var tries: [UInt32] = []
    private var hits: [UInt32] = []
    private(set) var hitCount = 0

    init() {}

    /// Memory for `events` event ids (the ids of the file's formats: at most `maxID + 1`).
    static func allocate(events: Int) -> RecordMemo {
        var m = RecordMemo()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: slotCount * stride, alignment: 16)
        // Length -1: no record matches an empty slot.
        for k in 0..<slotCount {
            (raw + k * stride).storeBytes(of: 0, as: UInt64.self)
            (raw + k * stride + 8).storeBytes(of: -1, as: Int32.self)
            // (Handed to the writer as `Int64`s: bound so, and written by raw copies.)
            (raw + k * stride + valuesOffset).bindMemory(to: Int64.self, capacity: maxValues)
        }
        m.slots = raw
        m.tries = Array(repeating: 0, count: events)
        m.hits = Array(repeating: 0, count: events)
        return m
    }

    mutating func deallocate() {
        slots?.deallocate()
        slots = nil
    }

    /// Whether records of event `id` (below the count given to `allocate`) are looked up.
    @inline(__always)
    func isOn(_ id: Int) -> Bool { slots != nil && tries.withUnsafeBufferPointer { $0[id] } != .max }

    /// The slot a record hashes to (with its header key), or -1 for a record not kept: too long, or
    /// not whole 4-byte words (the ring buffer's records are; a damaged length may not be — the
    /// loads below read whole words).
    @inline(__always)
    func slot(header: UInt64, _ d: UnsafeRawBufferPointer) -> Int {
        let n = d.count
        guard n <= Self.maxBytes, n & 3 == 0, let p = d.baseAddress else { return -1 }
        var h = (header ^ UInt64(truncatingIfNeeded: n)) &* 0x9E37_79B9_7F4A_7C15
        var k = 0
        while k &+ 8 <= n {
            h = (h ^ p.loadUnaligned(fromByteOffset: k, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            k &+= 8
        }
        if k < n {
            // (Whole 4-byte words: one word left.)
            h = (h ^ UInt64(p.loadUnaligned(fromByteOffset: k, as: UInt32.self))) &* 0xC4CE_B9FE_1A85_EC53
        }
        return Int(truncatingIfNeeded: (h ^ (h >> 31)) >> 52)   // 12 bits: `slotCount`
    }

    /// The template and values stored in `slot` when they were stored for exactly this record.
    @inline(__always)
    mutating func find(slot: Int, header: UInt64, _ d: UnsafeRawBufferPointer, event id: Int)
        -> (template: UInt32, values: UnsafeBufferPointer<Int64>, valueBytes: Int)? {
        let e = slots.unsafelyUnwrapped + slot &* Self.stride
        let n = d.count
        var found = e.load(as: UInt64.self) == header && Int(e.load(fromByteOffset: 8, as: Int32.self)) == n
        if found, let p = d.baseAddress {
            let b = UnsafeRawPointer(e + Self.bytesOffset)
            var k = 0
            while k &+ 8 <= n {
                if b.loadUnaligned(fromByteOffset: k, as: UInt64.self) != p.loadUnaligned(fromByteOffset: k, as: UInt64.self) {
                    found = false
                    break
                }
                k &+= 8
            }
            if found && k < n {
                found = b.loadUnaligned(fromByteOffset: k, as: UInt32.self) == p.loadUnaligned(fromByteOffset: k, as: UInt32.self)
            }
        }
        trial(id, hit: found)
        guard found else { return nil }
        hitCount &+= 1
        let values = UnsafeBufferPointer(start: UnsafeRawPointer(e + Self.valuesOffset).assumingMemoryBound(to: Int64.self),
                                         count: Int(e.load(fromByteOffset: 16, as: Int32.self)))
        return (e.load(fromByteOffset: 12, as: UInt32.self), values, Int(e.load(fromByteOffset: 20, as: Int32.self)))
    }

    /// Counts a look-up of event `id` while on trial; a poor hit rate at its end turns it off.
    @inline(__always)
    private mutating func trial(_ id: Int, hit: Bool) {
        let t = tries.withUnsafeBufferPointer { $0[id] }
        guard t < Self.trial else { return }
        if hit { hits.withUnsafeMutableBufferPointer { $0[id] &+= 1 } }
        // (A quarter of the records repeating pays for the hashing and copying of the rest.)
        let off = t &+ 1 == Self.trial && hits[id] < Self.trial / 4
        tries.withUnsafeMutableBufferPointer { $0[id] = off ? .max : t &+ 1 }
    }

    /// Keeps (header, record) → (template, values) in `slot` (from ``slot(header:_:)``): exactly the
    /// template's slot values, and their `TraceWriter.encodedSize`.
    @inline(__always)
    func store(slot: Int, header: UInt64, _ d: UnsafeRawBufferPointer, template: UInt32, values: UnsafeBufferPointer<Int64>,
               valueBytes: Int) {
        guard slot >= 0, values.count <= Self.maxValues, let p = d.baseAddress else { return }
        let e = slots.unsafelyUnwrapped + slot &* Self.stride
        e.storeBytes(of: header, as: UInt64.self)
        e.storeBytes(of: Int32(truncatingIfNeeded: d.count), toByteOffset: 8, as: Int32.self)
        e.storeBytes(of: template, toByteOffset: 12, as: UInt32.self)
        e.storeBytes(of: Int32(truncatingIfNeeded: values.count), toByteOffset: 16, as: Int32.self)
        e.storeBytes(of: Int32(truncatingIfNeeded: valueBytes), toByteOffset: 20, as: Int32.self)
        (e + Self.bytesOffset).copyMemory(from: p, byteCount: d.count)
        if let v = values.baseAddress, values.count > 0 {
            (e + Self.valuesOffset).copyMemory(from: v, byteCount: values.count * 8)
        }
    }
}
