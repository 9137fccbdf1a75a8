import Foundation
import Recorder
import TraceFormat

/// The measured work of each benchmark, shared by the package-benchmark suite and `irqtrace-bench`.
public enum Workloads {
    // MARK: import.qemuLog

    /// A large QEMU log on disk (all samples, decompressed, repeated to about `approximateBytes`).
    public struct ImportInput: Sendable {
        public var path: String
        public var bytes: Int
        public var rounds: Int
        public init(path: String, bytes: Int, rounds: Int) {
            self.path = path
            self.bytes = bytes
            self.rounds = rounds
        }
    }

    public static func makeImportInput(approximateBytes: Int = 50_000_000) throws -> ImportInput {
        let (text, rounds) = try Samples.largeLog(approximateBytes: approximateBytes)
        let path = try Samples.writeTemporary(text, name: "import.log")
        return ImportInput(path: path, bytes: text.count, rounds: rounds)
    }

    /// `Recorder.record` of the log into memory (zstd 19, 1 MiB chunks: the `irqtrace record` defaults).
    public static func importLog(_ input: ImportInput, level: Int32 = 19) throws -> RecordResult {
        let out = OutputFile()
        return try Recorder.record(inputs: [input.path], to: out, options: RecordOptions(chunkSize: 1 << 20, level: level))
    }

    // MARK: import.ftraceText

    /// A large tracefs text file on disk (the real KVM recordings repeated to about `approximateBytes`).
    public static func makeFtraceImportInput(approximateBytes: Int = 50_000_000) throws -> ImportInput {
        let (text, rounds) = try Samples.largeFtraceText(approximateBytes: approximateBytes)
        let path = try Samples.writeTemporary(text, name: "import-ftrace.txt")
        return ImportInput(path: path, bytes: text.count, rounds: rounds)
    }

    // MARK: encode.events

    /// ≈ `rounds` × 121.5k events decoded once (20 rounds ≈ 2.4 M events).
    public static func makeEncodeInput(rounds: Int = 20) throws -> EventColumns {
        try EventColumns.samples().replicated(rounds)
    }

    // MARK: decode.events

    /// An in-memory `.irqt` of `rounds` × 121.5k events (60 rounds ≈ 7.3 M events), written at `level`.
    public struct DecodeInput: Sendable {
        public var data: Data
        public var events: Int
        public init(data: Data, events: Int) { self.data = data; self.events = events }
    }

    public static func makeDecodeInput(rounds: Int = 60, level: Int32 = 19) throws -> DecodeInput {
        let events = try EventColumns.samples().replicated(rounds)
        let bytes = try events.encode(level: level)
        return DecodeInput(data: Data(bytes), events: events.count)
    }

    public struct DecodeTally: Sendable {
        public var events = 0
        public var timeSum: Int64 = 0
        public var templateSum: UInt64 = 0
        public init() {}
    }

    /// Opens the trace and decodes every chunk, touching every event's time and template.
    public static func decode(_ input: DecodeInput) throws -> DecodeTally {
        let reader = try TraceReader(data: input.data, path: "<bench>")
        var tally = DecodeTally()
        try reader.forEachBatch { batch in
            batch.times.withUnsafeBufferPointer { times in
                batch.templates.withUnsafeBufferPointer { templates in
                    var ts: Int64 = 0
                    var tt: UInt64 = 0
                    for i in 0..<batch.count {
                        ts &+= times[i]
                        tt &+= UInt64(templates[i])
                    }
                    tally.timeSum &+= ts
                    tally.templateSum &+= tt
                }
            }
            tally.events += batch.count
        }
        return tally
    }

    /// Where decode time goes, each step timed on its own (seconds for the whole input).
    public struct DecodeBreakdown: Sendable {
        public var events = 0
        public var chunks = 0
        public var compressedBytes = 0
        public var rawBytes = 0
        /// `TraceReader(data:)`: header, footer index, CRC-32C of every chunk payload.
        public var open = 0.0
        /// CRC-32C of the chunk payloads alone.
        public var crc = 0.0
        /// `ZSTD_decompressDCtx` of every chunk payload alone.
        public var zstd = 0.0
        /// `forEachBatch` with an empty body (zstd + column decode + EventBatch construction).
        public var forEachBatch = 0.0
        /// The per-event time/template loop alone (timed over one decoded batch, scaled to the whole trace).
        public var touch = 0.0
    }

    public static func decodeBreakdown(_ input: DecodeInput, repeats: Int = 3) throws -> DecodeBreakdown {
        var b = DecodeBreakdown()
        let probe = try TraceReader(data: input.data, path: "<bench>")
        b.events = probe.eventCount
        b.chunks = probe.chunks.count
        b.compressedBytes = probe.chunks.reduce(0) { $0 + $1.compressedSize }
        b.rawBytes = probe.chunks.reduce(0) { $0 + $1.rawSize }
        let chunkHeaderSize = 52 // docs/FORMAT.md: fixed chunk header before the payload

        b.open = try best(repeats) { _ = try TraceReader(data: input.data, path: "<bench>") }
        b.crc = best(repeats) {
            input.data.withUnsafeBytes { file in
                var x: UInt32 = 0
                for ch in probe.chunks {
                    let start = ch.offset + chunkHeaderSize
                    x ^= CRC32C.checksum(UnsafeRawBufferPointer(rebasing: file[start..<start + ch.compressedSize]))
                }
                blackHoleSink(Int(x))
            }
        }
        b.zstd = try best(repeats) {
            let d = ZstdDecompressor()
            var scratch: [UInt8] = []
            try input.data.withUnsafeBytes { file in
                for ch in probe.chunks {
                    let start = ch.offset + chunkHeaderSize
                    try d.decompress(UnsafeRawBufferPointer(rebasing: file[start..<start + ch.compressedSize]),
                                     expectedSize: ch.rawSize, into: &scratch)
                }
            }
            blackHoleSink(scratch.count)
        }
        let reader = try TraceReader(data: input.data, path: "<bench>")
        b.forEachBatch = try best(repeats) {
            var n = 0
            try reader.forEachBatch { n += $0.count }
            blackHoleSink(n)
        }
        // The per-event loop alone: over one decoded batch, repeated to cover as many events as the trace.
        if !probe.chunks.isEmpty {
            let batch = try reader.decodeChunk(0)
            let passes = max(1, (b.events + batch.count - 1) / max(1, batch.count))
            let t = best(repeats) {
                var ts: Int64 = 0
                batch.times.withUnsafeBufferPointer { times in
                    batch.templates.withUnsafeBufferPointer { templates in
                        for _ in 0..<passes {
                            for i in 0..<batch.count { ts &+= times[i] &+ Int64(templates[i]) }
                            blackHoleSink(Int(truncatingIfNeeded: ts))
                        }
                    }
                }
            }
            b.touch = t * Double(b.events) / Double(passes * max(1, batch.count))
        }
        return b
    }

    // MARK: timing

    /// Seconds of monotonic time.
    @inline(__always)
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Times `body` once.
    public static func time(_ body: () throws -> Void) rethrows -> Double {
        let t0 = now()
        try body()
        return now() - t0
    }

    /// Fastest of `n` runs.
    public static func best(_ n: Int, _ body: () throws -> Void) rethrows -> Double {
        var m = Double.infinity
        for _ in 0..<max(1, n) { m = min(m, try time(body)) }
        return m
    }
}

/// Keeps a value alive so the optimiser cannot drop the work that made it.
@_optimize(none)
public func blackHoleSink(_ x: Int) {}
