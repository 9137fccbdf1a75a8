import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import TraceFormat

/// Damaged traces (bytes flipped, numbers replaced by extreme values, lines deleted or repeated) never
/// crash the replayer: every run ends with a report or an input error.
@Suite("Replay of damaged traces")
struct ReplayRobustnessTests {
    /// A trace the models disagree with on every event (several VMs in one trace, a damaged or
    /// mislabelled one) must not grow the report without bound: the first divergences are kept in
    /// full, the rest counted, and a window (`--from`) keeps its own first ones.
    @Test("divergences beyond the kept limit are counted, not kept")
    func divergenceLimit() throws {
        func d(_ k: Int) -> Divergence { Divergence(eventIndex: k, timeNs: Int64(k), what: "w", expected: "e", observed: "o", state: "") }
        var r = ReplayReport(adapter: "kvm-pvm", behaviour: "kvm")
        let n = ReplayReport.keptDivergences + 5
        for k in 0..<n { r.add(d(k)) }
        #expect(r.divergences.count == ReplayReport.keptDivergences)
        #expect(r.divergences.last?.eventIndex == ReplayReport.keptDivergences - 1)
        #expect(r.divergencesNotKept == 5)
        #expect(r.divergenceCount == n)
        let json = r.json().serialized(pretty: false)
        #expect(json.contains("\"divergences_not_kept\":5"), "\(json.suffix(200))")
        // The count survives a snapshot's encoding.
        let back = try JSONDecoder().decode(ReplayReport.self, from: JSONEncoder().encode(r))
        #expect(back.divergenceCount == n)
        // A window's check keeps its own divergences, those before it dropped.
        var w = ReplayReport(adapter: "kvm-pvm", behaviour: "kvm")
        w.keepFrom = 100
        for k in 0..<200 { w.add(d(k)) }
        w.add(Divergence(eventIndex: -1, timeNs: 0, what: "end", expected: "", observed: "", state: ""))
        #expect(w.divergences.count == 101 && w.divergences.first?.eventIndex == 100 && w.divergences.last?.eventIndex == -1)
        #expect(w.divergencesNotKept == 0 && w.divergenceCount == 101)
        // A report with nothing counted says nothing of it.
        #expect(!ReplayReport(adapter: "a", behaviour: "b").json().serialized(pretty: false).contains("divergences_not_kept"))
    }

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

/// Truncation and bit-flip sweeps over real recordings stored as `.irqt` (many small chunks): the
/// reader recovers every intact chunk unchanged, reports the rest, and replay runs on what is left.
@Suite("Damaged .irqt files of real recordings")
struct IrqtDamageSweepTests {
    static let real: [(name: String, bytes: [UInt8], lines: [String])] = {
        [kvmRecordings.first { $0.hasSuffix("pvm-ioapic-level.trace.txt") }!, armSamples.first { $0.contains("smp2.") }!].map { path in
            let text = try! InputFile(path: path).data
            var o = RecordOptions()
            o.chunkSize = 2048
            o.level = 3
            let out = OutputFile()
            _ = try! Recorder.write(files: [InputFile(path: path, bytes: Array(text))], to: out, options: o)
            try! out.commit()
            let reader = try! TraceReader(data: Data(out.memory))
            var lines: [String] = []
            var buf: [UInt8] = []
            try! reader.forEachBatch { b in
                for i in 0..<b.count {
                    buf.removeAll(keepingCapacity: true)
                    LinePrinter.append(i, of: b, template: reader.catalog[b.templates[i]], to: &buf)
                    lines.append(String(decoding: buf, as: UTF8.self))
                }
            }
            return (URL(fileURLWithPath: path).lastPathComponent, out.memory, lines)
        }
    }()

    /// Every event the damaged reader returns is the original event at its index.
    func check(_ bytes: [UInt8], _ original: [String]) throws -> Int {
        let reader = try TraceReader(data: Data(bytes))
        var buf: [UInt8] = []
        var seen = 0
        try reader.forEachBatch { b in
            for i in 0..<b.count {
                buf.removeAll(keepingCapacity: true)
                LinePrinter.append(i, of: b, template: reader.catalog[b.templates[i]], to: &buf)
                #expect(String(decoding: buf, as: UTF8.self) == original[b.firstEventIndex + i])
                seen += 1
            }
        }
        if seen < original.count { #expect(reader.damage.isDamaged || reader.damage.tailUnknown || reader.damage.footerMissing) }
        _ = try? Replayer.check(reader)
        return seen
    }

    @Test("truncated at 60 offsets and with 60 bytes flipped, one at a time: intact chunks unchanged, damage reported, replay runs")
    func sweep() throws {
        for (name, bytes, lines) in Self.real {
            #expect(try TraceReader(data: Data(bytes)).chunks.count > 10, "\(name) spans many chunks")
            var state: UInt64 = 0x9E3779B97F4A7C15
            func next(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int((state >> 33) % UInt64(n)) }
            for k in 1...60 {
                let cut = bytes.count * k / 61
                do { _ = try check(Array(bytes[0..<cut]), lines) } catch is IrqtraceError {} catch is DecodeError {}
            }
            for _ in 0..<60 {
                var b = bytes
                b[next(b.count)] ^= UInt8(1 << next(8))
                do { _ = try check(b, lines) } catch is IrqtraceError {} catch is DecodeError {}
            }
        }
    }
}
