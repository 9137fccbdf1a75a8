import Foundation
import Testing
@testable import Recorder
@testable import TraceFormat

/// The real KVM recordings in traces/kvm (made by scripts/kvm-guest/record-kvm-traces.sh on a
/// kvm_pvm host): tracefs text, `trace-cmd report` text and `perf script` text.
let kvmTextSamples: [String] = {
    let dir = packageRoot.appendingPathComponent("traces/kvm").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
        .filter { $0.hasSuffix(".trace.txt") || $0.hasSuffix(".report.txt") || $0.hasSuffix(".perf.txt") }
        .sorted().map { dir + "/" + $0 }
}()

@Suite("Real KVM text recordings")
struct KVMSampleTests {
    @Test("the KVM samples are there")
    func present() {
        #expect(kvmTextSamples.filter { $0.hasSuffix(".trace.txt") }.count >= 7)
        #expect(kvmTextSamples.contains { $0.hasSuffix(".report.txt") })
        #expect(kvmTextSamples.contains { $0.hasSuffix(".perf.txt") })
    }

    @Test("each sample: detected format, byte-exact text round trip, per-name counts as in the text",
          arguments: kvmTextSamples)
    func sample(path: String) throws {
        let text = try InputFile(path: path).data
        let (reader, result) = try recordText(Array(text))
        #expect(result.diagnostics.malformedLines == 0)
        let expectedSource: SourceKind = path.hasSuffix(".perf.txt") ? .perfScript : path.hasSuffix(".report.txt") ? .traceCmdReport : .ftraceText
        #expect(reader.metadata.source == expectedSource)
        #expect(reader.metadata.arch == .x86_64)
        #expect(try exportText(reader) == Array(text))
        let (sampled, _) = try recordText(Array(text), options: RecordOptions(level: 3))
        #expect(try exportText(sampled) == Array(text))
        // Independent count: the word before the second ": " after the "[CPU]" field.
        var expected: [String: Int] = [:]
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("cpus=") {
            guard let cpu = line.range(of: #"\[\d+\]"#, options: .regularExpression) else { continue }
            let rest = line[cpu.upperBound...]
            guard let colon = rest.range(of: ": ") else { continue }
            var name = rest[colon.upperBound...].drop { $0 == " " }.prefix { $0 != ":" || false }
            if let sys = name.firstIndex(of: ":") { name = name[..<sys] }
            var n = String(name)
            if path.hasSuffix(".perf.txt") {
                // perf prints "system:event:"; the event name is the part after the system.
                let parts = rest[colon.upperBound...].drop { $0 == " " }.split(separator: ":", maxSplits: 2)
                n = String(parts[1])
            }
            expected[n, default: 0] += 1
        }
        let stats = try TraceStats.collect(reader)
        #expect(stats.byName == expected)
        // No line fell back to a whole-line string (the tokenizer's templates reprint exactly).
        for id in 0..<UInt32(reader.catalog.count) {
            let t = reader.catalog[id]
            #expect(t.pieces != [.string], "a line of \(t.name) was stored whole in \(path)")
        }
        // Every interrupt-path event of the kvm system is typed.
        let interrupt = ["kvm_set_irq", "kvm_msi_set_irq", "kvm_ioapic_set_irq", "kvm_pic_set_irq", "kvm_apic_accept_irq",
                         "kvm_eoi", "kvm_apic_ipi", "kvm_apic", "kvm_ack_irq", "kvm_vcpu_wakeup", "kvm_userspace_exit",
                         "kvm_mmio", "kvm_pio"]
        try reader.forEachBatch { b in
            for i in 0..<b.count {
                let t = reader.catalog[b.templates[i]]
                if interrupt.contains(t.name) { #expect(t.binding != nil, "\(t.name) untyped in \(path)") }
            }
        }
    }

    @Test("typed KVM fields: vectors, pins, APIC IDs in hex, flags")
    func fields() throws {
        let path = kvmTextSamples.first { $0.hasSuffix("pvm-coalesce.trace.txt") }!
        let (reader, _) = try recordText(Array(try InputFile(path: path).data))
        var coalescedSeen = false
        var vectors = Set<Int64>()
        try reader.forEachBatch { b in
            for i in 0..<b.count {
                let t = reader.catalog[b.templates[i]]
                guard let binding = t.binding else { continue }
                if t.name == "kvm_ioapic_set_irq", case .text(let c)? = binding.source(named: "coalesced"), c.contains("coalesced") {
                    coalescedSeen = true
                    #expect(b.number(i, binding.source(role: .dest)!) == 0xf)
                }
                if t.name == "kvm_apic_accept_irq", let v = b.number(i, binding.source(role: .vector)!) { vectors.insert(v) }
            }
        }
        #expect(coalescedSeen)
        #expect(!vectors.isEmpty && vectors.allSatisfy { (0...255).contains($0) })
    }
}
