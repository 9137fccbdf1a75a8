import TraceFormat

/// A map from the detectors' integer keys — a CPU (`UInt32(bitPattern: apicID)`), or a CPU and a
/// vector (``cpuVector(_:_:)``) — to per-transition state: an array indexed by the key below
/// `denseLimit` (grown to the highest key written), a hash map above (x2APIC IDs are 32-bit; -1,
/// "no CPU", is the highest key). Almost every transition reads or writes a few of these, so the
/// common case is an index into one array instead of a hash probe (a quarter of `analyze`'s detector
/// instructions with `IntMap`s).
struct DenseKeyTable<Value> {
    /// Keys below this are dense; the array grows to the highest dense key written.
    let denseLimit: UInt64
    private var dense: [Value?] = []
    private var sparse = IntMap<UInt64, Value>()

    init(denseLimit: UInt64) { self.denseLimit = denseLimit }

    /// Per CPU (APIC IDs below 1024 dense).
    static func perCPU() -> Self { Self(denseLimit: 1024) }
    /// Per CPU and vector (APIC IDs below 256 dense: 256 entries each, 1.5 MiB at most for marks).
    static func perCPUVector() -> Self { Self(denseLimit: 256 << 8) }

    @inline(__always) static func cpu(_ cpu: Int32) -> UInt64 { UInt64(UInt32(bitPattern: cpu)) }
    /// `UInt32(bitPattern: cpu) << 8 | UInt8(vector)`: sorted by CPU, then vector.
    @inline(__always) static func cpuVector(_ cpu: Int32, _ vector: Int16) -> UInt64 {
        UInt64(UInt32(bitPattern: cpu)) << 8 | UInt64(UInt8(truncatingIfNeeded: vector))
    }

    subscript(key: UInt64) -> Value? {
        @inline(__always) get {
            guard key < denseLimit else { return sparse[key] }
            let i = Int(key)
            return i < dense.count ? dense[i] : nil
        }
        @inline(__always) set {
            guard key < denseLimit else { sparse[key] = newValue; return }
            let i = Int(key)
            if i >= dense.count {
                guard newValue != nil else { return }
                dense.append(contentsOf: repeatElement(nil, count: i + 1 - dense.count))
            }
            // (Clearing an entry that is already clear — most of a delivery's clears — writes nothing:
            // a write pays the array's copy-on-write check, a read does not.)
            if newValue == nil && dense[i] == nil { return }
            dense[i] = newValue
        }
    }

    /// Removes and returns the value of `key`.
    @inline(__always) mutating func removeValue(forKey key: UInt64) -> Value? {
        guard key < denseLimit else { return sparse.removeValue(forKey: key) }
        let i = Int(key)
        guard i < dense.count else { return nil }
        defer { dense[i] = nil }
        return dense[i]
    }

    subscript(cpu cpu: Int32) -> Value? {
        @inline(__always) get { self[Self.cpu(cpu)] }
        @inline(__always) set { self[Self.cpu(cpu)] = newValue }
    }

    subscript(cpu cpu: Int32, vector vector: Int16) -> Value? {
        @inline(__always) get { self[Self.cpuVector(cpu, vector)] }
        @inline(__always) set { self[Self.cpuVector(cpu, vector)] = newValue }
    }

    @inline(__always) mutating func removeValue(cpu: Int32) -> Value? { removeValue(forKey: Self.cpu(cpu)) }

    /// The entries of a per-CPU table, by CPU (signed: -1 first).
    func sortedByCPU() -> [(cpu: Int32, value: Value)] {
        sorted().map { (Int32(bitPattern: UInt32(truncatingIfNeeded: $0.key)), $0.value) }.sorted { $0.cpu < $1.cpu }
    }

    /// Every entry, in key order.
    func sorted() -> [(key: UInt64, value: Value)] {
        var out: [(key: UInt64, value: Value)] = []
        for i in dense.indices { if let v = dense[i] { out.append((UInt64(i), v)) } }
        out += sparse.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }
        return out
    }
}
