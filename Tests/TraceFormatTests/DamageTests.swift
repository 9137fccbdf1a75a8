import Foundation
import Testing
@testable import TraceFormat

/// Truncation and bit flips: the reader never crashes or hangs, returns every intact chunk's events
/// unchanged, and reports the damage.
@Suite("Damaged files")
struct DamageTests {
    static let fixture: (bytes: [UInt8], events: [TestEvent], templates: [TestTemplate]) = {
        var rng = SplitMix64(seed: 7)
        let templates = RandomTraces.templates(12, rng: &rng)
        let events = RandomTraces.events(4000, templates: templates, rng: &rng)
        let bytes = try! RandomTraces.write(events, templates: templates, chunkSize: 2048)
        return (bytes, events, templates)
    }()

    /// Every event returned equals the original at its index.
    func checkIntactEvents(_ reader: TraceReader) throws -> Int {
        let back = try RandomTraces.read(reader, templates: Self.fixture.templates)
        let altered = back.filter { index, e in e != Self.fixture.events[index] }.map(\.0)
        #expect(altered.isEmpty, "events altered: \(altered.prefix(5))")
        return back.count
    }

    @Test("the fixture spans many chunks")
    func fixtureShape() throws {
        let reader = try TraceReader(data: Data(Self.fixture.bytes))
        #expect(reader.chunks.count > 20)
    }

    @Test("truncation at many offsets: intact chunks are recovered and the loss is reported")
    func truncation() throws {
        let full = Self.fixture.bytes
        let fullReader = try TraceReader(data: Data(full))
        var offsets = Array(stride(from: 0, to: full.count, by: max(1, full.count / 300)))
        offsets += fullReader.chunks.flatMap { [$0.offset, $0.offset + 1, $0.offset + Layout.chunkHeaderSize] }
        offsets += [full.count - 1, full.count - Layout.trailerSize, full.count - Layout.trailerSize - 1]
        for cut in Set(offsets).sorted() {
            let data = Data(full[0..<cut])
            guard cut >= Layout.fileHeaderFixed else {
                #expect(throws: IrqtraceError.self) { try TraceReader(data: data) }
                continue
            }
            let reader = try TraceReader(data: data)
            #expect(reader.damage.isDamaged, "cut at \(cut)")
            #expect(reader.damage.footerMissing)
            let got = try checkIntactEvents(reader)
            // Every chunk that ends before the cut is recovered.
            let complete = fullReader.chunks.filter { $0.offset + Layout.chunkHeaderSize + $0.compressedSize <= cut }
            #expect(got == complete.reduce(0) { $0 + $1.eventCount }, "cut at \(cut)")
        }
    }

    @Test("random byte flips never crash the reader, never alter events, and are always reported",
          arguments: Array(1...12) as [UInt64])
    func flips(seed: UInt64) throws {
        var rng = SplitMix64(seed: 1000 + seed)
        for _ in 0..<25 {
            var bytes = Self.fixture.bytes
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[at] ^= UInt8.random(in: 1...255, using: &rng)
            }
            guard let reader = try? TraceReader(data: Data(bytes)) else {
                // Only a damaged magic or version field may make the file unreadable as a whole.
                continue
            }
            #expect(reader.damage.isDamaged)
            let got = try checkIntactEvents(reader)
            #expect(got + reader.damage.lostEvents <= Self.fixture.events.count)
            if !reader.damage.tailUnknown {
                #expect(got + reader.damage.lostEvents == Self.fixture.events.count)
            }
        }
    }

    @Test("a damaged chunk in a file with its footer loses exactly that chunk's events")
    func exactLoss() throws {
        var bytes = Self.fixture.bytes
        let reader0 = try TraceReader(data: Data(bytes))
        let victim = reader0.chunks[5]
        bytes[victim.offset + Layout.chunkHeaderSize + victim.compressedSize / 2] ^= 0x40
        let reader = try TraceReader(data: Data(bytes))
        #expect(reader.damage.lostEvents == victim.eventCount)
        #expect(reader.damage.lostRanges == [victim.firstEvent..<victim.firstEvent + victim.eventCount])
        #expect(!reader.damage.tailUnknown)
        #expect(try checkIntactEvents(reader) == Self.fixture.events.count - victim.eventCount)
    }

    @Test("an unknown major version is refused with a clear message")
    func unknownVersion() throws {
        var bytes = Self.fixture.bytes
        bytes[8] = 9
        do {
            _ = try TraceReader(data: Data(bytes), path: "x.irqt")
            Issue.record("expected an error")
        } catch let e as IrqtraceError {
            #expect(e.description.contains("format version 9.0 is not supported"))
            #expect(e.description.contains("x.irqt"))
        }
    }

    @Test("a file that is not a trace is refused")
    func notATrace() {
        #expect(throws: IrqtraceError.self) { try TraceReader(data: Data("hello world, this is not a trace".utf8)) }
    }
}
