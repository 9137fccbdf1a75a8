import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import TraceFormat

let armSamples = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("traces").path)) ?? [])
    .filter { $0.hasPrefix("qemu-arm64-") && $0.hasSuffix(".log.zst") }.sorted()
    .map { root.appendingPathComponent("traces/" + $0).path }

@Suite("Replay of real QEMU GICv2 traces")
struct QEMUGICReplayTests {
    @Test("every arm64 GICv2 sample (smp 2 and 4, EL2 with EOImode, multi-threaded TCG) replays with no divergence, ≥ 99% checked",
          arguments: armSamples)
    func agree(path: String) throws {
        let (reader, _) = try Recorder.open(path)
        let r = try Replayer.check(reader)
        #expect(r.adapter == "qemu-gicv2")
        #expect(r.divergences.isEmpty, "\(r.divergences.prefix(2))")
        #expect(r.observationsChecked > 5000)
        // Unchecked: only SGI sender bits in IAR values when the trace cannot tell the sender (smp 4),
        // and distributor reads whose value depends on the reading CPU (TYPER, CTLR, banked registers).
        #expect(r.observationsChecked * 100 >= r.observationsTotal * 99)
        #expect(r.unchecked.keys.allSatisfy { $0.contains("SGI's sender") || $0.hasPrefix("gic_dist_read") })
        #expect((r.unchecked.first { $0.key.hasPrefix("gic_dist_read") }?.value ?? 0) <= 6)
    }

    @Test("a banked write credited to the wrong CPU (a vCPU switch on one TCG thread) is re-credited from QEMU's update, no divergence")
    func bankedWriteRecredited() throws {
        // In the smp2 sample CPU 1 brings up its GIC: clear-enables its banks, programs its CPU
        // interface, then enables its timer PPI 27 (GICD_ISENABLER0 = 0x08000000). Just before that
        // write, CPU 0 writes its PMR (unchanged, nothing pending: QEMU would print no update): the
        // adapter now credits CPU 1's enable to CPU 0, as after a real vCPU switch. CPU 1's first timer
        // tick then shows PPI 27 as CPU 1's best interrupt, which only the re-credited enable explains.
        let path = armSamples.first { $0.hasSuffix("gicv2-smp2.log.zst") }!
        var lines = try sampleLines(path)
        let enable = try #require(lines.firstIndex { $0.contains("1795617382.402521:gic_dist_write dist write at 0x00000100 size 4: 0x08000000") })
        lines.insert("8170@1795617382.402518:gic_cpu_write cpu 0 iface write at 0x00000004 0x000000f0", at: enable)
        let report = try replay(lines: lines)
        #expect(report.divergences.count == 0, "\(report.divergences.prefix(2))")
        #expect(report.unchecked.contains { $0.key.contains("re-credited") && $0.value >= 1 }, "\(report.unchecked)")
    }

    @Test("a distributor read that the writes before it do not explain is detected (ICFGR read-modify-write)")
    func distReadMutation() throws {
        let path = armSamples.first { $0.hasSuffix("gicv2-smp2.log.zst") }!
        let lines = try sampleLines(path)
        let reads = lines.indices.filter { lines[$0].contains("gic_dist_read dist read at 0x00000c1") }
        #expect(!reads.isEmpty)
        var l = lines
        let k = reads[reads.count / 2]
        let r = try #require(l[k].range(of: #"0x[0-9a-f]{8}$"#, options: .regularExpression))
        l[k].replaceSubrange(r, with: "0x" + String(format: "%08x", UInt32(l[k][r].dropFirst(2), radix: 16)! ^ 0x2))
        let report = try replay(lines: l)
        #expect(!report.divergences.isEmpty)
    }

    @Test("altered acknowledges, deleted EOIs and line asserts, altered priorities are detected")
    func mutations() throws {
        let path = armSamples.first { !$0.contains("el2") }!
        let lines = try sampleLines(path)
        func detected(_ match: String, occurrence: Int, _ change: (String) -> String?) throws -> Bool {
            var l = lines
            var seen = 0
            for k in l.indices where l[k].contains(match) {
                seen += 1
                guard seen == occurrence else { continue }
                if let c = change(l[k]) { l[k] = c } else { l.remove(at: k) }
                return !(try replay(lines: l).divergences.isEmpty)
            }
            return false
        }
        var hits = 0, total = 0
        for occurrence in [3, 40, 300] {
            for (match, change) in [("acknowledged irq 27", { (l: String) -> String? in l.replacingOccurrences(of: "irq 27", with: "irq 30") }),
                                    ("iface write at 0x00000010", { _ in nil }),
                                    ("level 1 cpumask", { _ in nil }),
                                    ("gic_update_bestirq", { l in l.replacingOccurrences(of: "priority 160", with: "priority 128") })] {
                total += 1
                if try detected(match, occurrence: occurrence, change) { hits += 1 }
            }
        }
        #expect(hits == total, "\(hits) of \(total)")
    }
}
