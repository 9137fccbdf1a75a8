import Testing
@testable import TraceFormat

@Suite("IntMap and IntSet")
struct IntMapTests {
    /// Random inserts, updates, in-place mutations and removals, checked against Dictionary after
    /// every step (keys from a small range so that probe runs collide and backward shifts happen).
    @Test(arguments: [1, 2, 3, 4, 5])
    func agreesWithDictionary(seed: UInt64) {
        var rng = SplitMix(seed)
        var map = IntMap<Int32, Int>()
        var reference: [Int32: Int] = [:]
        for step in 0..<20_000 {
            let key = Int32(truncatingIfNeeded: rng.next() % 97) - 20
            switch rng.next() % 4 {
            case 0: map[key] = step; reference[key] = step
            case 1: map[key, default: 0] += 3; reference[key, default: 0] += 3
            case 2: #expect(map.removeValue(forKey: key) == reference.removeValue(forKey: key))
            default: #expect(map[key] == reference[key])
            }
            #expect(map.count == reference.count)
        }
        #expect(Dictionary(uniqueKeysWithValues: map.map { ($0.key, $0.value) }) == reference)
        for k in Int32(-20)...80 { #expect(map[k] == reference[k]) }
        map.removeAll()
        #expect(map.isEmpty && map[3] == nil)
    }

    @Test func setBasics() {
        var s = IntSet<UInt64>()
        #expect(s.insert(7).inserted)
        #expect(!s.insert(7).inserted)
        s.insert(UInt64.max)
        #expect(s.contains(UInt64.max) && s.contains(7) && !s.contains(8))
        #expect(s.remove(7) == 7 && s.remove(7) == nil)
        #expect(Array(s) == [UInt64.max] && s.count == 1)
    }

    @Test func growsPastManyKeys() {
        var map = IntMap<UInt64, UInt64>()
        for k in 0..<100_000 as Range<UInt64> { map[k << 8 | 0x31] = k }
        #expect(map.count == 100_000)
        for k in stride(from: 0, to: 100_000 as UInt64, by: 2) { map.removeValue(forKey: k << 8 | 0x31) }
        #expect(map.count == 50_000)
        for k in 0..<100_000 as Range<UInt64> { #expect(map[k << 8 | 0x31] == (k % 2 == 1 ? k : nil)) }
    }
}

private struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
