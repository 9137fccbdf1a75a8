import Foundation
import Testing
@testable import Exporter
import Recorder
import Replayer
import TraceFormat

/// Real recordings exported to pcap: decoded by Wireshark's tshark with our Lua dissector, and
/// recorded back by irqtrace.
@Suite("pcap export, dissector and round trip")
struct PcapExportTests {
    static let samples = ["traces/kvm/pvm-msi.trace.txt", "traces/qemu-arm64-virt-gicv2-smp2.log.zst", "traces/kvm/pvm-msi.dat"]

    /// tshark on PATH or in /usr/bin; nil when not installed.
    static let tshark: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        return dirs.map { $0 + "/tshark" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-pcap-\(UUID().uuidString)-\(name)").path
    }

    /// What irqtrace itself says of every event: index, name, cpu, vector, irq, time (tab-separated,
    /// empty when unknown) — the columns the tshark run asks for.
    static func expectedRows(_ reader: TraceReader) throws -> [String] {
        var roles = RoleTable()
        var rows: [String] = []
        try reader.forEachBatch { batch in
            for i in 0..<batch.count {
                let id = batch.templates[i]
                let r = roles.roles(id, in: reader.catalog)
                let cols = [String(batch.firstEventIndex + i), reader.catalog[id].name,
                            batch.cpu(i, roles: r).map(String.init) ?? "",
                            r.vector.flatMap { batch.number(i, $0) }.map(String.init) ?? "",
                            r.irq.flatMap { batch.number(i, $0) }.map(String.init) ?? "",
                            String(batch.times[i])]
                rows.append(cols.joined(separator: "\t"))
            }
        }
        return rows
    }

    @Test("tshark with contrib/wireshark/irqtrace.lua decodes every packet as irqtrace says the event is",
          arguments: samples)
    func tsharkAgrees(_ trace: String) throws {
        guard let tshark = Self.tshark else {
            // CI installs tshark (scripts/setup.sh) and sets IRQTRACE_REQUIRE_TSHARK=1, so there it cannot skip.
            #expect(ProcessInfo.processInfo.environment["IRQTRACE_REQUIRE_TSHARK"] == nil, "tshark is required but not installed")
            print("skipped: tshark is not installed (scripts/setup.sh installs it)")
            return
        }
        let (reader, _) = try Recorder.open(sample(trace))
        let pcap = Self.temporaryPath("dissect.pcap")
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        let summary = try PcapExport.write(reader, to: pcap)
        #expect(summary.packets == reader.eventCount)
        #expect(summary.metadataCarried)
        let fields = ["irqtrace.index", "irqtrace.event", "irqtrace.cpu", "irqtrace.vector", "irqtrace.irq", "irqtrace.time_ns"]
        let output = try run(tshark, ["-r", pcap, "-X", "lua_script:" + sample("contrib/wireshark/irqtrace.lua"), "-T", "fields"]
                                       + fields.flatMap { ["-e", $0] })
        let decoded = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLast()
        let expected = try Self.expectedRows(reader)
        #expect(decoded.count == expected.count)
        let mismatches = zip(decoded, expected).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(mismatches.isEmpty, "first mismatches (tshark | irqtrace): \(mismatches.prefix(3).map { "\($0.element.0) | \($0.element.1)" })")
        // The events irqtrace indexes by vector are exactly those a display filter on the vector finds.
        if let vector = expected.compactMap({ Int($0.split(separator: "\t", omittingEmptySubsequences: false)[3]) }).first {
            let filtered = try run(tshark, ["-r", pcap, "-X", "lua_script:" + sample("contrib/wireshark/irqtrace.lua"),
                                            "-Y", "irqtrace.vector == \(vector)", "-T", "fields", "-e", "irqtrace.index"])
            let want = expected.filter { $0.split(separator: "\t", omittingEmptySubsequences: false)[3] == "\(vector)" }
                .map { String($0.split(separator: "\t")[0]) }
            #expect(filtered.split(separator: "\n").map(String.init) == want)
        }
    }

    @Test("record FILE.pcap rebuilds the trace: byte-identical text export, same replay digest", arguments: samples)
    func roundTrip(_ trace: String) throws {
        let (original, _) = try Recorder.open(sample(trace))
        let pcap = Self.temporaryPath("round.pcap")
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        try PcapExport.write(original, to: pcap)
        let back = try recordBack(pcap)
        #expect(try text(back) == text(original))
        #expect(back.metadata.source == original.metadata.source)
        #expect(back.metadata.kvmFlavour == original.metadata.kvmFlavour)
        #expect(try Replayer.check(back).digest == Replayer.check(original).digest)
    }

    @Test("PcapScan (the parser alone) finds every exported event's line; a cut record names its offset", arguments: samples)
    func scanAlone(_ trace: String) throws {
        let (original, _) = try Recorder.open(sample(trace))
        let pcap = Self.temporaryPath("scan.pcap")
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        try PcapExport.write(original, to: pcap)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: pcap)))
        let counts = try bytes.withUnsafeBytes { try PcapScan.scan($0, path: pcap) }
        #expect(counts.packets == original.eventCount)
        #expect(counts.malformedPackets == 0)
        #expect(counts.eventLines == original.eventCount)
        let cut = Array(bytes.dropLast(3))
        #expect {
            _ = try cut.withUnsafeBytes { try PcapScan.scan($0, path: pcap) }
        } throws: { error in
            let e = error as? IrqtraceError
            return e?.byteOffset != nil && (e?.byteOffset ?? 0) > 24 && "\(error)".contains("cut short")
        }
    }

    @Test("big-endian and microsecond pcap files read the same; other link types are refused naming the DLT")
    func variants() throws {
        let (original, _) = try Recorder.open(sample("traces/kvm/pvm-msi.trace.txt"))
        let pcap = Self.temporaryPath("variant.pcap")
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        try PcapExport.write(original, to: pcap)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: pcap)))
        #expect(Array(bytes.prefix(4)) == [0x4D, 0x3C, 0xB2, 0xA1], "libpcap wrote a nanosecond pcap in host (little-endian) order")
        let expected = try text(original)
        for (bigEndian, micro) in [(true, false), (false, true), (true, true)] {
            let path = Self.temporaryPath("variant-\(bigEndian)-\(micro).pcap")
            defer { try? FileManager.default.removeItem(atPath: path) }
            try Data(Self.rewrite(bytes, bigEndian: bigEndian, microseconds: micro)).write(to: URL(fileURLWithPath: path))
            #expect(try text(recordBack(path)) == expected, "bigEndian \(bigEndian), microseconds \(micro)")
        }
        var ethernet = bytes
        ethernet.replaceSubrange(20..<24, with: [1, 0, 0, 0])
        let path = Self.temporaryPath("ethernet.pcap")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(ethernet).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: IrqtraceError.self) { try recordBack(path) }
        #expect(error?.message.contains("link type 1 (DLT_EN10MB)") == true)
    }

    /// A little-endian nanosecond pcap rewritten in another byte order and/or with microsecond
    /// timestamps, as other tools write them.
    static func rewrite(_ b: [UInt8], bigEndian: Bool, microseconds: Bool) -> [UInt8] {
        func u32(_ k: Int) -> UInt32 { UInt32(b[k]) | UInt32(b[k + 1]) << 8 | UInt32(b[k + 2]) << 16 | UInt32(b[k + 3]) << 24 }
        var out: [UInt8] = []
        func put32(_ v: UInt32) { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { out += $0 } }
        func put16(_ v: UInt16) { withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { out += $0 } }
        put32(microseconds ? 0xA1B2_C3D4 : 0xA1B2_3C4D)
        put16(UInt16(b[4]) | UInt16(b[5]) << 8)
        put16(UInt16(b[6]) | UInt16(b[7]) << 8)
        for k in stride(from: 8, to: 24, by: 4) { put32(u32(k)) }
        var k = 24
        while k < b.count {
            let captured = Int(u32(k + 8))
            put32(u32(k))
            put32(microseconds ? u32(k + 4) / 1000 : u32(k + 4))
            put32(u32(k + 8))
            put32(u32(k + 12))
            out += b[(k + 16)..<(k + 16 + captured)]
            k += 16 + captured
        }
        return out
    }

    func recordBack(_ pcap: String) throws -> TraceReader {
        let memory = OutputFile()
        _ = try Recorder.record(inputs: [pcap], to: memory, options: RecordOptions())
        return try TraceReader(data: Data(memory.memory), path: pcap + ".irqt")
    }

    func text(_ reader: TraceReader) throws -> [UInt8] {
        let out = OutputFile()
        try TextExport.write(reader, to: out)
        try out.commit()
        return out.memory
    }

    func run(_ executable: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let outPath = Self.temporaryPath("tshark.out")
        FileManager.default.createFile(atPath: outPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(executable) \(arguments.joined(separator: " ")) exited \(p.terminationStatus)")
        return String(decoding: try Data(contentsOf: URL(fileURLWithPath: outPath)), as: UTF8.self)
    }
}
