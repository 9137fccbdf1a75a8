import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import TraceFormat

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let x86Samples = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("traces").path)) ?? [])
    .filter { $0.hasPrefix("qemu-x86-") && $0.hasSuffix(".log.zst") }.sorted()
    .map { root.appendingPathComponent("traces/" + $0).path }

/// The lines of a sample (decompressed when .zst), for mutation tests.
func sampleLines(_ path: String) throws -> [String] {
    String(decoding: try InputFile(path: path).data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

/// The lines of a constructed fixture in Tests/ReplayerTests/Fixtures.
func fixtureLines(_ name: String) -> [String] {
    let path = root.appendingPathComponent("Tests/ReplayerTests/Fixtures/" + name).path
    return ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

/// Replays lines as one text input.
func replay(lines: [String]) throws -> ReplayReport {
    try replay(text: Array(lines.joined(separator: "\n").utf8))
}

func replay(text: [UInt8], midFlight: Bool = false) throws -> ReplayReport {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-replay-\(UUID().uuidString).log").path
    FileManager.default.createFile(atPath: path, contents: Data(text))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let (reader, _) = try Recorder.open(path)
    return try Replayer.check(reader, midFlight: midFlight)
}

@Suite("Replay of real QEMU x86 traces")
struct QEMUX86ReplayTests {
    @Test("every real x86 QEMU sample replays with no divergence", arguments: x86Samples)
    func agree(path: String) throws {
        let (reader, _) = try Recorder.open(path)
        let r = try Replayer.check(reader)
        #expect(r.divergences.isEmpty, "\(r.divergences.prefix(3))")
        #expect(r.observationsChecked > 1000)
        if path.contains("intremap") { #expect(r.observationsChecked * 10 > r.observationsTotal * 7) }
        // AMD-Vi remapping through IRTEs: every AMD-Vi observation is checked.
        if path.contains("amdvi-ir") {
            #expect(!r.unchecked.keys.contains { $0.contains("amdvi") || $0.contains("AMD-Vi") }, "\(r.unchecked)")
            #expect(r.observationsChecked * 100 > r.observationsTotal * (path.contains("mttcg") ? 88 : 75))
        }
        // With QEMU's -d int log: every acknowledge is checked, and with per-vCPU threads ≥ 95 % of all.
        if path.contains("dint") {
            #expect(!r.unchecked.keys.contains { $0.hasPrefix("acknowledge") }, "\(r.unchecked)")
            if path.contains("mttcg") { #expect(r.observationsChecked * 100 >= r.observationsTotal * 95, "\(r.unchecked)") }
        }
        // Multi-threaded TCG: each vCPU's LAPIC register reads are predicted.
        if path.contains("mttcg") {
            #expect(r.observationsChecked * 100 > r.observationsTotal * (path.contains("intremap") ? 88 : 75))
            #expect(!r.unchecked.keys.contains("apic_mem_readl (per-vCPU register, vCPU unknown)"))
        }
    }

    @Test("with multi-threaded TCG every deleted delivery report is detected (each target LAPIC must report)")
    func reportDeletionsMTTCG() throws {
        let path = x86Samples.first { $0.contains("q35-intremap-smp2-mttcg") }!
        let lines = try sampleLines(path)
        let reports = lines.indices.filter { lines[$0].contains(":apic_report_irq_delivered ") }
        for k in stride(from: 400, to: reports.count - 10, by: reports.count / 5) {
            var l = lines
            l.remove(at: reports[k])
            #expect(try !replay(text: Array(l.joined(separator: "\n").utf8)).divergences.isEmpty, "report \(k) deleted, not detected")
        }
    }

    @Test("with -d int: a deleted or altered acknowledge, or a deleted delivery report, is detected",
          arguments: ["pc-smp2-dint", "pc-smp2-mttcg-dint", "q35-intremap-smp2-mttcg-dint"])
    func acknowledgeMutations(sample: String) throws {
        let path = try #require(x86Samples.first { $0.hasSuffix(sample + ".log.zst") })
        let lines = try sampleLines(path)
        // Acknowledges of device vectors (Linux: below 0xe0; delivered through the IOAPIC or MSI, not
        // the 8259's; IPIs and the LAPIC timer are above), whose messages name their destination.
        let acks = lines.indices.filter { k in
            guard lines[k].hasPrefix("Servicing hardware INT=0x"), k > 0, !lines[k - 1].contains(":pic_interrupt "),
                  let v = Int(lines[k].dropFirst("Servicing hardware INT=0x".count), radix: 16) else { return false }
            return v < 0xE0
        }
        #expect(acks.count > 100)
        var detected = 0, tried = 0
        for k in stride(from: acks.count / 10, to: acks.count, by: max(1, acks.count / 8)) {
            var deleted = lines
            deleted.remove(at: acks[k])
            var altered = lines
            altered[acks[k]] = "Servicing hardware INT=0x9d"     // a vector nothing uses
            #expect(try !replay(lines: altered).divergences.isEmpty, "altered acknowledge at line \(acks[k] + 1) not detected")
            // A deleted acknowledge shows when its vector comes again to that LAPIC before the log ends.
            tried += 1
            if try !replay(lines: deleted).divergences.isEmpty { detected += 1 }
        }
        #expect(detected * 4 >= tried * 3, "deleted acknowledges detected: \(detected)/\(tried)")
    }

    @Test("AMD-Vi (pass-through): an altered remapping result, request or delivered message is detected")
    func amdviMutations() throws {
        let path = x86Samples.first { $0.contains("q35-amdvi-smp2") }!
        let lines = try sampleLines(path)
        let results = lines.indices.filter { lines[$0].contains(":amdvi_ir_remap_msi (") }
        #expect(results.count > 500)
        for k in [results[10], results[results.count / 2]] {
            for (target, change) in [(k, { (l: String) in l.replacingOccurrences(of: ", data 0x", with: ", data 0x1", options: .backwards) }),
                                     (k - 1, { (l: String) in l.replacingOccurrences(of: "data 0x", with: "data 0x1") }),
                                     (k + 1, { (l: String) in l.replacingOccurrences(of: "vector ", with: "vector 1") })] {
                var l = lines
                l[target] = change(l[target])
                #expect(l[target] != lines[target])
                #expect(try !replay(text: Array(l.joined(separator: "\n").utf8)).divergences.isEmpty, "not detected: \(l[target])")
            }
        }
    }

    @Test("AMD-Vi remapping through IRTEs: an altered IRTE, offset, delivery mode, result or a lost result is detected",
          arguments: ["amdvi-ir-smp2-mttcg", "amdvi-ir-legacy"])
    func amdviRemapMutations(sample: String) throws {
        let path = x86Samples.first { $0.contains(sample) }!
        let lines = try sampleLines(path)
        // IRTE reads whose chain (delivery mode, IntCtl, IRTE address, IRTE, result) is on consecutive lines.
        let chain = [":amdvi_ir_delivery_mode ", ":amdvi_ir_intctl ", ":amdvi_ir_irte ", ":amdvi_ir_irte_", ":amdvi_ir_remap_msi ("]
        let irtes = lines.indices.filter { k in
            k >= 3 && k + 1 < lines.count && (lines[k].contains(":amdvi_ir_irte_val ") || lines[k].contains(":amdvi_ir_irte_ga_val "))
                && zip(chain, (k - 3)...(k + 1)).allSatisfy { lines[$0.1].contains($0.0) }
        }
        #expect(irtes.count > 1000)
        let ga = lines[irtes[0]].contains("ga_val")
        // Flip one bit of the IRTE: RemapEn (bit 0), DM (bit 6), the destination's low bit (bit 8);
        // the vector's low bit (basic: bit 16; GA: high quadword bit 0).
        func flip(_ l: String, _ bit: Int, high: Bool = false) -> String {
            let key = ga ? (high ? "hi 0x" : "lo 0x") : "data 0x"
            let r = l.range(of: key)!
            let digits = l[r.upperBound...].prefix { $0.isHexDigit }
            let v = UInt64(digits, radix: 16)! ^ (1 << UInt64(bit))
            return l.replacingCharacters(in: r.upperBound..<digits.endIndex, with: String(v, radix: 16))
        }
        for k in [irtes[20], irtes[irtes.count / 2]] {
            let cases: [(Int, (String) -> String)] = [
                (k, { flip($0, 0) }), (k, { flip($0, 6) }), (k, { flip($0, 8) }), (k, { ga ? flip($0, 0, high: true) : flip($0, 16) }),
                (k - 1, { $0.replacingOccurrences(of: "offset 0x", with: "offset 0x1") }),
                (k - 2, { $0.replacingOccurrences(of: "int_ctl 0x2", with: "int_ctl 0x1") }),
                (k - 3, { $0.replacingOccurrences(of: "fixed/arbitrated", with: "nmi") }),
                (k + 1, { $0.replacingOccurrences(of: ", data 0x", with: ", data 0x1", options: .backwards) }),
            ]
            for (target, change) in cases {
                var l = lines
                l[target] = change(l[target])
                #expect(l[target] != lines[target])
                #expect(try !replay(text: Array(l.joined(separator: "\n").utf8)).divergences.isEmpty, "not detected: \(l[target])")
            }
            // A result QEMU lost: the next request finds this one open, with a valid IRTE.
            var l = lines
            #expect(l[k + 1].contains(":amdvi_ir_remap_msi ("))
            l.remove(at: k + 1)
            #expect(try !replay(text: Array(l.joined(separator: "\n").utf8)).divergences.isEmpty, "lost result not detected")
        }
    }

    @Test("an altered 8259 acknowledge or register read is detected")
    func picMutations() throws {
        let path = x86Samples.first { $0.contains("pc-smp2.log") }!
        let lines = try sampleLines(path)
        let acks = lines.indices.filter { lines[$0].contains(":pic_interrupt ") }
        let reads = lines.indices.filter { lines[$0].contains(":pic_ioport_read ") }
        #expect(!acks.isEmpty && reads.count > 10)
        var l = lines
        l[acks[0]] = l[acks[0]].replacingOccurrences(of: "intno 8", with: "intno 9")
        #expect(l[acks[0]] != lines[acks[0]])
        #expect(try !replay(text: Array(l.joined(separator: "\n").utf8)).divergences.isEmpty)
        l = lines
        let r = reads[reads.count / 2]
        l[r] = l[r].hasSuffix("0xfb") ? String(l[r].dropLast(4)) + "0xfa" : String(l[r].dropLast(1)) + (l[r].hasSuffix("0") ? "1" : "0")
        #expect(try !replay(text: Array(l.joined(separator: "\n").utf8)).divergences.isEmpty)
    }

    @Test("an altered LAPIC register read of a vCPU (multi-threaded TCG) is detected")
    func registerReadMutation() throws {
        let path = x86Samples.first { $0.contains("mttcg") }!
        let lines = try sampleLines(path)
        let reads = lines.indices.filter { lines[$0].contains(":apic_mem_readl 0x300 ") }
        #expect(reads.count > 500)
        for k in [reads[3], reads[reads.count / 2], reads[reads.count - 2]] {
            var l = lines
            let r = l[k].range(of: #"0x[0-9a-f]{8}$"#, options: .regularExpression)!
            l[k].replaceSubrange(r, with: "0x" + String(format: "%08x", UInt32(l[k][r].dropFirst(2), radix: 16)! ^ 0x100))
            #expect(l[k] != lines[k])
            #expect(try !replay(text: Array(l.joined(separator: "\n").utf8)).divergences.isEmpty)
        }
    }

    @Test("the digest is the same whatever the chunk size")
    func deterministic() throws {
        let path = x86Samples.first { $0.contains("q35-intremap-smp2") }!
        let text = Array(try InputFile(path: path).data)
        let a = try replay(text: text)
        let out = OutputFile()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-chunks-\(UUID().uuidString).log").path
        FileManager.default.createFile(atPath: tmp, contents: Data(text))
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        _ = try Recorder.record(inputs: [tmp], to: out, options: RecordOptions(chunkSize: 4096, level: 1))
        let b = try Replayer.check(try TraceReader(data: Data(out.memory)))
        #expect(a.digest == b.digest)
        #expect(a.observationsChecked == b.observationsChecked)
    }

    /// Single-event mutations of the real trace: each is a divergence.
    @Test("altered remapping, IRTE, request and delivery events are detected")
    func mutations() throws {
        let path = x86Samples.first { $0.contains("q35-intremap-smp2") }!
        let lines = try sampleLines(path)
        func mutate(_ event: String, at occurrence: Int, _ change: (String) -> String) throws -> Int {
            var l = lines
            var seen = 0
            for k in l.indices where l[k].contains(":" + event + " ") {
                seen += 1
                if seen == occurrence { l[k] = change(l[k]); break }
            }
            return try replay(lines: l).divergences.count
        }
        func bumpVector(_ s: String) -> String {
            guard let r = s.range(of: #"vector \d+"#, options: .regularExpression) else { return s }
            let v = Int(s[r].dropFirst(7))!
            return s.replacingCharacters(in: r, with: "vector \(v + 1)")
        }
        var detected = 0, total = 0
        for occurrence in [5, 50, 200, 600, 1000] {
            for (event, change) in [("vtd_ir_remap", bumpVector), ("apic_deliver_irq", bumpVector),
                                    ("vtd_ir_remap_msi", { $0.replacingOccurrences(of: "data 0x40", with: "data 0x41") }),
                                    ("vtd_ir_irte_get", { $0.replacingOccurrences(of: "high 0x1", with: "high 0x3") }),
                                    ("vtd_ir_remap_msi_req", { $0.replacingOccurrences(of: "addr 0xfee", with: "addr 0xfef") })] as [(String, (String) -> String)] {
                total += 1
                if try mutate(event, at: occurrence, change) > 0 { detected += 1 }
            }
        }
        #expect(detected == total, "\(detected) of \(total) mutations detected")
    }

    /// QEMU's delivered counter: a report changed at random points is a divergence; so is a deleted
    /// report that counted +1 (the next one then jumps by 2). A deleted +0 report leaves no trace.
    @Test("altered LAPIC delivered-counter reports, and deleted ones that counted a delivery, are detected")
    func counterMutations() throws {
        let path = x86Samples.first { $0.contains("q35-intremap-smp2") }!
        let lines = try sampleLines(path)
        let reports = lines.indices.filter { lines[$0].contains(":apic_report_irq_delivered ") }
        func value(_ k: Int) -> Int { Int(lines[reports[k]].split(separator: " ").last!)! }
        #expect(reports.count > 2000)
        var detected = 0, total = 0
        for k in stride(from: 7, to: reports.count - 1, by: reports.count / 8) {
            var altered = lines
            altered[reports[k]] = altered[reports[k]].replacingOccurrences(of: "coalescing ", with: "coalescing 9")
            var mutants = [altered]
            // The first report with +1 from here on, deleted.
            if let j = (k..<(reports.count - 1)).first(where: { value($0) == value($0 - 1) + 1 && value($0 + 1) >= value($0) }) {
                var deleted = lines
                deleted.remove(at: reports[j])
                mutants.append(deleted)
            }
            for l in mutants {
                total += 1
                if try !replay(text: Array(l.joined(separator: "\n").utf8)).divergences.isEmpty { detected += 1 }
            }
        }
        #expect(total >= 14)
        #expect(detected == total, "\(detected) of \(total) mutations detected")
    }
}
