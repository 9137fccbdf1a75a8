import Foundation
import Testing
@testable import Analyzer
import Recorder
import Replayer
import Simulator
import TraceFormat

@Suite("Analyzer: MSI floods")
struct MSIFloodTests {
    /// The msi-flood fault in both x86 vocabularies: found with its vCPU and vector, and nothing else
    /// at warning or above (the 20-seed figures come from `irqtrace-bench analyze-faults`).
    @Test("msi-flood is found as an interrupt_storm warning", arguments: ["kvm-vmx", "qemu-x86"])
    func floodFound(output: String) throws {
        for seed: UInt64 in [1, 2, 3] {
            let reader = try AnalyzerTestSupport.simulate("x86-virtio", faults: ["msi-flood"], seed: seed, output: output)
            let truth = reader.metadata.groundTruth ?? []
            #expect(truth.count == 1 && truth[0].expect == "interrupt_storm")
            let report = try Analyzer.analyze(reader)
            #expect(report.divergences == 0)
            let score = Score(findings: report.findings, truth: truth)
            #expect(score.precision == 1 && score.recall == 1,
                    "\(output) seed \(seed): missed \(score.missed.map(\.detail)), spurious \(score.spurious.map(\.explanation))")
            let f = try #require(report.findings.first { $0.kind == .interruptStorm })
            #expect(f.severity == .warning)
            // KVM shows the merges; QEMU's log cannot, and the explanation says so.
            #expect(f.explanation.contains(output == "kvm-vmx" ? "merged (coalesced)" : "do not show whether"))
        }
    }

    @Test("bursts are not floods: an episode needs 200 messages no more than 20 µs apart, a quarter of them merged where merges show")
    func thresholds() {
        var d = MSIFloodDetector(options: .init(mergesVisible: true))
        var event = 0
        func send(_ n: Int, every gap: Int64, from start: Int64, merged: Int) {
            for k in 0..<n {
                d.consume(Transition(.raised, event: event, time: start + Int64(k) * gap, cpu: 1, vector: 0x41))
                event += 1
                if k < merged {
                    d.consume(Transition(.coalesced, event: event, time: start + Int64(k) * gap, cpu: 1, vector: 0x41,
                                         aux: KVMX86Adapter.MessageSource.msi.rawValue))
                }
            }
        }
        send(199, every: 2_000, from: 0, merged: 199)              // one short of the count
        send(400, every: 25_000, from: 10_000_000, merged: 400)    // too slow: every message its own episode
        send(400, every: 2_000, from: 30_000_000, merged: 99)      // fast, but the vCPU kept up (< 1/4 merged)
        #expect(d.finish().isEmpty)
        d = MSIFloodDetector(options: .init(mergesVisible: true))
        send(400, every: 2_000, from: 0, merged: 100)
        let found = d.finish()
        #expect(found.count == 1 && found.first?.cpu == 1 && found.first?.vector == 0x41 && found.first?.severity == .warning)
        d = MSIFloodDetector(options: .init(mergesVisible: false))
        send(200, every: 20_000, from: 0, merged: 0)
        #expect(d.finish().count == 1)
    }

    @Test("real recordings: no MSI flood (virtio bursts during boot are normal)")
    func realRecordings() throws {
        let root = AnalyzerTestSupport.root.appendingPathComponent("traces").path
        var files = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasPrefix("qemu-x86-") && $0.hasSuffix(".log.zst") }.map { root + "/" + $0 }
        files += try FileManager.default.contentsOfDirectory(atPath: root + "/kvm").filter { $0.hasSuffix(".trace.txt") }.map { root + "/kvm/" + $0 }
        #expect(files.count >= 20)
        for f in files {
            let (reader, _) = try Recorder.open(f)
            let report = try Analyzer.analyze(reader, options: Analyzer.Options(only: [.interruptStorm]))
            #expect(report.findings.allSatisfy { $0.irq != nil }, "\(f): \(report.findings.map(\.explanation))")
        }
    }
}
