import Foundation
import Testing
@testable import Recorder
@testable import TraceFormat

/// Layouts of ftrace-derived text. Each line is checked for an exact reprint and for the fields the
/// tokenizer must find in it (pid, cpu, time, name); the lines follow the kernel's and tools' printf
/// layouts (`%16s-%-7d`, `(%7d)`, `[%03d]`, `%5lu.%06lu`).
@Suite("ftrace text")
struct FtraceTextTests {
    struct Case: Sendable, CustomStringConvertible {
        var line: String
        var pid: Int32
        var cpu: Int32
        var time: Int64
        var name: String
        var description: String { line }
    }

    static let cases: [Case] = [
        Case(line: "         tinyvmm-4242    [001] .....   123.456789: kvm_set_irq: gsi 4 level 1 source 0",
             pid: 4242, cpu: 1, time: 123_456_789_000, name: "kvm_set_irq"),
        Case(line: "          <idle>-0       [000] d.h1.  9999.000001: kvm_eoi: apicid 0 vector 236",
             pid: 0, cpu: 0, time: 9_999_000_001_000, name: "kvm_eoi"),
        // tgid column
        Case(line: "         tinyvmm-4242    (   4240) [001] .....   123.456789: kvm_exit: vcpu 0 reason HLT rip 0xfff0 info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000",
             pid: 4242, cpu: 1, time: 123_456_789_000, name: "kvm_exit"),
        Case(line: "          <idle>-0       (-------) [003] d..2.   5.000000: kvm_vcpu_wakeup: wait time 1000 ns, polling valid",
             pid: 0, cpu: 3, time: 5_000_000_000, name: "kvm_vcpu_wakeup"),
        // no irq-info column
        Case(line: "            bash-1977  [000]  1234.567890: kvm_apic_accept_irq: apicid 1 vec 52 (Fixed|edge)",
             pid: 1977, cpu: 0, time: 1_234_567_890_000, name: "kvm_apic_accept_irq"),
        // task names with spaces, brackets, colons and dashes
        Case(line: "  kworker/u8:3-ev [x]-17 [002] ..... 77.000100: kvm_msi_set_irq: dst 1 vec 34 (Fixed|physical|edge)",
             pid: 17, cpu: 2, time: 77_000_100_000, name: "kvm_msi_set_irq"),
        Case(line: "CPU 0/KVM-3377    [001] .....   10.250000: kvm_inj_virq: IRQ 0xec",
             pid: 3377, cpu: 1, time: 10_250_000_000, name: "kvm_inj_virq"),
        // nanosecond timestamps, raw counters
        Case(line: "   qemu-system-x86-9001    [001] .....   123.456789012: kvm_pic_set_irq: chip 0 pin 0 (edge|masked)",
             pid: 9001, cpu: 1, time: 123_456_789_012, name: "kvm_pic_set_irq"),
        Case(line: "         tinyvmm-4242    [001] ..... 18446744073: kvm_ack_irq: irqchip IOAPIC pin 4",
             pid: 4242, cpu: 1, time: 18_446_744_073, name: "kvm_ack_irq"),
        // trace-cmd report (3.x): padded event names
        Case(line: "         tinyvmm-4242  [001] .....   123.456789: kvm_ioapic_set_irq:   pin 4 dst 1 vec 52 (Fixed|physical|level)",
             pid: 4242, cpu: 1, time: 123_456_789_000, name: "kvm_ioapic_set_irq"),
        // perf script
        Case(line: "         tinyvmm  4242 [001]   123.456789:            kvm:kvm_eoi: apicid 0 vector 52",
             pid: 4242, cpu: 1, time: 123_456_789_000, name: "kvm_eoi"),
        // arm64
        Case(line: "    qemu-kvm-812     [003] d..1.  42.100000: vgic_update_irq_pending: VCPU: 1, IRQ 27, level: 1",
             pid: 812, cpu: 3, time: 42_100_000_000, name: "vgic_update_irq_pending"),
    ]

    @Test("each layout tokenizes to the right fields and reprints exactly", arguments: cases)
    func layout(c: Case) throws {
        var t = FtraceLineTokenizer()
        var parsed = ParsedLine()
        let bytes = Array(c.line.utf8)
        let outcome = bytes.withUnsafeBytes { t.tokenize($0, into: &parsed) }
        #expect(outcome == .event)
        #expect(parsed.thread == c.pid)
        #expect(parsed.cpu == c.cpu)
        #expect(parsed.time == c.time)
        #expect(String(decoding: bytes[parsed.nameStart..<parsed.nameEnd], as: UTF8.self) == c.name)
        var out: [UInt8] = []
        let ok = parsed.skeleton.bytes.withUnsafeBufferPointer { sk in
            parsed.values.withUnsafeBufferPointer { v in
                SkeletonRenderer.render(sk, values: v, time: parsed.time, cpu: parsed.cpu, thread: parsed.thread, to: &out)
            }
        }
        #expect(ok)
        #expect(out == bytes)
        let template = try EventTemplate(name: c.name, skeleton: parsed.skeleton.bytes)
        #expect(template.binding != nil, "no schema bound for \(c.name)")
    }

    @Test("a whole tracefs file: headers kept, lost-event markers kept, malformed lines reported")
    func wholeFile() throws {
        let text = """
        # tracer: nop
        #
        # entries-in-buffer/entries-written: 4/5   #P:2
        #
        #           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
        #              | |         |   |||||     |         |
                 tinyvmm-4242    [001] .....   123.456789: kvm_set_irq: gsi 4 level 1 source 0
        CPU:1 [LOST 12 EVENTS]
                 tinyvmm-4242    [001] d..1.   123.456790: kvm_apic_accept_irq: apicid 0 vec 52 (Fixed|edge)
        this line is damaged
                 tinyvmm-4242    [000] d..1.   123.456791: kvm_eoi: apicid 0 vector 52

        """
        let (reader, result) = try recordText(Array(text.utf8), options: RecordOptions(level: 3))
        #expect(reader.metadata.source == .ftraceText)
        #expect(reader.metadata.arch == .x86_64)
        #expect(result.diagnostics.malformedLines == 1)
        #expect(result.diagnostics.examples.first?.contains(":10: ") == true)
        let stats = try TraceStats.collect(reader)
        #expect(stats.byName == ["kvm_set_irq": 1, "lost_events": 1, "kvm_apic_accept_irq": 1, "kvm_eoi": 1])
        #expect(stats.byCPU == [0: 1, 1: 3])
        // Everything but the damaged line reprints.
        let expected = text.split(separator: "\n", omittingEmptySubsequences: false).filter { $0 != "this line is damaged" }.joined(separator: "\n")
        #expect(String(decoding: try exportText(reader), as: UTF8.self) == expected)
    }
}

/// Printed forms of the interrupt events across kernels (old and new x86, VMX and SVM, arm64),
/// as they appear in public reports (shared/reference/real-bugs.md) and kernel sources.
@Suite("Kernel variants of the interrupt events")
struct KernelVariantTests {
    struct Variant: Sendable, CustomStringConvertible {
        var args: String
        var name: String
        var role: FieldRole
        var value: Int64
        var description: String { "\(name): \(args)" }
    }

    static let variants: [Variant] = [
        Variant(args: "irq 52", name: "kvm_inj_virq", role: .vector, value: 52),
        Variant(args: "IRQ 0xb0 [reinjected]", name: "kvm_inj_virq", role: .vector, value: 0xb0),
        Variant(args: "IRQ 0xec", name: "kvm_inj_virq", role: .vector, value: 0xec),
        Variant(args: "Soft/INTn 0x80", name: "kvm_inj_virq", role: .vector, value: 0x80),
        Variant(args: "vcpu 0", name: "kvm_entry", role: .cpu, value: 0),
        Variant(args: "vcpu 1, rip 0xffffffff81000000", name: "kvm_entry", role: .cpu, value: 1),
        Variant(args: "vcpu 2 rip 0xffffffff81000000", name: "kvm_entry", role: .cpu, value: 2),
        Variant(args: "vcpu 3, rip 0xffffffff81a0b2c4 intr_info 0x00000000 error_code 0x00000000", name: "kvm_entry", role: .cpu, value: 3),
        Variant(args: "reason EXTERNAL_INTERRUPT rip 0xffffffff8102d85e info 0 800000ec", name: "kvm_exit", role: .none, value: 0),
        Variant(args: "vcpu 1 reason EXTERNAL_INTERRUPT rip 0xffffffff8102d85e info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x800000ec error_code 0x00000000",
                name: "kvm_exit", role: .cpu, value: 1),
        Variant(args: "vcpu 0 reason npf rip 0xffffffff81063b4c info1 0x0000000200000006 info2 0x00000000fee000b0 intr_info 0x00000000 error_code 0x00000000 requests 0x0000000000000000",
                name: "kvm_exit", role: .cpu, value: 0),
        Variant(args: "TRAP: HSR_EC: 0x0024 (DABT_LOW), PC: 0x0000ffff8a2b1234", name: "kvm_exit", role: .none, value: 0),
        Variant(args: "PC: 0xffff800008123456", name: "kvm_entry", role: .none, value: 0),
        Variant(args: "VCPU: 1, IRQ 27, level: 1", name: "vgic_update_irq_pending", role: .irq, value: 27),
        Variant(args: "Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 32, level: 1", name: "kvm_irq_line", role: .irq, value: 32),
        Variant(args: "VCPU: 0, IRQ 27, level 1", name: "kvm_timer_update_irq", role: .irq, value: 27),
        Variant(args: "dst 1 vec 34 (Fixed|physical|edge|rh)", name: "kvm_msi_set_irq", role: .vector, value: 34),
        Variant(args: "pin 11 dst 0 vec 54 (Fixed|physical|level|masked) (coalesced)", name: "kvm_ioapic_set_irq", role: .pin, value: 11),
        Variant(args: "dst 0 vec 54 (Fixed|physical|level)", name: "kvm_ioapic_delayed_eoi_inj", role: .vector, value: 54),
        Variant(args: "apicid 1 vec 236 (Fixed|edge)", name: "kvm_apicv_accept_irq", role: .vector, value: 236),
        Variant(args: "apicid 0 vector 239", name: "kvm_pv_eoi", role: .vector, value: 239),
        // `%x` printed without 0x: "10" is 0x10, not ten; "1a" is text the schema reads as hex.
        Variant(args: "apicid 10 vec 34 (Fixed|edge)", name: "kvm_apic_accept_irq", role: .apicID, value: 0x10),
        Variant(args: "apicid 1a vec 34 (Fixed|edge)", name: "kvm_apic_accept_irq", role: .apicID, value: 0x1a),
        Variant(args: "apicid 10 vec 34 (Fixed|edge)", name: "kvm_apic_accept_irq", role: .vector, value: 34),
        Variant(args: "PI is enabled for irq 42, vcpu 1, gsi: 0x1c, gvec: 0x22", name: "kvm_pi_irte_update", role: .vector, value: 0x22),
        Variant(args: "irqchip PIC master pin 0", name: "kvm_ack_irq", role: .pin, value: 0),
    ]

    @Test("each printed variant binds to a schema with the right field", arguments: variants)
    func variant(v: Variant) throws {
        let line = "    qemu-kvm-1234    [001] d..1.  100.000001: \(v.name): \(v.args)"
        let (reader, _) = try recordText(Array((line + "\n").utf8))
        var checked = false
        try reader.forEachBatch { b in
            let t = reader.catalog[b.templates[0]]
            let binding = try #require(t.binding, "\(v) bound no schema")
            if v.role != .none {
                let source = try #require(binding.source(role: v.role))
                #expect(b.number(0, source) == v.value)
            }
            checked = true
        }
        #expect(checked)
        #expect(try exportText(reader) == Array((line + "\n").utf8))
    }
}
