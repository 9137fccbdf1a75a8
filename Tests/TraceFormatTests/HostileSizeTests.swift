import Foundation
import Testing
@testable import TraceFormat

/// Hostile sizes: a header that claims a huge chunk, a footer index that disagrees with the chunk
/// header, a zstd bomb as an input file. The reader refuses them with bounded memory.
@Suite("Decompression bombs and absurd sizes")
struct HostileSizeTests {
    /// Peak resident memory of this process (VmHWM), in bytes.
    func peakRSS() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

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
        let before = peakRSS()
        try reader.forEachBatch { _ in }
        #expect(reader.damage.isDamaged)
        #expect(peakRSS() - before < 96 << 20, "bounded by the 64 MiB chunk limit")
    }

    @Test("a zstd bomb as an input file is refused at the limit instead of exhausting memory")
    func bomb() throws {
        var c = ZstdCompressor(level: 1)
        let zeros = [UInt8](repeating: 0, count: 300 << 20)
        let frame = try c.compress(zeros)
        #expect(frame.count < 64 << 10, "300 MiB of zeros compress to \(frame.count) bytes")
        let before = peakRSS()
        #expect(throws: ZstdError.self) {
            try frame.withUnsafeBytes { try ZstdDecompressor().decompressStream($0) }
        }
        let limit = ZstdDecompressor.streamLimit(compressed: frame.count)
        #expect(limit == 256 << 20 || limit < 300 << 20)
        #expect(peakRSS() - before < 320 << 20)
        // A real sample's ratio stays far below the limit.
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("traces/qemu-x86-pc-smp2.log.zst")
        let data = try Data(contentsOf: sample)
        let text = try data.withUnsafeBytes { try ZstdDecompressor().decompressStream($0) }
        #expect(text.count > data.count * 5)
    }
}
