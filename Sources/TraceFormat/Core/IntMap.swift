/// A hash map from integer keys (threads, APIC IDs, `apic << 8 | vector` pairs) to values, for the
/// per-event state of the replayer and the analyzers. `Dictionary` hashes every key with SipHash
/// (~15–20 ns a lookup, a fifth of the replay time); this one multiplies the key by a Fibonacci
/// constant and probes linearly (deletion by backward shift, so no tombstones). Iteration is in slot
/// order: deterministic for a given sequence of operations, but not insertion order.
public struct IntMap<Key: FixedWidthInteger, Value>: Sequence {
    /// One slot: key, value and whether it is in use side by side, so a lookup reads one array and
    /// an update pays one uniqueness check (three parallel arrays cost three).
    @usableFromInline struct Slot {
        @usableFromInline var occupied: Bool
        @usableFromInline var key: Key
        @usableFromInline var value: Value?
        @inlinable init(occupied: Bool, key: Key, value: Value?) { self.occupied = occupied; self.key = key; self.value = value }
        @inlinable static var empty: Slot { Slot(occupied: false, key: 0, value: nil) }
    }
    @usableFromInline var slots: [Slot]
    @usableFromInline var shift: UInt64
    @usableFromInline var _count = 0
    @inlinable public var count: Int { _count }
    @inlinable var capacity: Int { slots.count }

    @inlinable
    public init() {
        slots = Array(repeating: .empty, count: 8)
        shift = 64 - 3
    }

    @inlinable
    public var isEmpty: Bool { _count == 0 }

    @inlinable @inline(__always)
    func home(_ key: Key) -> Int {
        Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: key) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The slot holding `key`, or nil.
    @inlinable @inline(__always)
    func find(_ key: Key) -> Int? {
        // (Unchecked reads: `home` and the probe stay below the capacity, a power of two.)
        slots.withUnsafeBufferPointer { slots in
            let mask = slots.count - 1
            var i = home(key)
            while slots[i].occupied {
                if slots[i].key == key { return i }
                i = (i + 1) & mask
            }
            return nil
        }
    }

    @inlinable
    public subscript(key: Key) -> Value? {
        @inline(__always) get { find(key).flatMap { slots[$0].value } }
        set {
            if let newValue { insertOrUpdate(key, newValue) } else { _ = removeValue(forKey: key) }
        }
    }

    /// The value of `key`, created from `defaultValue` on first use; mutated in place.
    @inlinable
    public subscript(key: Key, default defaultValue: @autoclosure () -> Value) -> Value {
        get { find(key).flatMap { slots[$0].value } ?? defaultValue() }
        _modify {
            let i = slot(of: key, orInsert: defaultValue())
            // Moved out of its slot and back, not copied: an array value stays uniquely referenced.
            var v = take(slot: i)
            defer { put(slot: i, v) }
            yield &v
        }
    }

    @inlinable
    public func contains(key: Key) -> Bool { find(key) != nil }

    /// The slot of `key`, nil when absent: with ``subscript(slot:)``, several reads and in-place
    /// updates of one value for one hash look-up. Valid until the next insertion or removal.
    @inlinable @inline(__always)
    public func slot(of key: Key) -> Int? { find(key) }

    /// The slot of `key`, storing `defaultValue` there first when `key` is absent.
    @inlinable
    public mutating func slot(of key: Key, orInsert defaultValue: @autoclosure () -> Value) -> Int {
        find(key) ?? slot(forNew: key, defaultValue())
    }

    /// Moves the value of slot `i` (from ``slot(of:)``) out, so the caller works on it as a local
    /// without copies; ``put(slot:_:)`` must give it back before the map is read or changed again
    /// (until then the key stays but its value is gone: reading it traps).
    @inlinable @inline(__always)
    public mutating func take(slot i: Int) -> Value { slots[i].value.take()! }

    /// Gives slot `i` its value back after ``take(slot:)``.
    @inlinable @inline(__always)
    public mutating func put(slot i: Int, _ value: consuming Value) { slots[i].value = value }

    /// The value in slot `i` (from ``slot(of:)``), read and mutated in place.
    @inlinable
    public subscript(slot i: Int) -> Value {
        @inline(__always) get { slots[i].value! }
        @inline(__always) _modify { yield &slots[i].value! }
    }

    @inlinable
    mutating func insertOrUpdate(_ key: Key, _ value: Value) {
        if let i = find(key) { slots[i].value = value } else { _ = slot(forNew: key, value) }
    }

    /// Stores a new key (not present) with `value`; returns its slot.
    @inlinable
    mutating func slot(forNew key: Key, _ value: Value) -> Int {
        if (_count + 1) * 2 > capacity { grow() }
        let mask = capacity - 1
        var i = home(key)
        while slots[i].occupied { i = (i + 1) & mask }
        slots[i] = Slot(occupied: true, key: key, value: value)
        _count += 1
        return i
    }

    @discardableResult @inlinable
    public mutating func removeValue(forKey key: Key) -> Value? {
        // (Removing from an empty map, common for per-event state that is usually empty, costs no hash.)
        guard _count > 0, var i = find(key) else { return nil }
        let old = slots[i].value.take()
        let mask = capacity - 1
        // Backward-shift deletion: move later members of the probe run into the hole when their
        // home slot is not between the hole and themselves (cyclically).
        var j = i
        while true {
            j = (j + 1) & mask
            guard slots[j].occupied else { break }
            let h = home(slots[j].key)
            let inRange = i <= j ? (i < h && h <= j) : (i < h || h <= j)
            if inRange { continue }
            slots.swapAt(i, j)
            i = j
        }
        slots[i] = .empty
        _count -= 1
        return old
    }

    @inlinable
    public mutating func removeAll() {
        guard _count > 0 else { return }
        for i in slots.indices { slots[i] = .empty }
        _count = 0
    }

    @inlinable
    mutating func grow() {
        let old = slots
        slots = Array(repeating: .empty, count: old.count * 2)
        shift -= 1
        _count = 0
        for s in old where s.occupied { _ = slot(forNew: s.key, s.value!) }
    }

    public struct Iterator: IteratorProtocol {
        @usableFromInline let map: IntMap
        @usableFromInline var i = 0
        @inlinable init(map: IntMap) { self.map = map }
        @inlinable
        public mutating func next() -> (key: Key, value: Value)? {
            while i < map.slots.count {
                defer { i += 1 }
                if map.slots[i].occupied { return (map.slots[i].key, map.slots[i].value!) }
            }
            return nil
        }
    }

    @inlinable
    public func makeIterator() -> Iterator { Iterator(map: self) }

    @inlinable public var values: [Value] {
        var out: [Value] = []
        out.reserveCapacity(_count)
        for s in slots where s.occupied { out.append(s.value!) }
        return out
    }
}

extension IntMap: Sendable where Key: Sendable, Value: Sendable {}
extension IntMap.Slot: Sendable where Key: Sendable, Value: Sendable {}

/// A set of integers with `IntMap`'s hashing.
public struct IntSet<Element: FixedWidthInteger>: Sequence {
    @usableFromInline var map = IntMap<Element, Void>()

    @inlinable public init() {}
    @inlinable public init<S: Sequence>(_ s: S) where S.Element == Element { for e in s { insert(e) } }

    @inlinable public var count: Int { map.count }
    @inlinable public var isEmpty: Bool { map.isEmpty }

    @inlinable
    public func contains(_ e: Element) -> Bool { map.find(e) != nil }

    @discardableResult @inlinable
    public mutating func insert(_ e: Element) -> (inserted: Bool, memberAfterInsert: Element) {
        if map.find(e) != nil { return (false, e) }
        _ = map.slot(forNew: e, ())
        return (true, e)
    }

    @discardableResult @inlinable
    public mutating func remove(_ e: Element) -> Element? { map.removeValue(forKey: e) == nil ? nil : e }

    @inlinable public mutating func removeAll() { map.removeAll() }

    public func makeIterator() -> AnyIterator<Element> {
        var it = map.makeIterator()
        return AnyIterator { it.next()?.key }
    }
}

extension IntSet: Sendable where Element: Sendable {}

// MARK: Codable (replay snapshots)

/// Encoded with its exact slot layout (capacity, then the occupied slots' indices, keys and values),
/// so a decoded map iterates in the same order as the one encoded and behaves identically afterwards.
extension IntMap: Codable where Key: Codable, Value: Codable {
    enum CodingKeys: String, CodingKey { case capacity = "n", slots = "s", keys = "k", values = "v" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(layout: try c.decode(Int.self, forKey: .capacity), slots: try c.decode([Int].self, forKey: .slots),
                          keys: try c.decode([Key].self, forKey: .keys), values: try c.decode([Value].self, forKey: .values))
        } catch let e as IntMapLayoutError {
            throw DecodingError.dataCorruptedError(forKey: .slots, in: c, debugDescription: e.message)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var slots: [Int] = [], ks: [Key] = [], vs: [Value] = []
        for (i, s) in self.slots.enumerated() where s.occupied {
            slots.append(i)
            ks.append(s.key)
            vs.append(s.value!)
        }
        try c.encode(capacity, forKey: .capacity)
        try c.encode(slots, forKey: .slots)
        try c.encode(ks, forKey: .keys)
        try c.encode(vs, forKey: .values)
    }
}

/// A snapshot's IntMap layout that cannot be a map's.
struct IntMapLayoutError: Error { var message: String }

extension IntMap {
    /// A map with exactly this slot layout (checked: a power-of-two capacity, distinct slots, every
    /// key reachable from its home slot).
    init(layout capacity: Int, slots: [Int], keys: [Key], values: [Value]) throws(IntMapLayoutError) {
        guard capacity >= 8, capacity.nonzeroBitCount == 1, capacity <= 1 << 40, slots.count == keys.count, keys.count == values.count,
              slots.count * 2 <= capacity else { throw IntMapLayoutError(message: "inconsistent IntMap layout") }
        self.init()
        self.slots = Array(repeating: .empty, count: capacity)
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        for (n, i) in slots.enumerated() {
            guard i >= 0, i < capacity, !self.slots[i].occupied else { throw IntMapLayoutError(message: "bad IntMap slot \(i)") }
            self.slots[i] = Slot(occupied: true, key: keys[n], value: values[n])
        }
        _count = slots.count
        for k in keys where find(k) == nil { throw IntMapLayoutError(message: "IntMap key \(k) not on its probe run") }
    }

    /// The same map with each value transformed, slot for slot (same iteration order): for values
    /// that are not `Codable` themselves (tuples) on their way to and from a snapshot.
    public func mapValuesKeepingLayout<T>(_ transform: (Value) throws -> T) rethrows -> IntMap<Key, T> {
        var out = IntMap<Key, T>()
        out.slots = try slots.map { IntMap<Key, T>.Slot(occupied: $0.occupied, key: $0.key, value: try $0.value.map(transform)) }
        out.shift = shift
        out._count = _count
        return out
    }
}

/// Encoded as its map's layout without values (same iteration order once decoded).
extension IntSet: Codable where Element: Codable {
    enum CodingKeys: String, CodingKey { case capacity = "n", slots = "s", keys = "k" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let keys = try c.decode([Element].self, forKey: .keys)
        self.init()
        do {
            map = try IntMap<Element, Void>(layout: try c.decode(Int.self, forKey: .capacity), slots: try c.decode([Int].self, forKey: .slots),
                                            keys: keys, values: Array(repeating: (), count: keys.count))
        } catch let e as IntMapLayoutError {
            throw DecodingError.dataCorruptedError(forKey: .slots, in: c, debugDescription: e.message)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var slots: [Int] = [], ks: [Element] = []
        for (i, s) in map.slots.enumerated() where s.occupied {
            slots.append(i)
            ks.append(s.key)
        }
        try c.encode(map.capacity, forKey: .capacity)
        try c.encode(slots, forKey: .slots)
        try c.encode(ks, forKey: .keys)
    }
}
