import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import TraceFormat

/// The VMX/SVM flavour of the KVM adapter. No VMX or SVM host is available on these machines (they
/// run kvm_pvm), so these tests use a CONSTRUCTED trace (Fixtures/vmx-constructed.trace.txt, made by
/// scripts/constructed/make-vmx-fixture.py) in the exact Linux 6.18 tracepoint formats, following
/// KVM's event order (lapic.c, vmx.c): MSI, IPI to a halted vCPU, IOAPIC level cycle, TPR blocking,
/// nested interrupts, a re-injection, PV EOI, a spurious EOI, and an IPI whose injection prints
/// before its acceptance on another CPU's clock.
@Suite("Replay of KVM traces from VMX/SVM hosts (constructed trace)")
struct KVMHardwareReplayTests {
    static let fixture = fixtureLines("vmx-constructed.trace.txt")

    func check(_ lines: [String]) throws -> ReplayReport {
        try replay(text: Array((lines.joined(separator: "\n") + "\n").utf8))
    }

    @Test("the constructed VMX trace replays with no divergence, every observation checked")
    func agree() throws {
        #expect(Self.fixture.count > 90)
        let r = try check(Self.fixture)
        #expect(r.adapter == "kvm-vmx")
        #expect(r.divergences.isEmpty, "\(r.divergences)")
        #expect(r.observationsChecked == r.observationsTotal)
        #expect(r.observationsChecked >= 25)
        #expect(r.reordered == 1)
    }

    @Test("record writes the KVM flavour it infers into the trace header")
    func flavourInHeader() throws {
        func flavour(_ lines: [String]) throws -> String? {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-flavour-\(UUID().uuidString).txt").path
            FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
            defer { try? FileManager.default.removeItem(atPath: path) }
            return try Recorder.open(path).0.metadata.kvmFlavour
        }
        #expect(try flavour(Self.fixture) == "vmx")
        #expect(try flavour(Self.fixture.map { $0.replacingOccurrences(of: "reason HLT", with: "reason hlt").replacingOccurrences(of: "reason EXTERNAL_INTERRUPT", with: "reason interrupt").replacingOccurrences(of: "reason APIC_ACCESS", with: "reason npf").replacingOccurrences(of: "reason EPT_MISCONFIG", with: "reason npf").replacingOccurrences(of: "reason EPT_VIOLATION", with: "reason npf").replacingOccurrences(of: "reason MSR_WRITE", with: "reason msr").replacingOccurrences(of: "reason APIC_WRITE", with: "reason npf") }) == "svm")
        let pvm = root.appendingPathComponent("traces/kvm/pvm-msi.trace.txt").path
        #expect(try Recorder.open(pvm).0.metadata.kvmFlavour == "pvm")
    }

    @Test("SVM exit reasons select the SVM flavour; the same LAPIC rules apply")
    func svm() throws {
        let svm = Self.fixture.map {
            $0.replacingOccurrences(of: "reason APIC_ACCESS", with: "reason npf").replacingOccurrences(of: "reason EXTERNAL_INTERRUPT", with: "reason interrupt")
                .replacingOccurrences(of: "reason HLT", with: "reason hlt").replacingOccurrences(of: "reason MSR_WRITE", with: "reason msr")
                .replacingOccurrences(of: "reason EPT_MISCONFIG", with: "reason npf").replacingOccurrences(of: "reason EPT_VIOLATION", with: "reason npf")
                .replacingOccurrences(of: "reason APIC_WRITE", with: "reason avic_unaccelerated_access")
        }
        let r = try check(svm)
        #expect(r.adapter == "kvm-svm")
        #expect(r.divergences.isEmpty, "\(r.divergences)")
    }

    @Test("with APICv the hardware's deliveries and EOIs are unchecked, not divergences")
    func apicv() throws {
        var lines: [String] = []
        for l in Self.fixture {
            if l.contains("kvm_inj_virq: IRQ") { continue }   // delivered by the CPU, not injected by KVM
            if l.contains("kvm_eoi: apicid 0") && !l.contains("vector 49") { continue }   // edge EOIs: no exit
            lines.append(l)
            if l.contains("kvm_apic_accept_irq"), let r = l.range(of: "kvm_apic_accept_irq: ") {
                lines.append(l.replacingCharacters(in: r, with: "kvm_apicv_accept_irq: "))
            }
        }
        let r = try check(lines)
        #expect(r.divergences.isEmpty, "\(r.divergences)")
        #expect(r.unchecked.keys.contains { $0.contains("APICv") })
    }

    @Test("after a posted-interrupt IRTE update for a vCPU its deliveries and EOIs are the hardware's: unchecked, not divergences")
    func postedInterrupts() throws {
        var lines = Self.fixture
        let pi = "  qemu-system-x86-4200    [001] .....   100.000050: kvm_pi_irte_update: PI is enabled and being updated for irq 42, vcpu 0, gsi: 0x1c, gvec: 0x22"
        lines.insert(pi, at: 2)
        lines.removeAll { $0.contains("kvm_eoi: apicid 0 vector 97") }    // would block 0x41 without posting
        let r = try check(lines)
        #expect(r.divergences.isEmpty, "\(r.divergences)")
        #expect(r.unchecked.keys.contains { $0.contains("APICv") })
        var unposted = Self.fixture
        unposted.removeAll { $0.contains("kvm_eoi: apicid 0 vector 97") }
        #expect(try !check(unposted).divergences.isEmpty)
    }

    /// One event altered or deleted at a time: each must diverge.
    @Test("priority inversions, missing EOIs and acks, wrong EOI and reinjected vectors, unaccepted injections are detected")
    func mutations() throws {
        let cases: [(String, Int, (String) -> String?)] = [
            ("kvm_inj_virq: IRQ 0x61", 1, { $0.replacingOccurrences(of: "0x61", with: "0x41") }),            // TPR 0x50 blocks 0x41
            ("kvm_eoi: apicid 0 vector 97", 1, { _ in nil }),                                                  // 0x61 stays in service
            ("kvm_eoi: apicid 0 vector 65", 1, { $0.replacingOccurrences(of: "vector 65", with: "vector 66") }),
            ("IRQ 0x22 [reinjected]", 1, { $0.replacingOccurrences(of: "0x22", with: "0x23") }),
            ("kvm_apic_accept_irq: apicid 0 vec 34", 1, { _ in nil }),                                         // injected, never accepted
            ("kvm_ack_irq: irqchip IOAPIC pin 10", 1, { _ in nil }),
            ("kvm_pv_eoi: apicid 1 vector 251", 1, { $0.replacingOccurrences(of: "251", with: "250") }),
            ("apic_write APIC_TASKPRI = 0x50", 1, { $0.replacingOccurrences(of: "0x50", with: "0x70") }),      // blocks 0x61 too
            ("apic_write APIC_TASKPRI = 0x0", 1, { _ in nil }),                                                // 0x41 stays blocked
            ("kvm_inj_virq: IRQ 0xfb", 1, { $0.replacingOccurrences(of: "0xfb", with: "0xfa") }),
            ("kvm_apic_accept_irq: apicid 0 vec 240", 1, { $0.replacingOccurrences(of: "vec 240", with: "vec 241") }),
            ("kvm_eoi: apicid 0 vector -1", 1, { $0.replacingOccurrences(of: "vector -1", with: "vector 65") }),
        ]
        for (match, occurrence, change) in cases {
            var l = Self.fixture
            var seen = 0
            guard let k = l.indices.first(where: { l[$0].contains(match) && { seen += 1; return seen == occurrence }() }) else {
                Issue.record("no \(match) in the fixture"); continue
            }
            if let c = change(l[k]) { l[k] = c } else { l.remove(at: k) }
            #expect(try !check(l).divergences.isEmpty, "not detected: \(match)")
        }
    }

    /// The constructed trace, then the guest programs the 8259 pair (ICW1–4: master base 0x30, slave
    /// base 0x38, slave on input 2; IRQ 0–2 and 8 unmasked) and raises IRQ 0 and IRQ 8 (through the
    /// cascade) with userspace KVM_IRQ_LINE; each reaches vCPU 0 as ExtINT through LINT0, which KVM
    /// leaves in ExtINT mode for the BSP from reset. The vectors follow from the ICW2 bases (8259A
    /// data sheet: vector = base | input), not from our model.
    static func extINTSegment(master: UInt8 = 0x30, slave: UInt8 = 0x38) -> [String] {
        var t = 1000
        func at() -> String { t += 7; return String(format: "100.%06d", t) }
        func cpu0(_ e: String) -> String { "       CPU 0/KVM-4242    [002] .....   \(at()): \(e)" }
        func dev(_ e: String) -> String { " qemu-system-x86-4200    [001] ...1.   \(at()): \(e)" }
        func pio(_ port: Int, _ value: Int) -> [String] {
            [cpu0("kvm_exit: vcpu 0 reason IO_INSTRUCTION rip 0xffffffff81000010 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000 requests 0x0000000000000000"),
             cpu0("kvm_pio: pio_write at 0x\(String(port, radix: 16)) size 1 count 1 val 0x\(String(value, radix: 16)) "),
             cpu0("kvm_entry: vcpu 0, rip 0xffffffff81000010 intr_info 0x00000000 error_code 0x00000000")]
        }
        func raise(_ gsi: Int, chip: Int) -> [String] {
            [1, 0].flatMap { level in
                [dev("kvm_set_irq: gsi \(gsi) level \(level) source 0"), dev("kvm_pic_set_irq: chip \(chip) pin \(gsi & 7) (edge)"),
                 dev("kvm_ioapic_set_irq: pin \(gsi) dst 0 vec 0 (Fixed|physical|edge|masked)")]
            }
        }
        func inject(_ v: UInt8) -> [String] {
            [cpu0("kvm_exit: vcpu 0 reason EXTERNAL_INTERRUPT rip 0xffffffff81000010 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000 requests 0x0000000000000000"),
             cpu0("kvm_inj_virq: IRQ 0x\(String(v, radix: 16))"),
             cpu0("kvm_entry: vcpu 0, rip 0xffffffff81000010 intr_info 0x00000000 error_code 0x00000000")]
        }
        var l: [String] = []
        for (port, v) in [(0x20, 0x11), (0x21, Int(master)), (0x21, 0x04), (0x21, 0x01), (0xA0, 0x11), (0xA1, Int(slave)), (0xA1, 0x02), (0xA1, 0x01),
                          (0x21, 0xF8), (0xA1, 0xFE)] {
            l += pio(port, v)
        }
        l += raise(0, chip: 0) + inject(master) + pio(0x20, 0x20)
        l += raise(8, chip: 1) + inject(slave) + pio(0xA0, 0x20) + pio(0x20, 0x20)
        l += raise(1, chip: 0) + inject(master | 1) + pio(0x20, 0x20)
        return l
    }

    @Test("ExtINT: the vector KVM injects from the 8259 (through LINT0) is its acknowledge, cascade included")
    func extINT() throws {
        let r = try check(Self.fixture + Self.extINTSegment())
        let before = try check(Self.fixture)
        #expect(r.divergences.isEmpty, "\(r.divergences)")
        #expect(!r.unchecked.keys.contains { $0.contains("ExtINT") }, "\(r.unchecked)")
        #expect(r.observationsChecked == r.observationsTotal)
        // The three injections and the six kvm_pic_set_irq and kvm_ioapic_set_irq each.
        #expect(r.observationsChecked - before.observationsChecked >= 15)
        // A wrong vector for any of the three (a wrong base, a wrong input, a slave vector from the master) is detected.
        let segment = Self.extINTSegment()
        for k in segment.indices where segment[k].contains("kvm_inj_virq") {
            for wrong in ["0x30", "0x31", "0x38", "0x39"] where !segment[k].hasSuffix(wrong) {
                var l = segment
                l[k] = String(l[k].dropLast(4)) + wrong
                #expect(try !check(Self.fixture + l).divergences.isEmpty, "not detected: \(l[k])")
            }
        }
        // Masking LINT0 (as Linux does once the IOAPIC is set up) takes the 8259 away from the vCPU.
        var l = Self.fixture + ["       CPU 0/KVM-4242    [002] .....   100.000900: kvm_apic: apic_write APIC_LVT0 = 0x10700"] + segment
        #expect(try !check(l).divergences.isEmpty)
        l = Self.fixture + ["       CPU 0/KVM-4242    [002] .....   100.000900: kvm_apic: apic_write APIC_LVT0 = 0x700"] + segment
        #expect(try check(l).divergences.isEmpty)
    }
}
