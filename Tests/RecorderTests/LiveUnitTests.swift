import Foundation
import Testing
@testable import Recorder
import TraceFormat

/// The live recorder's pieces that do not need a host: event-set resolution, stop triggers, the
/// ring-buffer page scan and the in-memory trace.dat image.
@Suite("live recording: pieces")
struct LiveUnitTests {
    let available: [String: Set<String>] = [
        "kvm": ["kvm_exit", "kvm_entry", "kvm_msi_set_irq", "kvm_eoi", "kvm_emulate_insn", "kvm_pio", "kvm_age_hva"],
        "irq": ["irq_handler_entry", "irq_handler_exit"],
        "irq_vectors": ["local_timer_entry"],
    ]

    @Test("--events: named sets, systems, single events, exclusions; unknown names are errors")
    func eventSets() throws {
        let d = try LiveEventSet(spec: "kvm-irq", available: available)
        #expect(d.events.map(\.description) == ["kvm:kvm_entry", "kvm:kvm_eoi", "kvm:kvm_exit", "kvm:kvm_msi_set_irq", "kvm:kvm_pio"])
        let all = try LiveEventSet(spec: "kvm,-kvm_pio", available: available)
        #expect(!all.events.contains { $0.name == "kvm_emulate_insn" || $0.name == "kvm_age_hva" || $0.name == "kvm_pio" })
        let host = try LiveEventSet(spec: "kvm:kvm_eoi,host-irq", available: available)
        #expect(host.events.map(\.description) == ["irq:irq_handler_entry", "irq:irq_handler_exit", "irq_vectors:local_timer_entry", "kvm:kvm_eoi"])
        let sys = try LiveEventSet(spec: "irq/*,local_timer_entry", available: available)
        #expect(sys.events.count == 3)
        #expect(throws: IrqtraceError.self) { try LiveEventSet(spec: "kvm:kvm_nope", available: available) }
        #expect(throws: IrqtraceError.self) { try LiveEventSet(spec: "nosys/*", available: available) }
        #expect(throws: IrqtraceError.self) { try LiveEventSet(spec: "-kvm", available: available) }
    }

    @Test("--stop-on halt: a vCPU in HLT longer than the limit fires; kvm_entry ends the halt")
    func haltTrigger() throws {
        #expect(try StopTrigger(parsing: "halt:1:2.5") == .halt(vcpu: 1, seconds: 2.5))
        #expect(try StopTrigger(parsing: "halt:any:10") == .halt(vcpu: nil, seconds: 10))
        #expect(throws: IrqtraceError.self) { try StopTrigger(parsing: "halt:x:1") }
        #expect(throws: IrqtraceError.self) { try StopTrigger(parsing: "wfi:0:1") }
        var w = StopTriggerWatch([.halt(vcpu: 1, seconds: 2)])
        let s: Int64 = 1_000_000_000
        w.observe(name: "kvm_exit", args: " vcpu 1 reason HLT rip 0xffffffff81000010 info1 0x0", time: 10 * s)
        w.observe(name: "kvm_exit", args: " vcpu 0 reason HLT rip 0x0", time: 10 * s)
        #expect(w.fired(now: 11 * s) == nil)
        #expect(w.fired(now: 13 * s)?.hasPrefix("vCPU 1 halted") == true)
        w.observe(name: "kvm_entry", args: " vcpu 1, rip 0xffffffff81000010", time: 12 * s)
        #expect(w.fired(now: 20 * s) == nil, "vCPU 0 is halted but the trigger names vCPU 1")
        var any = StopTriggerWatch([.halt(vcpu: nil, seconds: 1)])
        any.observe(name: "kvm_exit", args: " vcpu 3 reason HLT rip 0x0", time: 0)
        any.observe(name: "kvm_exit", args: " vcpu 3 reason EXTERNAL_INTERRUPT rip 0x0", time: s / 2)
        #expect(any.fired(now: 5 * s) == nil, "an exit for another reason means it ran")
    }

    /// A ring-buffer page (little-endian, 8-byte commit) with the given events: (delta, payload words).
    func page(ts: UInt64, events: [(UInt32, Int)], missed: UInt64? = nil) -> [UInt8] {
        var data: [UInt8] = []
        for (delta, words) in events {
            let w = UInt32(words) | (delta << 5)
            withUnsafeBytes(of: w.littleEndian) { data += $0 }
            data += [UInt8](repeating: 0xAB, count: words * 4)
        }
        var p: [UInt8] = []
        withUnsafeBytes(of: ts.littleEndian) { p += $0 }
        var commit = UInt64(data.count)
        if missed != nil { commit |= 1 << 31 | 1 << 30 }
        withUnsafeBytes(of: commit.littleEndian) { p += $0 }
        p += data
        if let m = missed { withUnsafeBytes(of: m.littleEndian) { p += $0 } }
        return p + [UInt8](repeating: 0, count: 4096 - p.count)
    }

    @Test("page scan: first and last event times, event count, missed-events count, damaged pages rejected")
    func pageScan() throws {
        let p = try #require(RingPage(cpu: 1, bytes: page(ts: 1000, events: [(5, 3), (10, 2), (7, 4)], missed: 42), longSize: 8))
        #expect(p.firstTS == 1005 && p.lastTS == 1022 && p.events == 3 && p.missed == 42)
        var bad = page(ts: 1000, events: [(5, 3)])
        bad[8] = 0xFF; bad[9] = 0xFF   // commit beyond the page
        #expect(RingPage(cpu: 0, bytes: bad, longSize: 8) == nil)
    }

    @Test("the in-memory trace.dat image reads back through the trace.dat reader")
    func image() throws {
        let headerPage = Array("""
        \tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
        \tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
        \tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
        \tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;

        """.utf8)
        // This kernel's (6.18) events/kvm/kvm_eoi/format.
        let format = """
        name: kvm_eoi
        ID: 94
        format:
        \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
        \tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
        \tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
        \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

        \tfield:__u32 apicid;\toffset:8;\tsize:4;\tsigned:0;
        \tfield:int vector;\toffset:12;\tsize:4;\tsigned:1;

        print fmt: "apicid %x vector %d", REC->apicid, REC->vector

        """
        let id = try #require(format.split(separator: "\n").first { $0.hasPrefix("ID: ") }.flatMap { Int($0.dropFirst(4)) })
        // One kvm_eoi record: common header (type u16, flags u8, preempt u8, pid i32) + apicid u32 + vector i32.
        var rec: [UInt8] = []
        withUnsafeBytes(of: UInt16(id).littleEndian) { rec += $0 }
        rec += [0, 0]
        withUnsafeBytes(of: Int32(4242).littleEndian) { rec += $0 }
        withUnsafeBytes(of: UInt32(1).littleEndian) { rec += $0 }
        withUnsafeBytes(of: Int32(52).littleEndian) { rec += $0 }
        var pg = page(ts: 5_000_000_000, events: [(0, rec.count / 4)])
        for (k, b) in rec.enumerated() { pg[16 + 4 + k] = b }
        let scanned = try #require(RingPage(cpu: 1, bytes: pg, longSize: 8))
        let img = LiveTraceDatImage(pageSize: 4096, cpuCount: 2, headerPage: headerPage, headerEvent: [],
                                    formats: [("kvm", Array(format.utf8))], kallsyms: [], traceClock: "local")
        let bytes = img.image(pages: [[], [scanned]], cmdlines: Array("4242 tinyvmm\n".utf8))
        let reader = try TraceDatReader(data: Data(bytes), path: "image")
        var lines: [String] = []
        try reader.forEachLine { lines.append(String(decoding: $0.line, as: UTF8.self)) }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("tinyvmm-4242") == true)
        #expect(lines.first?.hasSuffix("kvm_eoi:              apicid 1 vector 52") == true, "\(lines)")
    }
}
