/// One Bool per LAPIC index (the posted-interrupt tracking's in-guest, halted, wake-expected and
/// route-since-halt states): the first 64 in a word held by the adapter itself, the rest in an array.
/// Every `kvm_entry` and `kvm_exit` writes one; in a `[Bool]` each write was a copy-on-write
/// uniqueness check (a runtime call) on top of the store. Encoded as the `[Bool]` it stands for, so
/// replay snapshots read and write the same JSON as before.
struct APICFlags: Codable {
    private var low: UInt64 = 0
    private var high: [Bool] = []
    /// How many indices it holds (``append(_:)``).
    private(set) var count = 0

    init() {}

    mutating func append(_ value: Bool) {
        if count < 64 {
            if value { low |= 1 << UInt64(count) }
        } else {
            high.append(value)
        }
        count += 1
    }

    /// Index `k` (below ``count``).
    subscript(k: Int) -> Bool {
        @inline(__always) get {
            precondition(k >= 0 && k < count, "APIC index out of range")
            return k < 64 ? low >> UInt64(k) & 1 != 0 : high[k - 64]
        }
        @inline(__always) set {
            precondition(k >= 0 && k < count, "APIC index out of range")
            if k < 64 {
                if newValue { low |= 1 << UInt64(k) } else { low &= ~(1 << UInt64(k)) }
            } else {
                high[k - 64] = newValue
            }
        }
    }

    init(from decoder: Decoder) throws {
        for value in try decoder.singleValueContainer().decode([Bool].self) { append(value) }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode((0..<count).map { self[$0] })
    }
}
