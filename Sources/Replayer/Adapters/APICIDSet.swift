import TraceFormat

/// A set of APIC IDs: a bitmap for the IDs below 256 (every xAPIC ID, and the x2APIC IDs of small
/// guests), a hash set above. The KVM adapter asks its sets on every acceptance, injection and EOI
/// (bound APICs, APICv-delivered ones) and, in `analyze`, every `kvm_entry` (halted vCPUs): a hash
/// look-up or removal there was ~2 % of the replay.
struct APICIDSet: Codable {
    private var low = VectorBitmap()
    private var high = IntSet<UInt32>()

    init() {}

    var isEmpty: Bool {
        @inline(__always) get { low.isEmpty && high.isEmpty }
    }

    @inline(__always)
    func contains(_ id: UInt32) -> Bool {
        id < 256 ? low.contains(UInt8(truncatingIfNeeded: id)) : high.contains(id)
    }

    /// Adds `id`; true when it was not there.
    @inline(__always) @discardableResult
    mutating func insert(_ id: UInt32) -> Bool {
        guard id < 256 else { return high.insert(id).inserted }
        let v = UInt8(truncatingIfNeeded: id)
        if low.contains(v) { return false }
        low.insert(v)
        return true
    }

    /// Removes `id`; true when it was there.
    @inline(__always) @discardableResult
    mutating func remove(_ id: UInt32) -> Bool {
        guard id < 256 else { return high.remove(id) != nil }
        let v = UInt8(truncatingIfNeeded: id)
        if !low.contains(v) { return false }
        low.remove(v)
        return true
    }

    mutating func removeAll() {
        low = VectorBitmap()
        high.removeAll()
    }

    /// Encoded as the `IntSet<UInt32>` of its members (what replay snapshots held before).
    init(from decoder: Decoder) throws {
        for id in try IntSet<UInt32>(from: decoder) { insert(id) }
    }

    func encode(to encoder: Encoder) throws {
        try IntSet(low.vectors.map(UInt32.init) + high.sorted()).encode(to: encoder)
    }
}
