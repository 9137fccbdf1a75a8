import Foundation
import Testing
@testable import TraceFormat

/// Runs the built `irqtrace` under GNU time and returns its result with its own peak resident
/// memory. Memory bounds are measured in a process of their own: the test process's VmHWM counts
/// every test running beside it (CI saw a 256 MiB bound measured as 335 MiB). Nor can the test
/// spawn irqtrace and read wait4's ru_maxrss: posix_spawn's vfork child hands the parent's
/// high-water mark to the exec'd program (Linux keeps the old mm's maximum in signal->maxrss), so
/// a small irqtrace reads as big as the test process. GNU time forks from its own small process.
func irqtraceMeasured(_ args: [String], environment extra: [String: String] = [:]) throws -> (run: Run, maxRSS: Int) {
    let time = "/usr/bin/time"
    try #require(FileManager.default.isExecutableFile(atPath: time), "GNU time is missing: run scripts/setup.sh (Debian package time)")
    let rssPath = temporary("rss-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(atPath: rssPath) }
    let run = try runProcess(time, ["-f", "%M", "-o", rssPath, irqtraceBinary] + args, environment: extra)
    let report = try String(contentsOfFile: rssPath, encoding: .utf8)
    // A non-zero exit makes time write "Command exited with non-zero status N" before the figure.
    let kib = try #require(report.split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) },
                           "GNU time's report: \(report)")
    return (run, kib * 1024)
}

@Suite("Hostile inputs: memory bounded, measured in the irqtrace process itself")
struct HostileInputCLITests {
    /// A zstd bomb without holding its expansion here: one frame of 1 MiB of zeros, repeated
    /// (`zstd -d` and irqtrace read concatenated frames as one stream).
    func bomb(mebibytes: Int) throws -> String {
        let c = ZstdCompressor(level: 19)
        let frame = try c.compress([UInt8](repeating: 0, count: 1 << 20))
        let path = temporary("bomb-\(mebibytes).log.zst")
        var all: [UInt8] = []
        all.reserveCapacity(frame.count * mebibytes)
        for _ in 0..<mebibytes { all += frame }
        try Data(all).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("a 1 GiB zstd bomb is refused at the 256 MiB limit: exit 2, peak memory far below the bomb")
    func zstdBomb() throws {
        let path = try bomb(mebibytes: 1024)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size * 1000 < 256 << 20, "the default limit applies (\(size) bytes compressed)")
        let out = temporary("bomb.irqt")
        let (r, rss) = try irqtraceMeasured(["record", path, "-o", out])
        #expect(r.status == 2)
        #expect(r.stderr.contains("decompression bomb"), "\(r.stderr)")
        #expect(r.stderr.contains(path), "the error names the file")
        #expect(!FileManager.default.fileExists(atPath: out), "nothing written")
        // The decompressed bytes stop at the limit (256 MiB); what is on top is the executable's own.
        #expect(rss < (256 + 64) << 20, "peak \(rss >> 20) MiB")
        // The same bomb under a 32 MiB IRQTRACE_MAX_DECOMPRESSED stops there.
        let (small, smallRSS) = try irqtraceMeasured(["record", path, "-o", out],
                                                     environment: ["IRQTRACE_MAX_DECOMPRESSED": "\(32 << 20)"])
        #expect(small.status == 2 && small.stderr.contains("more than \(32 << 20) bytes"), "\(small.stderr)")
        #expect(smallRSS < rss, "a lower limit, less memory: \(smallRSS >> 20) vs \(rss >> 20) MiB")
    }

    @Test("a re-sealed .irqt chunk header claiming 48 MiB is reported damaged, with memory bounded by the chunk limit")
    func wrongChunkSize() throws {
        let good = temporary("wrong-size-good.irqt")
        let rec = try irqtrace(["record", sample, "-o", good])
        try #require(rec.status == 0, "\(rec.stderr)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        let reader = try TraceReader(data: Data(bytes))
        let off = reader.chunks[0].offset
        var h = bytes.withUnsafeBytes { ChunkHeader.parse($0, at: off)! }
        h.rawSize = 48 << 20
        for (k, b) in h.encode().enumerated() { bytes[off + k] = b }
        let bad = temporary("wrong-size-bad.irqt")
        try Data(bytes).write(to: URL(fileURLWithPath: bad))

        let (base, baseRSS) = try irqtraceMeasured(["stats", good])
        #expect(base.status == 0, "\(base.stderr)")
        let (r, rss) = try irqtraceMeasured(["stats", bad])
        #expect(r.status == 0, "lenient by default: \(r.stderr)")
        #expect(r.stderr.contains("damage"), "\(r.stderr)")
        #expect(rss - baseRSS < 96 << 20, "bounded by the 64 MiB chunk limit: \(baseRSS >> 20) -> \(rss >> 20) MiB")
    }
}
