import Foundation
import Testing
@testable import Recorder
@testable import TraceFormat

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let sampleTraces: [String] = {
    let dir = packageRoot.appendingPathComponent("traces").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
        .filter { $0.hasPrefix("qemu-") && $0.hasSuffix(".log.zst") }.sorted().map { dir + "/" + $0 }
}()

/// Records `text` (as a file) in memory and returns the reader and the diagnostics.
func recordText(_ text: [UInt8], options: RecordOptions = RecordOptions(level: 3, verifyAll: true)) throws -> (TraceReader, RecordResult) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-test-\(UUID().uuidString).log").path
    FileManager.default.createFile(atPath: path, contents: Data(text))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let out = OutputFile()
    let result = try Recorder.record(inputs: [path], to: out, options: options)
    return (try TraceReader(data: Data(out.memory)), result)
}

func exportText(_ reader: TraceReader) throws -> [UInt8] {
    let out = OutputFile()
    try TextExport.write(reader, to: out)
    return out.memory
}

@Suite("QEMU trace logs")
struct QEMULogTests {
    @Test("the real samples are there")
    func samplesPresent() {
        #expect(sampleTraces.count >= 6)
    }

    @Test("every real sample reprints byte for byte, every event typed, counts as in the text",
          arguments: sampleTraces)
    func realSample(path: String) throws {
        let text = try InputFile(path: path).data
        let (reader, result) = try recordText(Array(text))
        #expect(result.diagnostics.malformedLines == 0)
        #expect(try exportText(reader) == Array(text))
        // The default (sampled) verification stores the same events.
        let (sampled, _) = try recordText(Array(text), options: RecordOptions(level: 3))
        #expect(try exportText(sampled) == Array(text))
        let stats = try TraceStats.collect(reader)
        // Independent count of event names straight from the text.
        var expected: [String: Int] = [:]
        // (With QEMU's `-d int` log in the file, its lines other than "Servicing hardware INT" are
        // `qemu_cpu_log` events: those that do not start with a thread id once one has been seen.)
        var timestamped = false
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") {
            var s = line[...]
            if let colon = s.firstIndex(of: ":"), s.first?.isNumber == true, s.contains("@") {
                s = s[s.index(after: colon)...]; timestamped = true
            } else if timestamped && !s.hasPrefix("Servicing hardware INT=") {
                expected[QEMULogTokenizer.cpuLogName, default: 0] += 1
                continue
            }
            expected[String(s.prefix { $0 != " " }), default: 0] += 1
        }
        #expect(stats.byName == expected)
        #expect(stats.events == expected.values.reduce(0, +))
        let cpuLog = expected[QEMULogTokenizer.cpuLogName] ?? 0
        #expect(stats.typedEvents == stats.events - cpuLog, "events without a schema: \(Set(stats.byName.keys).subtracting(SchemaRegistry.shared.byName.keys))")
        let arch: Architecture = path.contains("arm64") ? .arm64 : .x86_64
        #expect(reader.metadata.arch == arch)
        #expect(reader.metadata.clock == (path.contains("notimestamp") ? ClockDomain.none : .realtime))
    }

    @Test("typed fields carry the values the line printed")
    func typedFields() throws {
        let line = "8073@1795617357.564988:vtd_ir_remap index 21 trigger 0 vector 37 deliver 0 dest 0x1 mode 1\n"
        let (reader, _) = try recordText(Array(line.utf8))
        try reader.forEachBatch { b in
            let t = reader.catalog[b.templates[0]]
            let binding = try #require(t.binding)
            #expect(b.number(0, binding.source(role: .vector)!) == 37)
            #expect(b.number(0, binding.source(role: .dest)!) == 1)
            #expect(b.number(0, binding.source(named: "index")!) == 21)
            #expect(b.times[0] == 1_795_617_357_564_988_000)
            #expect(b.threads[0] == 8073)
        }
    }

    @Test("odd but valid lines reprint exactly")
    func oddLines() throws {
        let lines: [[UInt8]] = [
            Array("1@0.000001:x a 0x00ff B 0xFF c 0xAbC d -0 e 007 f -12 g 0x10000000000000000 h 99999999999999999999\n".utf8),
            Array("2@12.5:short_fraction 1 2 3\n".utf8),
            Array("3@1795617354.745184:vtd_fsts_clear_ip \n".utf8),
            Array("4@1795617354.745184:trailing_cr 5\r\n".utf8),
            [0x35, 0x40, 0x31, 0x2E, 0x31, 0x3A, 0x62, 0x69, 0x6E, 0x20, 0xFF, 0x00, 0xC3, 0x28, 0x31, 0x0A],
            Array("gic_set_irq irq 85 level 1 cpumask 0xff target 0x2\n".utf8),
            Array("0042@0001.000001:leading_zeros 1\n".utf8),
            Array("name_only".utf8),
        ]
        let text = lines.flatMap { $0 }
        let (reader, result) = try recordText(text, options: RecordOptions(inputFormat: .qemuLog, level: 3, verifyAll: true))
        #expect(result.diagnostics.malformedLines == 0)
        #expect(reader.eventCount == lines.count)
        #expect(try exportText(reader) == text)
        #expect(reader.metadata.inputs.first?.finalNewline == false)
    }

    @Test("malformed lines are counted with file:line, skipped, and fatal under --strict")
    func malformed() throws {
        let text = Array("1@1.000001:a 1\n1@1.00\n@@@ junk\n1@1.000002:b 2\n".utf8)
        let (reader, result) = try recordText(text, options: RecordOptions(inputFormat: .qemuLog, level: 3, verifyAll: true))
        #expect(reader.eventCount == 2)
        #expect(result.diagnostics.malformedLines == 2)
        #expect(result.diagnostics.examples.count == 2)
        #expect(result.diagnostics.examples[0].contains(".log:2: "))
        #expect(result.diagnostics.examples[1].contains(".log:3: expected an event name"))
        do {
            _ = try recordText(text, options: RecordOptions(inputFormat: .qemuLog, strict: true, level: 3, verifyAll: true))
            Issue.record("expected --strict to fail")
        } catch let e as IrqtraceError {
            #expect(e.line == 2)
            #expect(e.description.contains("malformed line"))
        }
    }

    @Test("binary garbage is not taken for a QEMU log")
    func garbage() {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
        #expect(throws: IrqtraceError.self) { _ = try recordText([0x00, 0x01] + bytes) }
    }

    @Test("format detection")
    func detection() {
        func detect(_ s: String) -> InputFormat? { Array(s.utf8).withUnsafeBytes { InputFormat.detect($0) } }
        #expect(detect("8073@1795617354.745184:cpu_get_apic_base 0x00000000fee00900\n") == .qemuLog)
        #expect(detect("gic_set_irq irq 85 level 1 cpumask 0xff target 0x2\n") == .qemuLog)
        #expect(detect("  <idle>-0     [001] d..1.  123.456789: kvm_exit: reason HLT\n") == .ftraceText)
        #expect(detect("cpus=2\n  <idle>-0     [001] 123.456789: kvm_exit:   reason HLT\n") == .traceCmdReport)
        #expect(detect("       tinyvmm  4242 [001]   123.456789: kvm:kvm_exit: reason HLT\n") == .perfScript)
        #expect(detect("hello world\nthis is prose\n") == nil)
        #expect(detect("") == nil)
    }

    @Test("tokenizer keeps numbers that cannot reprint exactly as text")
    func tokenizer() {
        func slots(_ s: String) -> [Int64] {
            var sk = SkeletonBuilder()
            var values: [Int64] = []
            Array(s.utf8).withUnsafeBytes { BodyTokenizer.tokenize($0, from: 0, to: $0.count, into: &sk, values: &values) }
            return values
        }
        #expect(slots("a 1 b 0x1f c -3") == [1, 0x1f, -3])
        #expect(slots("0xAbC cpu0 1a") == [0x1a])   // mixed case stays text; "cpu0" is a word; bare hex "1a" is a number
        #expect(slots("add dead Ab1 7ffd3a2b 0f") == [0x7ffd3a2b, 0x0f])   // hex words need a digit and one letter case
        #expect(slots("-0") == [0]) // "-" stays literal: the value 0 would print without it
        #expect(slots("cpu[3]: irq = 1") == [3, 1])
        #expect(slots("0xffffffffffffffff") == [-1])
    }
}

@Suite("Wrong format forced")
struct WrongFormatTests {
    @Test("a QEMU log forced as ftrace text: every line malformed, reported with file:line; --strict fails at line 1")
    func qemuAsFtrace() throws {
        let text = Array("8073@1795617354.745184:cpu_get_apic_base 0x00000000fee00900\n8073@1795617354.745428:cpu_get_apic_base 0x00000000fee00800\n".utf8)
        let (reader, result) = try recordText(text, options: RecordOptions(inputFormat: .ftraceText, level: 3))
        #expect(reader.eventCount == 0)
        #expect(result.diagnostics.malformedLines == 2)
        #expect(result.diagnostics.examples.first?.contains(".log:1: no [CPU] field") == true)
        #expect(throws: IrqtraceError.self) {
            _ = try recordText(text, options: RecordOptions(inputFormat: .ftraceText, strict: true, level: 3))
        }
    }

    @Test("ftrace text forced as a QEMU log: lines that are not QEMU events are malformed")
    func ftraceAsQEMU() throws {
        let text = Array("         tinyvmm-4242    [001] .....   123.456789: kvm_set_irq: gsi 4 level 1 source 0\n".utf8)
        let (reader, result) = try recordText(text, options: RecordOptions(inputFormat: .qemuLog, level: 3))
        #expect(reader.eventCount == 0)
        #expect(result.diagnostics.malformedLines == 1)
    }

    @Test("a text file forced as trace.dat is refused with a byte offset")
    func textAsTraceDat() throws {
        #expect(throws: IrqtraceError.self) {
            _ = try recordText(Array("not a trace.dat at all\n".utf8), options: RecordOptions(inputFormat: .traceDat, level: 3))
        }
    }
}

@Suite("QEMU log tokenizer: hostile timestamps (found by fuzzing)")
struct QEMULogHostileTests {
    @Test("seconds whose nanoseconds overflow 64 bits are a malformed line, not a crash")
    func overflow() throws {
        let lines = "1234@99999999999.123456:apic_deliver_irq dest 0 dest_mode 0 delivery_mode 0 vector 48 trigger_mode 0\n"
            + "1234@9000000000.123456:apic_deliver_irq dest 0 dest_mode 0 delivery_mode 0 vector 48 trigger_mode 0\n"
        let (reader, diagnostics) = try Recorder.open(bytes: Array(lines.utf8), name: "hostile.log")
        #expect(diagnostics?.malformedLines == 1)
        #expect(reader.eventCount == 1)
    }
}
