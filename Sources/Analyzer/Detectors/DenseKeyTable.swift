import TraceFormat

/// A map from the detectors' integer keys — a CPU (`UInt32(bitPattern: apicID)`), or a CPU and a
/// vector (``cpuVector(_:_:)``) — to per-transition state: an array indexed by the key below
/// `denseLimit` (grown to the highest key written), a hash map above (x2APIC IDs are 32-bit; -1,
/// "no CPU", is the highest key). Almost every transition reads or writes a few of these, so the
/// common case is an index into one array instead of a hash probe (a quarter of `analyze`'s detector
/// instructions with `IntMap`s).
///
/// The dense entries are shared by copies of a table (``DenseEntries``: a write pays no
/// copy-on-write check, which was ~4 % of `analyze`): each detector owns its tables and never copies
/// them.
struct DenseKeyTable<Value> {
    /// Keys below this are dense; the entries grow to the highest dense key written (by doubling).
    let denseLimit: UInt64
    private let dense = DenseEntries<Value>()
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
            let i = Int(truncatingIfNeeded: key)   // (below denseLimit)
            return i < dense.count ? dense[i] : nil
        }
        @inline(__always) set {
            guard key < denseLimit else { sparse[key] = newValue; return }
            let i = Int(truncatingIfNeeded: key)   // (below denseLimit)
            if i >= dense.count {
                guard newValue != nil else { return }
                dense.grow(to: i + 1, limit: Int(denseLimit))
            }
            dense[i] = newValue
        }
    }

    /// The value of `key` (`empty` first when absent), changed in place by `body`: several fields of
    /// one record read and written for one look-up (a detector keeps one record per CPU, or per CPU
    /// and vector, instead of a table per field).
    @inline(__always)
    mutating func update<R>(_ key: UInt64, empty: @autoclosure () -> Value, _ body: (inout Value) -> R) -> R {
        guard key < denseLimit else {
            var v = sparse[key] ?? empty()
            defer { sparse[key] = v }
            return body(&v)
        }
        let i = Int(truncatingIfNeeded: key)   // (below denseLimit)
        if i >= dense.count { dense.grow(to: i + 1, limit: Int(denseLimit)) }
        return dense.update(i, empty: empty(), body)
    }

    /// Removes and returns the value of `key`.
    @inline(__always) mutating func removeValue(forKey key: UInt64) -> Value? {
        guard key < denseLimit else { return sparse.removeValue(forKey: key) }
        let i = Int(truncatingIfNeeded: key)   // (below denseLimit)
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
        for i in 0..<dense.count { if let v = dense[i] { out.append((UInt64(i), v)) } }
        out += sparse.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }
        return out
    }
}

/// The dense part of a ``DenseKeyTable``: entries behind pointers, so the class has only `let`
/// properties and a read or write pays neither a copy-on-write nor a dynamic exclusivity check.
/// Unchecked: the table reads and writes only entries below ``count``.
fileprivate final class DenseEntries<Value> {
    private struct Header {
        var entries: UnsafeMutablePointer<Value?>
        var count: Int
    }
    private let header: UnsafeMutablePointer<Header>

    init() {
        header = .allocate(capacity: 1)
        header.initialize(to: Header(entries: .allocate(capacity: 0), count: 0))
    }

    deinit {
        header.pointee.entries.deinitialize(count: header.pointee.count)
        header.pointee.entries.deallocate()
        header.deinitialize(count: 1)
        header.deallocate()
    }

    var count: Int {
        @inline(__always) get { header.pointee.count }
    }

    /// Entry `i` (below ``count``).
    subscript(i: Int) -> Value? {
        @inline(__always) get { header.pointee.entries[i] }
        @inline(__always) set { header.pointee.entries[i] = newValue }
    }

    /// Entry `i` (below ``count``), set to `empty` when absent, changed in place.
    @inline(__always)
    func update<R>(_ i: Int, empty: @autoclosure () -> Value, _ body: (inout Value) -> R) -> R {
        let p = header.pointee.entries + i
        if case .none = p.pointee { p.pointee = empty() }
        return body(&p.pointee!)
    }

    /// Grows to `n` entries (the new ones empty), to twice the size when that is more (up to
    /// `limit`), so growing to the highest key one write at a time costs linear time.
    @inline(never)
    func grow(to n: Int, limit: Int) {
        let old = header.pointee
        guard n > old.count else { return }
        let count = Swift.max(n, Swift.min(2 * old.count, limit))
        let entries = UnsafeMutablePointer<Value?>.allocate(capacity: count)
        entries.moveInitialize(from: old.entries, count: old.count)
        (entries + old.count).initialize(repeating: nil, count: count - old.count)
        old.entries.deallocate()
        header.pointee = Header(entries: entries, count: count)
    }
}
