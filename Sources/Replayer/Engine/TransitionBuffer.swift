/// The transitions an adapter recorded since its consumer last drained them (``Transition``): a
/// buffer that keeps its storage between chunks. `Array.append` costs ~70 instructions here (two
/// out-of-line reserve-capacity calls per element), a tenth of `analyze` at one append per
/// transition; this one checks uniqueness and room inline and stores one element. A value type like
/// the adapters that hold it: a copy (a replay snapshot) gets its own storage on its first append.
public struct TransitionBuffer: Sequence, @unchecked Sendable {
    @usableFromInline final class Storage {
        @usableFromInline let base: UnsafeMutablePointer<Transition>
        @usableFromInline let capacity: Int

        @usableFromInline init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }

        deinit { base.deallocate() }   // (Transition is trivial: nothing to deinitialize)
    }

    @usableFromInline var storage = Storage(capacity: 0)
    @usableFromInline var _count = 0
    @inlinable public var count: Int { _count }

    public init() {}

    /// The models' final state of each VM that ended since the buffer was last drained, in order
    /// (``Transition/Kind/vmStarted``'s `value` indexes it): the consumers' end-of-VM checks read it as
    /// they read the final state at the end of the trace.
    public var vmEnds: [VMEnd] = []
    public struct VMEnd: Sendable {
        public var machine: X86Machine
        /// Time of the VM's last interrupt event.
        public var endTime: Int64
    }

    @inlinable public var isEmpty: Bool { _count == 0 }

    @inlinable @inline(__always)
    public mutating func append(_ t: Transition) {
        if _count == storage.capacity || !isKnownUniquelyReferenced(&storage) { reallocate() }
        storage.base[_count] = t
        _count &+= 1   // (below the capacity just checked)
    }

    /// Own storage with room for one more (doubled when full).
    @inline(never) @usableFromInline
    mutating func reallocate() {
        let capacity = count == storage.capacity ? Swift.max(256, 2 * storage.capacity) : storage.capacity
        let new = Storage(capacity: capacity)
        new.base.initialize(from: storage.base, count: count)
        storage = new
    }

    /// Empties the buffer; with `keepingCapacity` (what a consumer draining it per chunk wants) its
    /// storage stays for the next chunk.
    @inlinable
    public mutating func removeAll(keepingCapacity: Bool = false) {
        _count = 0
        if !vmEnds.isEmpty { vmEnds = [] }
        if !keepingCapacity { storage = Storage(capacity: 0) }
    }

    @inlinable
    public subscript(i: Int) -> Transition {
        precondition(i >= 0 && i < count, "transition index out of range")
        return storage.base[i]
    }

    public struct Iterator: IteratorProtocol {
        // (Holds the storage: the elements stay valid while iterating even if the buffer is dropped.)
        @usableFromInline let storage: Storage
        @usableFromInline let count: Int
        @usableFromInline var i = 0
        @inlinable init(storage: Storage, count: Int) { self.storage = storage; self.count = count }

        @inlinable @inline(__always)
        public mutating func next() -> Transition? {
            guard i < count else { return nil }
            defer { i += 1 }
            return storage.base[i]
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(storage: storage, count: _count) }

    /// Calls `body` with each transition in order, read in place: the detectors' per-transition loop
    /// (the iterator's `next()` wraps each 48-byte transition in an Optional: ~17 instructions per
    /// transition, a sixth of `analyze`'s detector loop).
    @inlinable @inline(__always)
    public func forEach(_ body: (Transition) throws -> Void) rethrows {
        try withExtendedLifetime(storage) {
            let base = storage.base
            for i in 0..<_count { try body(base[i]) }
        }
    }
}
