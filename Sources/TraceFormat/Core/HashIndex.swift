/// An open-addressing map from 64-bit hashes to dense ids, for hot lookups where `Dictionary`'s
/// per-call hashing costs too much. Keys are already well-mixed hashes; the caller checks the
/// candidates it gets for real equality (several ids may share a hash: `candidates` walks them).
public struct HashIndex: Sendable {
    private var keys: [UInt64]
    /// id + 1; 0 = empty.
    private var ids: [UInt32]
    private var mask: Int
    public private(set) var count = 0

    public init(capacity: Int = 64) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        keys = Array(repeating: 0, count: n)
        ids = Array(repeating: 0, count: n)
        mask = n - 1
    }

    /// Calls `body` with each id stored under `hash` until it returns true; returns that id.
    @inline(__always)
    public func first(_ hash: UInt64, where body: (UInt32) -> Bool) -> UInt32? {
        var i = Int(truncatingIfNeeded: hash) & mask
        return ids.withUnsafeBufferPointer { idp in
            keys.withUnsafeBufferPointer { kp in
                while true {
                    let id = idp[i]
                    if id == 0 { return nil }
                    if kp[i] == hash, body(id - 1) { return id - 1 }
                    i = (i + 1) & mask
                }
            }
        }
    }

    public mutating func insert(_ hash: UInt64, _ id: UInt32) {
        if (count + 1) * 2 > ids.count { grow() }
        var i = Int(truncatingIfNeeded: hash) & mask
        while ids[i] != 0 { i = (i + 1) & mask }
        keys[i] = hash
        ids[i] = id + 1
        count += 1
    }

    public mutating func removeAll() {
        for i in ids.indices { ids[i] = 0 }
        count = 0
    }

    private mutating func grow() {
        let oldKeys = keys, oldIds = ids
        let n = ids.count * 2
        keys = Array(repeating: 0, count: n)
        ids = Array(repeating: 0, count: n)
        mask = n - 1
        count = 0
        for i in oldIds.indices where oldIds[i] != 0 { insert(oldKeys[i], oldIds[i] - 1) }
    }
}
