/// A growable column of plain values in memory the owner frees (``deallocate()``): appending is a
/// store and an increment, with no copy-on-write uniqueness check, which per event and per column
/// is what an `Array` costs. A value type without ownership: exactly one owner (``ChunkBuilder``)
/// keeps it and frees it in its `deinit`; copies would alias.
struct RawColumn<Element: BitwiseCopyable> {
    private(set) var base: UnsafeMutablePointer<Element>?
    private(set) var count = 0
    private var capacity = 0

    @inline(__always)
    subscript(i: Int) -> Element { base.unsafelyUnwrapped[i] }   // (callers read below `count`: the storage is there)

    /// The values so far (valid until the next append or reset).
    var buffer: UnsafeBufferPointer<Element> { UnsafeBufferPointer(start: base, count: count) }

    @inline(__always)
    mutating func append(_ v: Element) {
        if count == capacity { grow(to: count + 1) }
        base![count] = v
        count += 1
    }

    @inline(__always)
    mutating func append(_ v: UnsafePointer<Element>, count n: Int) {
        if count &+ n > capacity { grow(to: count + n) }
        (base! + count).update(from: v, count: n)
        count += n
    }

    /// Makes room for `n` more elements and returns where they go; the caller stores all `n`
    /// before the column is read. (A per-event slot copy of a few values: a loop the caller
    /// fuses with its own, instead of a memmove call per event.)
    @inline(__always)
    mutating func appendUninitialized(_ n: Int) -> UnsafeMutablePointer<Element> {
        if count &+ n > capacity { grow(to: count + n) }
        let p = base.unsafelyUnwrapped + count
        count &+= n     // within the capacity just checked
        return p
    }

    /// Room for at least `n` elements in all (the caller then appends through ``appendUnchecked(_:)``).
    @inline(__always)
    mutating func reserve(_ n: Int) { if n > capacity { grow(to: n) } }

    /// Appends into room ``reserve(_:)`` made: a store and an increment, no capacity check.
    @inline(__always)
    mutating func appendUnchecked(_ v: Element) {
        base.unsafelyUnwrapped[count] = v
        count &+= 1     // within the reserved room
    }

    /// Stores at `i`, inside reserved room, without counting it: the owner appends to several
    /// columns of one length and sets their counts once (``setCount(_:)``) before they are read.
    @inline(__always)
    func store(_ v: Element, at i: Int) { base.unsafelyUnwrapped[i] = v }

    /// The count after stores through ``store(_:at:)`` (at most the reserved room).
    @inline(__always)
    mutating func setCount(_ n: Int) {
        precondition(n <= capacity, "count beyond the reserved room")
        count = n
    }

    /// Empties the column; keeps its memory.
    mutating func removeAll() { count = 0 }

    @inline(never)
    private mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2, 1024)
        let p = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        if let base {
            p.update(from: base, count: count)
            base.deallocate()
        }
        base = p
        capacity = newCapacity
    }

    mutating func deallocate() {
        base?.deallocate()
        base = nil
        count = 0
        capacity = 0
    }
}
