import Foundation
import Testing
@testable import TraceFormat

/// Hostile sizes: a header that claims a huge chunk, a footer index that disagrees with the chunk
/// header, a zstd bomb as an input file. The reader refuses them. Their memory bounds are measured
/// in an irqtrace process of its own (EndToEndTests/HostileInputCLITests): this process's peak
/// counts every test running beside it.
@Suite("Decompression bombs and absurd sizes")
struct HostileSizeTests {

    /// Rewrites chunk 0's header of `bytes` with `rawSize`, re-sealing its checksum (a hostile file
    /// passes the checksums).
    func withChunkRawSize(_ bytes: [UInt8], _ rawSize: UInt32) throws -> [UInt8] {
        let reader = try TraceReader(data: Data(bytes))
        let off = reader.chunks[0].offset
        var b = bytes
        let h = b.withUnsafeBytes { ChunkHeader.parse($0, at: off)! }
        var g = h
        g.rawSize = rawSize
        let enc = g.encode()
        for k in 0..<enc.count { b[off + k] = enc[k] }
        return b
    }

    @Test("a chunk header claiming more than 64 MiB is refused without allocating it")
    func hugeChunk() throws {
        let bytes = DamageTests.fixture.bytes
        for size: UInt32 in [UInt32(Layout.maxChunkBytes) + 1, 1 << 30, UInt32.max] {
            let hostile = try withChunkRawSize(bytes, size)
            let reader = try TraceReader(data: Data(hostile))
            #expect(reader.chunks.first?.isIntact == false, "the chunk is reported damaged")
            #expect(reader.damage.isDamaged)
            var seen = 0
            try reader.forEachBatch { seen += $0.count }
            #expect(seen > 0, "the other chunks are read")
        }
    }

    @Test("a re-sealed header claiming an event index near 2^64 is refused, with or without the footer")
    func hugeFirstEvent() throws {
        let bytes = DamageTests.fixture.bytes
        let reader = try TraceReader(data: Data(bytes))
        #expect(reader.chunks.count >= 2)
        for first: UInt64 in [UInt64(Int.max) + 1, UInt64.max, Layout.maxEventIndex + 1] {
            let off = reader.chunks[0].offset
            var b = bytes
            var h = b.withUnsafeBytes { ChunkHeader.parse($0, at: off)! }
            h.firstEvent = first
            let enc = h.encode()
            for k in 0..<enc.count { b[off + k] = enc[k] }
            // With the footer: the index disagrees with the header, so the chunk is damaged.
            let withFooter = try TraceReader(data: Data(b))
            #expect(withFooter.chunks[0].isIntact == false)
            // Without it (cut after chunk 1): the scan skips the header and resynchronises (fuzz find).
            let cut = Array(b.prefix(reader.chunks[1].offset + Layout.chunkHeaderSize + reader.chunks[1].compressedSize))
            let scanned = try TraceReader(data: Data(cut))
            #expect(scanned.damage.footerMissing)
            #expect(scanned.chunks.count == 1 && scanned.chunks[0].firstEvent == reader.chunks[1].firstEvent)
            var seen = 0
            try scanned.forEachBatch { seen += $0.count }
            #expect(seen == reader.chunks[1].eventCount)
        }
    }

    @Test("a re-sealed header with a wrong but plausible size fails to decode, reported, not trusted")
    func wrongSize() throws {
        let hostile = try withChunkRawSize(DamageTests.fixture.bytes, 32 << 20)
        let reader = try TraceReader(data: Data(hostile))
        var seen = 0
        try reader.forEachBatch { seen += $0.count }
        #expect(reader.damage.isDamaged)
        #expect(reader.chunks[0].isIntact == false)
        #expect(seen == reader.chunks.dropFirst().reduce(0) { $0 + $1.eventCount }, "the other chunks are read")
    }

    @Test("a zstd bomb as an input file is refused at the limit instead of exhausting memory")
    func bomb() throws {
        // 300 concatenated frames of 1 MiB of zeros: a 300 MiB stream from a few KB, built without
        // holding 300 MiB here.
        let c = ZstdCompressor(level: 19)
        let one = try c.compress([UInt8](repeating: 0, count: 1 << 20))
        var frame: [UInt8] = []
        for _ in 0..<300 { frame += one }
        #expect(frame.count < 64 << 10, "300 MiB of zeros compress to \(frame.count) bytes")
        let limit = ZstdDecompressor.streamLimit(compressed: frame.count)
        #expect(limit == 256 << 20 || limit < 300 << 20)
        #expect(throws: ZstdError.self) {
            try frame.withUnsafeBytes { try ZstdDecompressor().decompressStream($0) }
        }
        // Under a limit a stream is within, it decodes whole; one byte less and it is refused.
        let small = Array(frame.prefix(one.count * 40))
        let whole = try small.withUnsafeBytes { try ZstdDecompressor().decompressStream($0, limit: 40 << 20) }
        #expect(whole.count == 40 << 20 && whole.allSatisfy { $0 == 0 })
        do {
            _ = try small.withUnsafeBytes { try ZstdDecompressor().decompressStream($0, limit: (40 << 20) - 1) }
            Issue.record("a stream one byte over the limit was accepted")
        } catch {
            #expect("\(error)".contains("decompression bomb"))
        }
        // A real sample's ratio stays far below the limit.
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("traces/qemu-x86-pc-smp2.log.zst")
        let data = try Data(contentsOf: sample)
        let text = try data.withUnsafeBytes { try ZstdDecompressor().decompressStream($0) }
        #expect(text.count > data.count * 5)
    }
}
