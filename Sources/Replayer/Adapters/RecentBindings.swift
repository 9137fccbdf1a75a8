/// A small direct-mapped cache of thread → APIC ID facts (``KVMX86Adapter/boundAPIC(_:)``): the
/// vCPU threads of a trace are few and recur on most events, and a look-up here is two loads where
/// the ``TraceFormat/IntMap`` it stands in front of probes a hash table. Holds only facts that never
/// change once learnt (a thread's binding); its owner forgets a thread when it binds it anew.
struct RecentBindings {
    private static let slots = 64
    /// Per slot: the thread (as Int64; `empty` when none) and its APIC ID.
    private var threads = [Int64](repeating: RecentBindings.empty, count: RecentBindings.slots)
    private var apics = [UInt32](repeating: 0, count: RecentBindings.slots)
    private static let empty = Int64.min

    @inline(__always)
    private static func slot(_ thread: Int32) -> Int { Int(UInt32(bitPattern: thread) & UInt32(slots - 1)) }

    // (Both arrays always hold `slots` entries and a slot is masked below it: read and written
    // without bounds checks.)
    @inline(__always)
    subscript(thread: Int32) -> UInt32? {
        let k = Self.slot(thread)
        return threads.withUnsafeBufferPointer { $0[k] } == Int64(thread) ? apics.withUnsafeBufferPointer { $0[k] } : nil
    }

    @inline(__always)
    mutating func remember(_ thread: Int32, _ apicID: UInt32) {
        let k = Self.slot(thread)
        threads.withUnsafeMutableBufferPointer { $0[k] = Int64(thread) }
        apics.withUnsafeMutableBufferPointer { $0[k] = apicID }
    }

    mutating func forget(_ thread: Int32) {
        let k = Self.slot(thread)
        if threads[k] == Int64(thread) { threads[k] = Self.empty }
    }
}
