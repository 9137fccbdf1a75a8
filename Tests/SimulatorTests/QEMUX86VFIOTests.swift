import Foundation
import Testing
import Recorder
import Replayer
@testable import Simulator
import TraceFormat

/// A VFIO-assigned MSI-X device in the qemu-x86 output (x86-q35-vfio) and its replay on the
/// MSI-X table model: simulated traces only (no VFIO device was available to record one).
@Suite("Simulator + Replayer: VFIO MSI-X (x86-q35-vfio)")
struct QEMUX86VFIOTests {
    static func lines(_ r: TraceReader) throws -> [(name: String, text: String)] {
        var out: [(String, String)] = []
        try r.forEachBatch { b in
            for i in 0..<b.count { out.append((r.catalog[b.templates[i]].name, "")) }
        }
        return out
    }

    @Test("clean runs: masked interrupts latch, unmasks send them, 0 divergences, the vfio events checked")
    func cleanRuns() throws {
        for seed: UInt64 in [1, 2, 3] {
            let reader = try QEMUX86SimulationTests.reader(BuiltinScenarios.named("x86-q35-vfio")!, seed: seed, durationNs: 100_000_000)
            let names = try Self.lines(reader).map(\.name)
            let masked = zip(names, names.dropFirst()).filter { $0 == ("vfio_msix_pba_enable", "vfio_msi_interrupt") }.count
            #expect(masked > 50, "seed \(seed): \(masked) interrupts while masked")
            #expect(names.filter { $0 == "vfio_msix_vector_release" }.count > 100)
            // An unmask with a pending bit sends at once on the unmasking thread.
            var sentAtUnmask = 0
            for (k, n) in names.enumerated() where n == "vfio_msix_vector_do_use" {
                var j = k + 1
                while j < names.count, names[j] == "vfio_msix_pba_disable" { j += 1 }
                if j < names.count, names[j] == "apic_deliver_irq" { sentAtUnmask += 1 }
            }
            #expect(sentAtUnmask > 20, "seed \(seed)")
            let report = try Replayer.check(reader)
            #expect(report.divergences.isEmpty, "seed \(seed): \(report.divergences.prefix(3))")
            #expect(report.observationsChecked * 100 >= report.observationsTotal * 80, "\(report.unchecked)")
            #expect(report.unchecked.keys.allSatisfy { !$0.hasPrefix("vfio") || $0.contains("not shown yet") }, "\(report.unchecked)")
        }
    }

    @Test("msix-unmask-lost: one divergence, at the unmask (vfio_msix_vector_do_use) the ground truth names")
    func unmaskLost() throws {
        for seed: UInt64 in [1, 2, 3] {
            let reader = try QEMUX86SimulationTests.reader(BuiltinScenarios.named("x86-q35-vfio")!, faults: ["msix-unmask-lost"], seed: seed)
            let truth = try #require(reader.metadata.groundTruth?.first)
            #expect(reader.metadata.groundTruth?.count == 1 && truth.expect == "lost_interrupt")
            let report = try Replayer.check(reader)
            #expect(report.divergences.count == 1, "\(report.divergences)")
            let d = try #require(report.divergences.first)
            #expect(d.what.contains("unmasked") && d.expected.contains("vector \(truth.vector ?? -1) to APIC \(truth.cpu)"))
            #expect(abs(d.timeNs - truth.timeNs) < 2_000)
        }
    }

    @Test("the vfio-msix device kind is refused outside qemu-x86, and the fault with it")
    func outputs() throws {
        var o = Simulator.Options(scenario: BuiltinScenarios.named("x86-q35-vfio")!)
        o.output = "kvm-vmx"
        #expect(throws: IrqtraceError.self) { try Simulator.run(o, to: OutputFile()) }
        let kind = try #require(FaultCatalog.named("msix-unmask-lost"))
        #expect(kind.outputs == ["qemu-x86": "diverges"] && kind.notExpressible["kvm-vmx"] != nil)
    }
}
