import Foundation
import Testing
@testable import Recorder
import TraceFormat

/// The native trace.dat reader against real files and the `trace-cmd report` (3.1.6) output
/// recorded beside them: traces/tracedat (scripts/make-tracedat-samples.sh: v6, v7 uncompressed,
/// zstd and zlib; top-level buffer and an instance; local and counter clocks; missed events) and
/// traces/kvm (scripts/kvm-guest/record-kvm-traces.sh: kvm/irq/irq_vectors in an instance).
@Suite("trace.dat reader")
struct TraceDatTests {
    struct Sample: Sendable, CustomStringConvertible {
        var dat: String
        var report: String
        var description: String { (dat as NSString).lastPathComponent }
    }

    static let samples: [Sample] = {
        var out: [Sample] = []
        for dir in ["traces/tracedat", "traces/kvm"] {
            let d = packageRoot.appendingPathComponent(dir).path
            let files = (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []
            for f in files.sorted() where f.hasSuffix(".dat") {
                var base = String(f.dropLast(4))
                for v in [".v6", ".v7-none", ".v7-zlib"] where base.hasSuffix(v) { base = String(base.dropLast(v.count)) }
                let report = d + "/" + base + ".report.txt"
                if FileManager.default.fileExists(atPath: report) { out.append(Sample(dat: d + "/" + f, report: report)) }
            }
        }
        return out
    }()

    static func lines(_ path: String) throws -> [String] {
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        var l = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if l.last == "" { l.removeLast() }
        return l
    }

    static func read(_ path: String) throws -> (TraceDatReader, [String]) {
        let reader = try TraceDatReader(data: try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        var out: [String] = []
        try reader.forEachLine { out.append(String(decoding: $0.line, as: UTF8.self)) }
        return (reader, out)
    }

    @Test("the sample set covers every file version and compression")
    func coverage() throws {
        #expect(Self.samples.count >= 20)
        var kinds = Set<String>()
        for s in Self.samples {
            let r = try TraceDatReader(data: try Data(contentsOf: URL(fileURLWithPath: s.dat)), path: s.dat)
            kinds.insert("v\(r.version)-\(r.compression ?? "none")")
        }
        #expect(kinds == ["v6-none", "v7-none", "v7-zstd", "v7-zlib"])
    }

    @Test("every record line equals trace-cmd report's", arguments: samples)
    func reportLines(_ s: Sample) throws {
        let want = try Self.lines(s.report)
        let (reader, got) = try Self.read(s.dat)
        let header = reader.headerLines
        #expect(Array(want.prefix(header.count)) == header)
        let events = Array(want.dropFirst(header.count))
        #expect(got.count == events.count)
        for (i, (a, b)) in zip(got, events).enumerated() where a != b {
            Issue.record("line \(i + header.count + 1) differs:\n  ours:      \(a)\n  trace-cmd: \(b)")
            break
        }
    }

    @Test("per-event counts equal those of the report", arguments: samples)
    func counts(_ s: Sample) throws {
        let want = try Self.lines(s.report)
        var expected: [String: Int] = [:]
        for l in want {
            // "...[CPU] TIME: NAME: ..." — the name follows the first ": " after the CPU field.
            guard let close = l.range(of: "] ") else { continue }
            let rest = l[close.upperBound...]
            guard let c1 = rest.range(of: ": ") else { continue }
            let after = rest[c1.upperBound...]
            guard let c2 = after.firstIndex(of: ":") else { continue }
            expected[String(after[..<c2]), default: 0] += 1
        }
        let (reader, _) = try Self.read(s.dat)
        #expect(reader.eventCounts == expected)
    }

    @Test("record fields: cpu, time, pid and missed-events markers")
    func recordFields() throws {
        let path = packageRoot.appendingPathComponent("traces/tracedat/lost-counter.dat").path
        let reader = try TraceDatReader(data: try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        var markers = 0
        var lastPerCPU: [Int32: Int64] = [:]
        var times: [Int64] = []
        try reader.forEachLine { rec in
            let text = String(decoding: rec.line, as: UTF8.self)
            if rec.pid == -1 {
                markers += 1
                #expect(text.contains("CPU:\(rec.cpu) [") && text.contains("EVENTS DROPPED]"))
                return
            }
            #expect(text.contains("[\(String(format: "%03d", rec.cpu))]"))
            #expect(text.contains("-\(rec.pid) "))
            if let last = lastPerCPU[rec.cpu] { #expect(rec.timestampNs >= last) }
            lastPerCPU[rec.cpu] = rec.timestampNs
            times.append(rec.timestampNs)
        }
        #expect(markers >= 1)
        #expect(times == times.sorted())
        #expect(reader.cpuCount == 2)
    }

    // MARK: damaged input

    static let damageTargets = ["traces/tracedat/sched-irq.v6.dat", "traces/tracedat/sched-irq.dat",
                                "traces/tracedat/sched-irq.v7-zlib.dat", "traces/tracedat/lost-counter.v7-none.dat"]

    /// Opens and fully reads `bytes`; returns the error, or nil if it read through.
    static func readAll(_ bytes: [UInt8], _ name: String) -> TraceDatError? {
        do {
            let r = try TraceDatReader(data: Data(bytes), path: name)
            var n = 0
            try r.forEachLine { _ in n += 1 }
            // The import path too (records → templates without text lines): same errors, no crash;
            // with every record built the general way, and with the memo ways (the record memo) on.
            for verifyAll in [true, false] {
                #expect(try importCounts(r, path: name, verifyAll: verifyAll).mismatches == 0)
            }
            return nil
        } catch let e as TraceDatError {
            return e
        } catch {
            Issue.record("unexpected error type \(type(of: error)): \(error)")
            return nil
        }
    }

    @Test("truncated files throw errors with byte offsets, never crash", arguments: damageTargets)
    func truncated(_ rel: String) throws {
        let full = Array(try Data(contentsOf: packageRoot.appendingPathComponent(rel)))
        var cuts = Set<Int>([0, 1, 9, 10, 11, 12, 13, 17, 20, 40, 100, full.count - 1, full.count / 2])
        var c = 7
        while c < full.count { cuts.insert(c); c += max(1, full.count / 300) }
        var errors = 0
        for cut in cuts.sorted() where cut < full.count {
            if let e = Self.readAll(Array(full[..<cut]), rel) {
                errors += 1
                #expect(e.offset >= 0 && e.offset <= full.count, "offset \(e.offset) outside the file for cut \(cut)")
                #expect(!e.message.isEmpty)
            }
        }
        // Cutting into the header, the metadata or the CPU data must be reported.
        #expect(errors >= cuts.count * 8 / 10, "\(errors) errors for \(cuts.count) cuts")
    }

    @Test("garbage bytes throw or read, never crash or hang", arguments: damageTargets)
    func garbage(_ rel: String) throws {
        let full = Array(try Data(contentsOf: packageRoot.appendingPathComponent(rel)))
        var rng = SplitMix(seed: UInt64(full.count))
        for round in 0..<150 {
            var b = full
            let flips = 1 + round % 8
            for _ in 0..<flips {
                let at = Int(rng.next() % UInt64(b.count))
                b[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = Self.readAll(b, rel)
        }
        // Whole-file garbage after a valid magic.
        var junk = Array(TraceDatFile.magic) + Array("7\0".utf8) + [0, 8, 0, 16, 0, 0]
        for _ in 0..<4096 { junk.append(UInt8(truncatingIfNeeded: rng.next())) }
        #expect(Self.readAll(junk, "junk") != nil)
        #expect(Self.readAll(Array("not a trace file at all".utf8), "text")?.offset == 0)
    }

    @Test("error messages name the problem and the byte offset")
    func errorMessages() throws {
        let rel = "traces/tracedat/sched-irq.v6.dat"
        let full = Array(try Data(contentsOf: packageRoot.appendingPathComponent(rel)))
        let e = try #require(Self.readAll(Array(full[..<(full.count - 100)]), rel))
        #expect(e.description.hasPrefix("\(rel): byte "))
        #expect(e.message.contains("beyond the end of the file") || e.message.contains("truncated"))
        var bad = full
        bad[10] = 0x39 // version "9"
        #expect(Self.readAll(bad, rel)?.message.contains("unsupported file version") == true)
    }

    // MARK: zlib

    @Test("inflate: stored, fixed and dynamic blocks; corrupt streams throw")
    func inflate() throws {
        // stored block "hello"
        let stored: [UInt8] = [0x01, 0x05, 0x00, 0xFA, 0xFF] + Array("hello".utf8)
        #expect(try stored.withUnsafeBytes { try Inflate.raw($0, limit: 100) } == Array("hello".utf8))
        // zlib stream of "aaaaaaaaaa" (fixed Huffman, back reference), from `zlib.compress(b"a"*10)`
        let z: [UInt8] = [0x78, 0x9C, 0x4B, 0x4C, 0x84, 0x01, 0x00, 0x14, 0xE1, 0x03, 0xCB]
        var out: [UInt8] = []
        try z.withUnsafeBytes { try Inflate.zlib($0, expectedSize: 10, into: &out) }
        #expect(out == Array(repeating: 0x61, count: 10))
        var bad = z
        bad[bad.count - 1] ^= 1
        #expect(throws: InflateError.self) { try bad.withUnsafeBytes { try Inflate.zlib($0, expectedSize: 10, into: &out) } }
        #expect(throws: InflateError.self) { try z.withUnsafeBytes { try Inflate.zlib($0, expectedSize: 5, into: &out) } }
        #expect(throws: InflateError.self) { try Array(z.prefix(6)).withUnsafeBytes { try Inflate.zlib($0, expectedSize: 10, into: &out) } }
    }

    // MARK: print formats

    @Test("libtraceevent quirks: operator rotation across parentheses, casts only mask, tabs fail")
    func printFormatQuirks() throws {
        func event(_ fmt: String, fields: String = "\tfield:unsigned int flags;\toffset:8;\tsize:4;\tsigned:0;\n") -> DatEvent {
            let text = """
            name: t
            ID: 1
            format:
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
            \tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

            \(fields)
            print fmt: \(fmt)
            """
            return EventFormatParser.parse(text, system: "test", longSize: 8, symbols: nil, functions: EventPrinter.knownFunctions)!
        }
        let bytes = Array(try Data(contentsOf: packageRoot.appendingPathComponent("traces/tracedat/sched-irq.v6.dat")))
        let file = try bytes.withUnsafeBytes { try TraceDatFile($0) }
        let printer = EventPrinter(file: file)
        func render(_ e: DatEvent, flags: UInt32) -> String {
            var rec = [UInt8](repeating: 0, count: 12)
            rec[8] = UInt8(flags & 0xff); rec[9] = UInt8((flags >> 8) & 0xff); rec[10] = UInt8((flags >> 16) & 0xff); rec[11] = UInt8(flags >> 24)
            var out: [UInt8] = []
            rec.withUnsafeBytes { printer.prettyPrint(e, $0, &out) }
            return String(decoding: out, as: UTF8.self)
        }
        // a & (b | c) is evaluated as (a & b) | c, as libtraceevent does (timer_start's flags).
        let rot = event(#""f=%s", __print_flags(REC->flags & (0x1 | 0x2), "|", { 0x1, "A" }, { 0x2, "B" })"#)
        #expect(render(rot, flags: 0) == "f=B")
        // casts mask; numbers print through C's (int) conversion
        let cast = event(#""%d %u %x %#x %5d|%-5d|%05x", (char)REC->flags, REC->flags, (u16)REC->flags, REC->flags, REC->flags, REC->flags, REC->flags"#)
        #expect(render(cast, flags: 0xFFFF_FF80) == "128 4294967168 ff80 0xffffff80  -128|-128 |ffffff80")
        // __print_symbolic with adjacent string literals, unknown values in hex
        let sym = event(#""%s", __print_symbolic(REC->flags, { 1, "ON" "E" }, { 2, "TWO" })"#)
        #expect(render(sym, flags: 1) == "ONE")
        #expect(render(sym, flags: 7) == "0x7")
        // a literal tab inside a string makes the format fail: fields are printed instead
        let tab = event("\"a\\tb\t%u\", REC->flags")
        #expect(tab.failed)
        #expect(render(tab, flags: 5) == "[FAILED TO PARSE] flags=5")
        // unknown helper functions fail the same way
        #expect(event(#""%d", sizeof(int)"#).failed)
    }
}

/// Deterministic PRNG for the damage tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
