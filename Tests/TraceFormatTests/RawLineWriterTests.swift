import Foundation
import Testing
@testable import TraceFormat

/// `SkeletonRenderer.reprints` renders into raw memory (`RawLineWriter`); `render(…to: [UInt8])`
/// is the array renderer exporters' rules follow. The two must agree byte for byte: every line the
/// array renderer prints must reprint, and no line one byte off may.
@Suite("Raw line writer")
struct RawLineWriterTests {
    @Test("reprints accepts exactly what the array renderer prints", arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func agreesWithArrayRenderer(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let literals = ["", " ", ":", "x", " [", "] ", "0x", "      qemu-system-x86-", ": kvm_emulate_insn:   ", "a longer literal run, over 8 bytes"]
        let numbers: [Int64] = [0, 1, -1, 9, 10, 99, 100, 0xff, 0x100, -42, 123_456_789, .max, .min, 1 << 40, -(1 << 33)]
        var checked = 0
        for _ in 0..<400 {
            var sk = SkeletonBuilder()
            var values: [Int64] = []
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                switch Int.random(in: 0..<8, using: &rng) {
                case 0, 1: sk.appendLiteral(literals.randomElement(using: &rng)!)
                case 2:
                    let style = [NumberStyle.decimal, .hexLower, .hexUpper].randomElement(using: &rng)!
                    sk.appendNumber(style, width: UInt8.random(in: 0...3, using: &rng) == 0 ? UInt8.random(in: 1...24, using: &rng) : 0)
                    values.append(Bool.random(using: &rng) ? numbers.randomElement(using: &rng)! : Int64.random(in: -100_000...100_000, using: &rng))
                case 3: sk.appendThread()
                case 4: sk.appendCPU(width: UInt8.random(in: 0...5, using: &rng), zeroPad: Bool.random(using: &rng))
                case 5: sk.appendTime(fractionDigits: UInt8.random(in: 0...9, using: &rng), secondsWidth: UInt8.random(in: 0...8, using: &rng),
                                      rounded: Bool.random(using: &rng))
                case 6: sk.appendRawTime()
                default: sk.appendLiteral(0xFF)   // the escaped byte
                }
            }
            let time = [Int64(1_795_617_354_745_184_499), 0, -1_500_000_001, 999_999_999, Int64.random(in: -1 << 50...1 << 50, using: &rng)]
                .randomElement(using: &rng)!
            let cpu = [Int32(0), 3, 17, 123, -1, -25].randomElement(using: &rng)!
            let thread = [Int32(0), 8073, -5, .max].randomElement(using: &rng)!
            let skeleton = sk.bytes
            var line: [UInt8] = []
            let ok = skeleton.withUnsafeBufferPointer { s in
                values.withUnsafeBufferPointer { v in
                    SkeletonRenderer.render(s, values: v, time: time, cpu: cpu, thread: thread, to: &line)
                }
            }
            #expect(ok)
            var scratch: [UInt8] = []
            func reprints(_ l: [UInt8]) -> Bool {
                l.withUnsafeBytes { SkeletonRenderer.reprints($0, skeleton: skeleton, values: values, time: time, cpu: cpu, thread: thread, scratch: &scratch) }
            }
            #expect(reprints(line), "\(String(decoding: line, as: UTF8.self))")
            #expect(!reprints(line + [0x20]))
            if !line.isEmpty {
                #expect(!reprints(Array(line.dropLast())))
                var changed = line
                let k = Int.random(in: 0..<line.count, using: &rng)
                changed[k] ^= 0x01
                #expect(!reprints(changed))
            }
            checked += 1
        }
        #expect(checked == 400)
    }

    @Test("a skeleton with a string slot does not reprint without a string table")
    func stringSlot() {
        var sk = SkeletonBuilder()
        sk.appendLiteral("s=")
        sk.appendString()
        var scratch: [UInt8] = []
        let line = Array("s=".utf8)
        let ok = line.withUnsafeBytes { SkeletonRenderer.reprints($0, skeleton: sk.bytes, values: [0], time: 0, cpu: 0, thread: 0, scratch: &scratch) }
        #expect(!ok)
    }
}
