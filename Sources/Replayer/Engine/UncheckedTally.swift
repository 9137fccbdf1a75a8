/// Counts unchecked observations by a literal key, without hashing a string per event: a literal
/// is known by its address. Merged into `ReplayReport.unchecked` at the end of a replay.
struct UncheckedTally {
    private var keys: [(UnsafeRawPointer, StaticString)] = []
    private var counts: [Int] = []

    @inline(__always)
    mutating func add(_ key: StaticString) {
        let p = UnsafeRawPointer(key.utf8Start)
        for k in keys.indices where keys[k].0 == p { counts[k] += 1; return }
        keys.append((p, key))
        counts.append(1)
    }

    func merge(into table: inout [String: Int]) {
        for (k, c) in zip(keys, counts) { table[k.1.description, default: 0] += c }
    }
}
