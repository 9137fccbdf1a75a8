/// A 256-bit register indexed by x86 vector: the LAPIC's IRR, ISR and TMR (8 × 32-bit registers at
/// APIC offsets 0x200, 0x100, 0x180, stride 0x10; vector v is bit v%32 of register v/32), and a
/// posted-interrupt descriptor's PIR. Stored as four 64-bit words, no heap.
public struct VectorBitmap: Hashable, Sendable, CustomStringConvertible {
    @usableFromInline var words: InlineArray<4, UInt64>

    public init() { words = [0, 0, 0, 0] }

    // (Inlined: the LAPIC model asks these on most events, and a call cost more than the test.)
    @inlinable @inline(__always) public func contains(_ v: UInt8) -> Bool { words[Int(v >> 6)] & (1 << UInt64(v & 63)) != 0 }
    @inlinable @inline(__always) public mutating func insert(_ v: UInt8) { words[Int(v >> 6)] |= 1 << UInt64(v & 63) }
    @inlinable @inline(__always) public mutating func remove(_ v: UInt8) { words[Int(v >> 6)] &= ~(1 << UInt64(v & 63)) }
    @inlinable public var isEmpty: Bool { @inline(__always) get { words[0] | words[1] | words[2] | words[3] == 0 } }

    /// The highest set vector (KVM `apic_find_highest_vector`, QEMU `get_highest_priority_int`), nil when empty.
    @inlinable public var highest: UInt8? {
        // (Unrolled: PPR and the deliverable vector ask this on most events. Not forced inline: that
        // made the KVM adapter's handlers larger and slower, 606 -> 621 M instructions per 1 M events.)
        let w3 = words[3], w2 = words[2], w1 = words[1], w0 = words[0]
        if w3 != 0 { return UInt8(truncatingIfNeeded: 255 - w3.leadingZeroBitCount) }
        if w2 != 0 { return UInt8(truncatingIfNeeded: 191 - w2.leadingZeroBitCount) }
        if w1 != 0 { return UInt8(truncatingIfNeeded: 127 - w1.leadingZeroBitCount) }
        if w0 != 0 { return UInt8(truncatingIfNeeded: 63 - w0.leadingZeroBitCount) }
        return nil
    }

    /// 32-bit register `r` (0…7) as the APIC presents it.
    public func register(_ r: Int) -> UInt32 { UInt32(truncatingIfNeeded: words[r >> 1] >> UInt64((r & 1) * 32)) }

    public mutating func formUnion(_ other: VectorBitmap) { for k in 0..<4 { words[k] |= other.words[k] } }

    /// The set vectors, lowest first (from the set bits, not a scan of all 256).
    public var vectors: [UInt8] {
        var out: [UInt8] = []
        for w in 0..<4 {
            var x = words[w]
            while x != 0 {
                out.append(UInt8(truncatingIfNeeded: w * 64 + x.trailingZeroBitCount))
                x &= x &- 1
            }
        }
        return out
    }

    public var description: String {
        "{" + vectors.map { "0x" + String($0, radix: 16) }.joined(separator: ",") + "}"
    }

    public static func == (a: VectorBitmap, b: VectorBitmap) -> Bool {
        a.words[0] == b.words[0] && a.words[1] == b.words[1] && a.words[2] == b.words[2] && a.words[3] == b.words[3]
    }
    public func hash(into h: inout Hasher) { for k in 0..<4 { h.combine(words[k]) } }
}

/// Four 64-bit words, lowest vectors first (replay snapshots).
extension VectorBitmap: Codable {
    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        self.init()
        for k in 0..<4 { words[k] = try c.decode(UInt64.self) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        for k in 0..<4 { try c.encode(words[k]) }
    }
}
