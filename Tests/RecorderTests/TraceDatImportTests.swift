import Foundation
import Testing
@testable import Recorder
@testable import TraceFormat

/// trace.dat files through `record`: every sample (v6, v7 uncompressed, zstd, zlib) becomes the same
/// events as its `trace-cmd report` text, keeps the records' nanosecond times, and exports back to
/// exactly what `trace-cmd report` printed.
let datSamples: [String] = ["traces/tracedat", "traces/kvm"].flatMap { dir -> [String] in
    let path = packageRoot.appendingPathComponent(dir).path
    return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".dat") }.sorted().map { path + "/" + $0 }
}

/// `dat`'s records imported into a writer that is then dropped: what the import counted.
func importCounts(_ dat: TraceDatReader, path: String, verifyAll: Bool) throws -> TraceDatReader.ImportCounts {
    let writer = TraceWriter(output: OutputFile(), metadata: TraceMetadata(source: .traceDat), level: 1)
    var counts = TraceDatReader.ImportCounts()
    var diagnostics = ImportDiagnostics()
    try dat.importRecords(writer: writer, clock: .ftraceLocal, strict: true, verifyAll: verifyAll, path: path,
                          counts: &counts, diagnostics: &diagnostics, observe: { _, _ in })
    return counts
}

func reportPath(_ dat: String) -> String {
    var base = String(dat.dropLast(4))
    for suffix in [".v6", ".v7-none", ".v7-zlib"] where base.hasSuffix(suffix) { base = String(base.dropLast(suffix.count)) }
    return base + ".report.txt"
}

@Suite("trace.dat import")
struct TraceDatImportTests {
    @Test("samples cover v6, v7 uncompressed, zstd and zlib")
    func coverage() {
        #expect(datSamples.contains { $0.hasSuffix(".v6.dat") })
        #expect(datSamples.contains { $0.hasSuffix(".v7-none.dat") })
        #expect(datSamples.contains { $0.hasSuffix(".v7-zlib.dat") })
        #expect(datSamples.filter { !$0.contains(".v") }.count >= 4)
    }

    @Test("each trace.dat records to trace-cmd report's events and exports its text exactly", arguments: datSamples)
    func sample(path: String) throws {
        let (reader, result) = try Recorder.open(path)
        #expect(reader.metadata.source == .traceDat)
        #expect(result?.malformedLines == 0)
        let report = try Data(contentsOf: URL(fileURLWithPath: reportPath(path)))
        #expect(try exportText(reader) == Array(report))
        // Counts by name from the report text: the word after the timestamp's ": ".
        var expected: [String: Int] = [:]
        for line in String(decoding: report, as: UTF8.self).split(separator: "\n") {
            if line.contains("EVENTS DROPPED]") { expected["lost_events", default: 0] += 1; continue }
            guard let cpu = line.range(of: #"\[\d{3}\]"#, options: .regularExpression),
                  let ts = line[cpu.upperBound...].range(of: ": ") else { continue }
            expected[String(line[ts.upperBound...].prefix { $0 != ":" }), default: 0] += 1
        }
        let stats = try TraceStats.collect(reader)
        #expect(stats.byName == expected)
        if path.contains("global-clock") { #expect(reader.metadata.clock == .ftraceGlobal) }
    }

    @Test("records are stored from their binary form, and every one reprints its report line", arguments: datSamples)
    func direct(path: String) throws {
        let dat = try TraceDatReader(data: try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        let counts = try importCounts(dat, path: path, verifyAll: true)
        #expect(counts.mismatches == 0)
        // Under verifyAll every record with a body form is also built the printed way: they agree.
        #expect(counts.formDisagreements == 0)
        #expect(counts.records > 0)
        // Only missed-events markers and unknown events go through text lines.
        let markers = String(decoding: try Data(contentsOf: URL(fileURLWithPath: reportPath(path))), as: UTF8.self)
            .components(separatedBy: "EVENTS DROPPED]").count - 1
        #expect(counts.direct == counts.records - markers)
    }

    @Test("records repeated byte for byte are stored as the first one was: the same trace as under --verify-all", arguments: datSamples)
    func repeats(path: String) throws {
        // `verifyAll` builds every record the general way (the record memo is off): what the memo
        // stored must be those same events, templates and chunks, byte for byte.
        func recorded(verifyAll: Bool) throws -> [UInt8] {
            let out = OutputFile()
            _ = try Recorder.record(inputs: [path], to: out, options: RecordOptions(level: 3, verifyAll: verifyAll))
            return out.memory
        }
        #expect(try recorded(verifyAll: false) == recorded(verifyAll: true))
        let dat = try TraceDatReader(data: try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        let counts = try importCounts(dat, path: path, verifyAll: false)
        #expect(counts.mismatches == 0)
        #expect(counts.repeats < counts.direct)
        // The kvm samples repeat their APIC register writes and acceptances.
        if path.contains("/kvm/") { #expect(counts.repeats > 0) }
    }

    @Test("events keep the records' nanosecond times")
    func nanoseconds() throws {
        let path = datSamples.first { $0.hasSuffix("pvm-msi.dat") }!
        let dat = try TraceDatReader(data: try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        var times: [Int64] = []
        try dat.forEachLine { if $0.pid >= 0 { times.append($0.timestampNs) } }
        let (reader, _) = try Recorder.open(path)
        var stored: [Int64] = []
        try reader.forEachBatch { stored += $0.times }
        #expect(stored == times)
        #expect(times.contains { $0 % 1000 != 0 })
    }

    @Test("a truncated trace.dat keeps the events before the damage, or fails under --strict")
    func truncated() throws {
        let path = datSamples.first { $0.hasSuffix("sched-irq.v7-none.dat") }!
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-cut-\(UUID().uuidString).dat").path
        try data.prefix(data.count * 3 / 4).write(to: URL(fileURLWithPath: cut))
        defer { try? FileManager.default.removeItem(atPath: cut) }
        do {
            let (reader, diagnostics) = try Recorder.open(cut)
            #expect(reader.eventCount > 0 || (diagnostics?.malformedLines ?? 0) > 0)
        } catch let e as IrqtraceError {
            #expect(e.description.contains("byte"))
        }
        #expect(throws: IrqtraceError.self) { _ = try Recorder.open(cut, options: RecordOptions(strict: true)) }
    }
}

@Suite("trace.dat body forms")
struct TraceDatFormTests {
    @Test("the record memo finds a record only under its header, length and every byte")
    func recordMemo() {
        var memo = RecordMemo.allocate(events: 4)
        defer { memo.deallocate() }
        let record: [UInt8] = (0..<44).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let values: [Int64] = [1, -2, 0x7fff_ffff_ffff]
        let slot = record.withUnsafeBytes { memo.slot(header: 5, $0) }
        // Looked up in the slot the stored record hashed to (a colliding record lands there too).
        func find(_ header: UInt64, _ r: [UInt8]) -> (UInt32, [Int64], Int)? {
            var memo = memo
            return r.withUnsafeBytes { d in memo.find(slot: slot, header: header, d, event: 1).map { ($0.template, Array($0.values), $0.valueBytes) } }
        }
        #expect(find(5, record) == nil)
        record.withUnsafeBytes { d in
            values.withUnsafeBufferPointer { v in memo.store(slot: slot, header: 5, d, template: 9, values: v, valueBytes: 11) }
        }
        #expect(find(5, record).map { $0.0 } == 9)
        #expect(find(5, record).map { $0.1 } == values)
        #expect(find(5, record).map { $0.2 } == 11)
        #expect(find(6, record) == nil)
        #expect(find(5, Array(record.dropLast(4))) == nil)
        for k in [0, 17, 40, 43] {
            var other = record
            other[k] ^= 1
            #expect(find(5, other) == nil, "byte \(k)")
        }
        // Too long to keep, or not whole words (a damaged length): no slot.
        #expect([UInt8](repeating: 0, count: RecordMemo.maxBytes + 4).withUnsafeBytes { memo.slot(header: 5, $0) } == -1)
        for n in [1, 2, 3, 5, 42, 43] {
            #expect([UInt8](repeating: 0, count: n).withUnsafeBytes { memo.slot(header: 5, $0) } == -1, "\(n) bytes")
        }
        #expect([UInt8](repeating: 0, count: 44).withUnsafeBytes { memo.slot(header: 5, $0) } >= 0)
    }

    @Test("an event whose records rarely repeat leaves the record memo after its trial")
    func recordMemoTrial() {
        var memo = RecordMemo.allocate(events: 2)
        defer { memo.deallocate() }
        var n: UInt32 = 0
        while memo.isOn(1) && n < RecordMemo.trial + 1 {
            let record: [UInt8] = withUnsafeBytes(of: n) { Array($0) } + [0, 0, 0, 0]
            _ = record.withUnsafeBytes { d in memo.find(slot: memo.slot(header: 0, d), header: 0, d, event: 1) }
            n += 1
        }
        #expect(!memo.isOn(1))
        #expect(n == RecordMemo.trial)
        #expect(memo.isOn(0))
    }

    /// What the tokenizer makes of `:HEX ` (a word between ':' and ' ', as the kvm plugin prints).
    static func tokenized(_ hex: String) -> (skeleton: [UInt8], values: [Int64]) {
        var sk = SkeletonBuilder()
        var values: [Int64] = []
        Array(":\(hex) ".utf8).withUnsafeBytes { BodyTokenizer.tokenize($0, from: 0, to: $0.count, into: &sk, values: &values) }
        return (sk.bytes, values)
    }

    @Test("the memo's hash of a record shape is the byte hash of its bytes, short shapes included")
    func shapeHash() {
        var shape = RecordShape.allocate()
        defer { shape.deallocate() }
        for n in 0...24 {
            for header: UInt64 in [0, 1, 0x1_0000_0005, .max] {
                shape.reset()
                for k in 0..<n { shape.byte(UInt8(truncatingIfNeeded: 0xA5 &+ 37 &* k)) }
                #expect(TemplateMemo.hash(header, shape) == TemplateMemo.hash(header, shape.shapeBytes), "\(n) bytes")
            }
            // Bytes past the shape (left by a longer one) do not change it.
            shape.reset()
            for _ in 0..<16 { shape.byte(0xFF) }
            shape.reset()
            for k in 0..<n { shape.byte(UInt8(k)) }
            #expect(TemplateMemo.hash(7, shape) == TemplateMemo.hash(7, shape.shapeBytes))
        }
    }

    @Test("lowerHexWord decides as the tokenizer does on the printed hex word")
    func hexWords() {
        var values: [UInt64] = Array(0...300) + [0x1000, 0x100b, 0xabc, 0xfff0, 0xffff_ffff, 0xffff_ffff_ffff_f000,
                                                 0x1234_5678_9012_3456, 0x9999_9999_9999_9999, .max, 1 << 63]
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            values.append(x >> (x & 63))
            // Decimal digits only, 1 to 16 of them (the packed-BCD way).
            var bcd: UInt64 = 0
            for k in 0..<Int(1 + x % 16) { bcd |= ((x >> UInt64(k * 3)) % 10) << UInt64(4 * k) }
            values.append(bcd)
        }
        for v in values {
            for minDigits in v < 256 ? [1, 2] : [1] {
                var hex = String(v, radix: 16)
                while hex.count < minDigits { hex = "0" + hex }
                let got = Self.tokenized(hex)
                var sk = SkeletonBuilder()
                sk.appendLiteral(":")
                var expected: [Int64] = []
                switch BodyTokenizer.lowerHexWord(v, minDigits: minDigits) {
                case .decimal(let d, let width): sk.appendNumber(.decimal, width: width); expected = [d]
                case .hex(let width): sk.appendNumber(.hexLower, width: width); expected = [Int64(bitPattern: v)]
                case .literal: sk.appendLiteral(hex)
                }
                sk.appendLiteral(" ")
                #expect(got.values == expected, "\(hex)")
                #expect(got.skeleton == sk.bytes, "\(hex)")
            }
        }
    }

    /// The values and skeleton the tokenizer makes of `text` from its start.
    static func tokens(_ text: [UInt8]) -> (skeleton: [UInt8], values: [Int64]) {
        var sk = SkeletonBuilder()
        var values: [Int64] = []
        text.withUnsafeBytes { BodyTokenizer.tokenize($0, from: 0, to: $0.count, into: &sk, values: &values) }
        return (sk.bytes, values)
    }

    @Test("a task name tokenizes inside a sched body as on its own; the numbers around it are plain slots")
    func schedBodies() {
        // Names with digits where the tokenizer could take them: decimal, 0x…, bare hex, a minus,
        // a dot, digits at either end, 18+ digits, letters only, empty, and a 0xFF byte.
        let names: [[UInt8]] = ["bash", "kworker/0:1", "kworker/u4:2H", "swapper/0", "migration/1", "0x1f", "1f", "ff",
                                "a-1", "-5", "x.1", "1.5", "12345", "0", "007", "abc123", "123abc", "cpuhp/1", "",
                                "12345678901234567890", "rcu_sched", "ksoftirqd/0", "T-800.2"].map { Array($0.utf8) }
            + [[0xFF, 0x31], [0x31, 0xFF]]
        let numbers: [(Int64, Int64)] = [(0, 120), (1, -1), (4976, 0), (4_294_967_295, 139), (32768, -100)]
        for (a, b) in zip(names, names.reversed()) {
            for (pid, prio) in numbers {
                // sched_switch: "prev:pid [prio] S ==> next:pid [prio]"
                let body = a + Array(":\(pid) [\(prio)] S|D ==> ".utf8) + b + Array(":\(pid + 1) [\(prio)]".utf8)
                let expected = Self.tokens(a).values + [pid, prio] + Self.tokens(b).values + [pid + 1, prio]
                #expect(Self.tokens(body).values == expected, "\(String(decoding: body, as: UTF8.self))")
                // The template depends on the names alone: other numbers, the same skeleton.
                let other = a + Array(":7 [3] S|D ==> ".utf8) + b + Array(":9 [-2]".utf8)
                #expect(Self.tokens(body).skeleton == Self.tokens(other).skeleton)
                // sched_wakeup: "comm:pid [prio] success=1 CPU:%03d"
                for cpu in [0, 7, 42, 100, 1234] {
                    let padded = String(repeating: "0", count: max(0, 3 - String(cpu).count)) + String(cpu)
                    let wake = a + Array(":\(pid) [\(prio)] success=1 CPU:\(padded)".utf8)
                    #expect(Self.tokens(wake).values == Self.tokens(a).values + [pid, prio, 1, Int64(cpu)])
                }
            }
        }
    }
}

