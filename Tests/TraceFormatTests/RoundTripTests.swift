import Foundation
import Testing
@testable import TraceFormat

@Suite("Container round trip")
struct RoundTripTests {
    @Test("random event streams survive write and read unchanged", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomStreams(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let templates = RandomTraces.templates(Int.random(in: 1...40, using: &rng), rng: &rng)
        let events = RandomTraces.events(Int.random(in: 0...6000, using: &rng), templates: templates, rng: &rng)
        let chunkSize = [1024, 4096, 65536, 1 << 20].randomElement(using: &rng)!
        let bytes = try RandomTraces.write(events, templates: templates, chunkSize: chunkSize)
        let reader = try TraceReader(data: Data(bytes))
        #expect(!reader.damage.isDamaged)
        #expect(reader.eventCount == events.count)
        #expect(reader.declaredEventCount == events.count)
        let back = try RandomTraces.read(reader, templates: templates)
        #expect(back.count == events.count)
        let differing = back.enumerated().filter { k, pair in pair.0 != k || pair.1 != events[k] }.map(\.offset)
        #expect(differing.isEmpty, "events differ at \(differing.prefix(5)) (seed \(seed))")
    }

    @Test("the same events give the same bytes whatever the run")
    func deterministic() throws {
        var rng = SplitMix64(seed: 99)
        let templates = RandomTraces.templates(10, rng: &rng)
        let events = RandomTraces.events(3000, templates: templates, rng: &rng)
        let a = try RandomTraces.write(events, templates: templates, chunkSize: 8192)
        let b = try RandomTraces.write(events, templates: templates, chunkSize: 8192)
        #expect(a == b)
    }

    @Test("appending values with their encoded size given writes the same bytes", arguments: [1024, 8192, 1 << 20])
    func sizedAppend(chunkSize: Int) throws {
        var rng = SplitMix64(seed: 7)
        let templates = RandomTraces.templates(12, rng: &rng)
        let events = RandomTraces.events(5000, templates: templates, rng: &rng)
        let plain = try RandomTraces.write(events, templates: templates, chunkSize: chunkSize)
        #expect(try RandomTraces.write(events, templates: templates, chunkSize: chunkSize, sized: true) == plain)
    }

    @Test("an empty trace reads back empty and undamaged")
    func empty() throws {
        let bytes = try RandomTraces.write([], templates: [], chunkSize: 4096)
        let reader = try TraceReader(data: Data(bytes))
        #expect(reader.eventCount == 0)
        #expect(!reader.damage.isDamaged)
        #expect(reader.chunks.isEmpty)
    }

    @Test("metadata from the footer is read back")
    func metadata() throws {
        var m = TraceMetadata(source: .qemuLog, arch: .arm64, clock: .realtime, kvmFlavour: "pvm",
                              topology: Topology(vcpus: 4, apicIDs: [0, 1, 2, 3], ioapicPins: 24, gicLines: 288),
                              commandLine: ["irqtrace", "record", "x"], qemuVersion: "7.2.22")
        m.inputs = [InputInfo(path: "a.log", format: "qemu-log", bytes: 10, lines: 2, firstEvent: 0, events: 2, malformedLines: 0, finalNewline: false)]
        let bytes = try RandomTraces.write([], templates: [], chunkSize: 4096, metadata: m)
        let reader = try TraceReader(data: Data(bytes))
        #expect(reader.metadata == m)
    }

    @Test("lines reprint from their template exactly")
    func printing() throws {
        var sk = SkeletonBuilder()
        sk.appendThread(); sk.appendLiteral("@"); sk.appendTime(fractionDigits: 6, secondsWidth: 0); sk.appendLiteral(":x ")
        sk.appendBodyStart(); sk.appendLiteral("a 0x"); sk.appendNumber(.hexLower, width: 8); sk.appendLiteral(" b ")
        sk.appendNumber(.decimal); sk.appendLiteral(" c 0x"); sk.appendNumber(.hexUpper)
        let values: [Int64] = [0xbeef, -42, 0xABC]
        var out: [UInt8] = []
        let ok = sk.bytes.withUnsafeBufferPointer { s in
            values.withUnsafeBufferPointer { v in
                SkeletonRenderer.render(s, values: v, time: 1_795_617_354_745_184_000, cpu: -1, thread: 8073, to: &out)
            }
        }
        #expect(ok)
        #expect(String(decoding: out, as: UTF8.self) == "8073@1795617354.745184:x a 0x0000beef b -42 c 0xABC")
    }
}

@Suite("Byte-level primitives")
struct PrimitiveTests {
    @Test func varints() throws {
        for v: Int64 in [0, 1, -1, 63, -64, 64, 1 << 40, .max, .min] {
            var s = ByteSink()
            s.appendZigzag(v)
            #expect(s.count == varintSize(zigzagEncode(v)))
            let back = try s.bytes.withUnsafeBytes { b in var c = ByteCursor(b); return try c.readZigzag() }
            #expect(back == v)
        }
    }

    @Test("a varint longer than 64 bits is an error, not a crash")
    func overlongVarint() {
        let bytes = [UInt8](repeating: 0xFF, count: 12)
        #expect(throws: DecodeError.self) { try bytes.withUnsafeBytes { b in var c = ByteCursor(b); _ = try c.readVarint() } }
    }

    @Test("CRC-32C matches the standard check value")
    func crc() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test("CRC-32C: the CPU's instructions and the tables agree at every length and alignment, and when continued")
    func crcHardwareAgreesWithTables() {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<4099).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4090] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<start + length])
                    #expect(CRC32C.checksum(slice) == CRC32C.tableChecksum(slice), "start \(start), length \(length)")
                    let seed = CRC32C.tableChecksum(UnsafeRawBufferPointer(rebasing: all[0..<start]))
                    #expect(CRC32C.checksum(slice, continuing: seed) == CRC32C.tableChecksum(slice, continuing: seed))
                }
            }
        }
        // (x86-64 since Nehalem and Armv8.1 always have them: the comparison above is then a real one.)
        #if arch(x86_64)
        #expect(CRC32C.hardware)
        #endif
    }

    @Test func timeSpecs() {
        #expect(TimeSpec("1795617354.745184") == TimeSpec(nanoseconds: 1_795_617_354_745_184_000, relative: false))
        #expect(TimeSpec("+1.5s")?.nanoseconds == 1_500_000_000)
        #expect(TimeSpec("+250ms")?.relative == true)
        #expect(TimeSpec("250ms")?.nanoseconds == 250_000_000)
        #expect(TimeSpec("7us")?.nanoseconds == 7_000)
        #expect(TimeSpec("12ns")?.nanoseconds == 12)
        #expect(TimeSpec("1.2.3") == nil)
        #expect(TimeSpec("abc") == nil)
    }
}

extension TimeSpec {
    init(nanoseconds: Int64, relative: Bool) {
        self = TimeSpec("0")!
        self.nanoseconds = nanoseconds
        self.relative = relative
    }
}

@Suite("Seeking")
struct SeekTests {
    @Test("the footer index finds the chunk of any event, and the chunks of a time window")
    func seek() throws {
        var rng = SplitMix64(seed: 5)
        let templates = RandomTraces.templates(5, rng: &rng)
        var events = RandomTraces.events(5000, templates: templates, rng: &rng)
        for k in events.indices { events[k].time = Int64(k) * 1000 } // monotonic
        let reader = try TraceReader(data: Data(try RandomTraces.write(events, templates: templates, chunkSize: 2048)))
        #expect(reader.chunks.count > 10)
        for index in [0, 1, 777, 2500, 4999] {
            let k = try #require(reader.chunk(containingEvent: index))
            let batch = try reader.decodeChunk(k)
            #expect(batch.firstEventIndex <= index && index < batch.firstEventIndex + batch.count)
            #expect(batch.times[index - batch.firstEventIndex] == Int64(index) * 1000)
        }
        #expect(reader.chunk(containingEvent: 5000) == nil)
        var seen: [Int64] = []
        try reader.forEachBatch(chunks: reader.chunks(overlappingTimes: 1_000_000, 2_000_000)) { b in seen += b.times }
        #expect(seen.contains(1_000_000) && seen.contains(1_999_000))
        #expect(seen.count < 2000)
    }
}
