import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import TraceFormat

/// Damaged traces (bytes flipped, numbers replaced by extreme values, lines deleted or repeated) never
/// crash the replayer: every run ends with a report or an input error.
@Suite("Replay of damaged traces")
struct ReplayRobustnessTests {
    @Test("random damage to real QEMU x86, GICv2 and KVM traces", arguments: [11, 12, 13, 14] as [UInt64])
    func damage(seed: UInt64) throws {
        var state = seed
        func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(max(1, n))) }
        let sources = [x86Samples.first { $0.contains("q35-intremap-smp2") }!, armSamples.first { $0.contains("smp2.") }!]
            .map { path -> [String] in Array(String(decoding: try! InputFile(path: path).data, as: UTF8.self).split(separator: "\n").prefix(4000).map(String.init)) }
            + kvmRecordings.filter { $0.hasSuffix(".trace.txt") }.prefix(3).map { String(decoding: try! InputFile(path: $0).data, as: UTF8.self).split(separator: "\n").map(String.init) }
        let extremes = ["999999999999", "-1", "4294967295", "300", "0", "18446744073709551615"]
        for _ in 0..<6 {
            var lines = sources[next(sources.count)]
            for _ in 0..<(1 + next(8)) {
                let k = next(lines.count)
                switch next(4) {
                case 0:
                    var bytes = Array(lines[k].utf8)
                    if !bytes.isEmpty { bytes[next(bytes.count)] = UInt8(next(256)) }
                    lines[k] = String(decoding: bytes, as: UTF8.self)
                case 1:
                    if let r = lines[k].range(of: #"\b\d+\b"#, options: .regularExpression) {
                        lines[k].replaceSubrange(r, with: extremes[next(extremes.count)])
                    }
                case 2: lines.remove(at: k)
                default: lines.insert(lines[next(lines.count)], at: k)
                }
            }
            do {
                let r = try replay(text: Array(lines.joined(separator: "\n").utf8))
                #expect(r.events > 0)
            } catch is IrqtraceError {
                // An input error is a fine answer to damaged input.
            }
        }
    }
}
