import Foundation
@testable import TraceFormat

/// Deterministic random numbers (SplitMix64), so a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One event as the tests generate and compare it.
struct TestEvent: Equatable {
    var time: Int64
    var cpu: Int32
    var thread: Int32
    var domain: ClockDomain
    var template: Int
    var values: [Int64]
    /// String slot contents, by slot.
    var strings: [Int: [UInt8]]
}

struct TestTemplate {
    var name: String
    var skeleton: [UInt8]
    var slotIsString: [Bool]
    var printsTime: Bool
}

enum RandomTraces {
    /// Random templates covering every piece kind, odd bytes (0xFF, NUL, non-UTF-8) and long names.
    static func templates(_ count: Int, rng: inout SplitMix64) -> [TestTemplate] {
        (0..<count).map { k in
            var sk = SkeletonBuilder()
            var isString: [Bool] = []
            var printsTime = false
            let nameLength = k == 0 ? 3000 : Int.random(in: 1...24, using: &rng)
            let name = String((0..<nameLength).map { _ in "abcdefghijklmnopqrstuvwxyz_0123456789".randomElement(using: &rng)! })
            if Bool.random(using: &rng) { sk.appendThread(); sk.appendLiteral("@") }
            if Bool.random(using: &rng) {
                sk.appendTime(fractionDigits: UInt8.random(in: 0...9, using: &rng), secondsWidth: UInt8.random(in: 0...12, using: &rng))
                printsTime = true
            }
            if Bool.random(using: &rng) { sk.appendCPU(width: UInt8.random(in: 0...4, using: &rng), zeroPad: Bool.random(using: &rng)) }
            sk.appendLiteral(name)
            sk.appendLiteral(" ")
            sk.appendBodyStart()
            for _ in 0..<Int.random(in: 0...10, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:
                    let bytes = (0..<Int.random(in: 1...6, using: &rng)).map { _ in
                        [UInt8(0xFF), 0x00, 0x20, 0x3A, 0xC3, 0x7A].randomElement(using: &rng)!
                    }
                    for b in bytes { sk.appendLiteral(b) }
                case 1:
                    sk.appendNumber([.decimal, .hexLower, .hexUpper].randomElement(using: &rng)!, width: UInt8.random(in: 0...20, using: &rng))
                    isString.append(false)
                case 2:
                    sk.appendString(); isString.append(true)
                default:
                    sk.appendLiteral(" = ")
                }
            }
            return TestTemplate(name: name, skeleton: sk.bytes, slotIsString: isString, printsTime: printsTime)
        }
    }

    static func value(_ rng: inout SplitMix64) -> Int64 {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: return [Int64.min, Int64.max, 0, -1, 1].randomElement(using: &rng)!
        case 1: return Int64.random(in: -300...300, using: &rng)
        case 2: return Int64(bitPattern: rng.next())
        default: return Int64.random(in: 0...0xFFFF, using: &rng)
        }
    }

    static func events(_ n: Int, templates: [TestTemplate], rng: inout SplitMix64) -> [TestEvent] {
        var t: Int64 = Int64.random(in: 0...2_000_000_000_000_000_000, using: &rng)
        return (0..<n).map { _ in
            let k = Int.random(in: 0..<templates.count, using: &rng)
            t += [0, 1000, 1_000_000, Int64.random(in: -5_000...5_000_000, using: &rng)].randomElement(using: &rng)!
            var values: [Int64] = []
            var strings: [Int: [UInt8]] = [:]
            for (s, isString) in templates[k].slotIsString.enumerated() {
                if isString {
                    strings[s] = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    values.append(0)
                } else { values.append(value(&rng)) }
            }
            return TestEvent(time: max(0, t), cpu: Int32.random(in: -1...300, using: &rng),
                             thread: [Int32(-1), 1234, Int32.random(in: 0...Int32.max, using: &rng)].randomElement(using: &rng)!,
                             domain: ClockDomain.allCases.randomElement(using: &rng)!, template: k, values: values, strings: strings)
        }
    }

    /// Writes events to an in-memory .irqt.
    /// `sized`: through the `append` that takes the values' encoded size.
    static func write(_ events: [TestEvent], templates: [TestTemplate], chunkSize: Int, level: Int32 = 3,
                      metadata: TraceMetadata = TraceMetadata(source: .simulator), sized: Bool = false) throws -> [UInt8] {
        let out = OutputFile()
        let writer = TraceWriter(output: out, metadata: metadata, chunkSize: chunkSize, level: level)
        let ids = try templates.map { try writer.catalog.intern(name: $0.name, skeleton: $0.skeleton) }
        for e in events {
            var values = e.values
            for (s, bytes) in e.strings { values[s] = writer.internString(bytes) }
            try values.withUnsafeBufferPointer { v in
                if sized {
                    let exact = UnsafeBufferPointer(rebasing: v.prefix(writer.catalog.valueCount(ids[e.template])))
                    try writer.append(time: e.time, cpu: e.cpu, thread: e.thread, domain: e.domain, template: ids[e.template],
                                      values: exact, valueBytes: TraceWriter.encodedSize(exact))
                } else {
                    try writer.append(time: e.time, cpu: e.cpu, thread: e.thread, domain: e.domain, template: ids[e.template], values: v)
                }
            }
        }
        try writer.finish()
        return out.memory
    }

    /// Reads every intact event back, as (global index, event) with template names for comparison.
    static func read(_ reader: TraceReader, templates: [TestTemplate]) throws -> [(Int, TestEvent)] {
        var out: [(Int, TestEvent)] = []
        var testIndex: [UInt32: Int] = [:]
        try reader.forEachBatch { b in
            for i in 0..<b.count {
                let t = reader.catalog[b.templates[i]]
                let k: Int
                if let known = testIndex[b.templates[i]] { k = known } else {
                    k = templates.firstIndex { $0.name == t.name && $0.skeleton == t.skeleton }!
                    testIndex[b.templates[i]] = k
                }
                var values: [Int64] = []
                var strings: [Int: [UInt8]] = [:]
                for s in 0..<t.valueCount {
                    if t.slotIsString(s) { strings[s] = b.strings[Int(b.value(i, slot: s))]; values.append(0) } else { values.append(b.value(i, slot: s)) }
                }
                out.append((b.firstEventIndex + i, TestEvent(time: b.times[i], cpu: b.cpus[i], thread: b.threads[i],
                                                               domain: ClockDomain(rawValue: b.domains[i])!, template: k,
                                                               values: values, strings: strings)))
            }
        }
        return out
    }
}
