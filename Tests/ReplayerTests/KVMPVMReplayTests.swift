import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import TraceFormat

let kvmRecordings = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("traces/kvm").path)) ?? [])
    .filter { $0.hasSuffix(".trace.txt") || $0.hasSuffix(".report.txt") || $0.hasSuffix(".perf.txt") || $0.hasSuffix(".dat") }.sorted()
    .map { root.appendingPathComponent("traces/kvm/" + $0).path }

@Suite("Replay of real KVM recordings (kvm_pvm host)")
struct KVMPVMReplayTests {
    @Test("every recording (text, report, perf, trace.dat) replays with no divergence", arguments: kvmRecordings)
    func agree(path: String) throws {
        let (reader, _) = try Recorder.open(path)
        let r = try Replayer.check(reader)
        #expect(r.adapter == "kvm-pvm")
        #expect(r.divergences.isEmpty, "\(r.divergences.prefix(2))")
        #expect(r.observationsChecked >= 10)
        #expect(r.observationsChecked * 10 >= r.observationsTotal * 9)
    }

    /// Two real recordings (two tinyvmm runs: two VMs, each with vCPU 0 on its own thread) as one trace,
    /// as a host recording of VMs started one after the other holds them: each VM is replayed from
    /// its own reset, and the report counts them.
    @Test("a trace holding two VMs one after another replays each from reset")
    func severalVMs() throws {
        func eventLines(_ name: String) throws -> [String] {
            try sampleLines(kvmRecordings.first { $0.hasSuffix(name) }!).filter { !$0.hasPrefix("#") && !$0.isEmpty }
        }
        let first = try eventLines("pvm-msi.trace.txt"), second = try eventLines("pvm-ipi.trace.txt")
        #expect(try replay(lines: first).vmCount == nil)
        #expect(try replay(lines: second).vmCount == nil)
        let both = try replay(lines: first + second)
        #expect(both.vmCount == 2)
        #expect(both.warnings == nil)
        #expect(both.divergences.isEmpty, "\(both.divergences.prefix(2))")
        #expect(both.json().serialized().contains("\"vms\":2"))
    }

    /// One altered or deleted event of a real recording at a time: each must diverge.
    @Test("altered deliveries, acceptances, acks, redirection entries and register reads are detected")
    func mutations() throws {
        func lines(_ name: String) throws -> [String] {
            let path = kvmRecordings.first { $0.hasSuffix(name) }!
            return try sampleLines(path)
        }
        func diverges(_ l: [String]) throws -> Bool { !(try replay(lines: l).divergences.isEmpty) }
        func mutate(_ name: String, _ match: String, occurrence: Int = 1, _ change: (String) -> String?) throws -> Bool {
            var l = try lines(name)
            var seen = 0
            for k in l.indices where l[k].contains(match) {
                seen += 1
                if seen == occurrence {
                    if let c = change(l[k]) { l[k] = c } else { l.remove(at: k) }
                    return try diverges(l)
                }
            }
            Issue.record("no occurrence \(occurrence) of \(match) in \(name)")
            return false
        }
        let cases: [(String, String, Int, (String) -> String?)] = [
            // A delivered vector that TPR blocks (0x41 under TPR 0x50), or that was never pending.
            ("pvm-tpr.trace.txt", "kvm_eoi: apicid 0 vector 65", 1, { $0.replacingOccurrences(of: "vector 65", with: "vector 66") }),
            ("pvm-msi.trace.txt", "kvm_eoi: apicid 0 vector 49", 1, { $0.replacingOccurrences(of: "vector 49", with: "vector 50") }),
            // An MSI accepted by the wrong APIC, or with the wrong vector.
            ("pvm-msi.trace.txt", "kvm_apic_accept_irq: apicid 1 vec 52", 1, { $0.replacingOccurrences(of: "apicid 1", with: "apicid 0") }),
            ("pvm-ipi.trace.txt", "kvm_apic_accept_irq", 2, { $0.replacingOccurrences(of: " vec ", with: " vec 1") }),
            // A level EOI whose IOAPIC ack is missing, and an ack that no EOI explains.
            ("pvm-ioapic-level.trace.txt", "kvm_ack_irq: irqchip IOAPIC", 1, { _ in nil }),
            ("pvm-ioapic-level.trace.txt", "kvm_ack_irq: irqchip IOAPIC pin 10", 1, { $0.replacingOccurrences(of: "pin 10", with: "pin 11") }),
            // A redirection entry that is not what the guest programmed.
            ("pvm-ioapic-edge.trace.txt", "kvm_ioapic_set_irq", 1, { $0.replacingOccurrences(of: " vec ", with: " vec 1") }),
            // A PPR read that TPR does not explain.
            ("pvm-tpr.trace.txt", "apic_read APIC_PROCPRI = 0x50", 1, { $0.replacingOccurrences(of: "0x50", with: "0x40") }),
            // An 8259 input whose mask the guest's IMR write (0xff) does not explain.
            ("pvm-ioapic-level.trace.txt", "kvm_pic_set_irq: chip 1 pin 2 (edge|masked)", 1, { $0.replacingOccurrences(of: "(edge|masked)", with: "(edge)") }),
            ("pvm-ioapic-level.trace.txt", "pio_write at 0xa1 size 1 count 1 val 0xff", 1, { $0.replacingOccurrences(of: "val 0xff", with: "val 0xfb") }),
            // A deleted delivery: the vector stays pending and the next one is out of order.
            ("pvm-msi.trace.txt", "kvm_eoi: apicid 0 vector 49", 1, { _ in nil }),
        ]
        var detected = 0
        for (name, match, occurrence, change) in cases where try mutate(name, match, occurrence: occurrence, change) { detected += 1 }
        #expect(detected == cases.count, "\(detected) of \(cases.count) mutations detected")
    }
}
