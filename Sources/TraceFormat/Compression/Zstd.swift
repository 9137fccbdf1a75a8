import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CZstd

/// Errors from libzstd, with its own message.
public struct ZstdError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "zstd: \(message)" }
    init(code: Int) { message = String(cString: ZSTD_getErrorName(code)) }
    init(_ message: String) { self.message = message }
}

/// Owns a `ZSTD_CCtx`; freed in `deinit`. Reused across chunks so compression allocates once.
public struct ZstdCompressor: ~Copyable {
    private let context: OpaquePointer
    public let level: Int32

    public init(level: Int32 = 19) {
        context = ZSTD_createCCtx()
        self.level = level
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input` as one zstd frame.
    public func compress(_ input: [UInt8]) throws(ZstdError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                ZSTD_compressCCtx(context, dst.baseAddress, bound, src.baseAddress, src.count, level)
            }
        }
        if ZSTD_isError(written) != 0 { throw ZstdError(code: written) }
        out.removeSubrange(written...)
        return out
    }
}

/// Owns a `ZSTD_DCtx`; freed in `deinit`.
public struct ZstdDecompressor: ~Copyable {
    private let context: OpaquePointer

    public init() { context = ZSTD_createDCtx() }
    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses one frame whose decompressed size must be exactly `expectedSize`.
    public func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int, into out: inout [UInt8]) throws(ZstdError) {
        if out.count < expectedSize { out = [UInt8](repeating: 0, count: expectedSize) }
        let got = out.withUnsafeMutableBytes { dst in
            ZSTD_decompressDCtx(context, dst.baseAddress, expectedSize, input.baseAddress, input.count)
        }
        try Self.check(got, expectedSize)
    }

    /// `decompress(_:expectedSize:into:)` into memory the caller owns (at least `expectedSize`
    /// bytes): no copy out of an array for a reader that keeps its own buffer.
    public func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int, into dst: UnsafeMutableRawBufferPointer) throws(ZstdError) {
        precondition(dst.count >= expectedSize, "decompress: \(dst.count)-byte buffer for \(expectedSize) bytes")
        try Self.check(ZSTD_decompressDCtx(context, dst.baseAddress, expectedSize, input.baseAddress, input.count), expectedSize)
    }

    private static func check(_ got: Int, _ expectedSize: Int) throws(ZstdError) {
        if ZSTD_isError(got) != 0 { throw ZstdError(code: got) }
        guard got == expectedSize else { throw ZstdError("decompressed \(got) bytes, expected \(expectedSize)") }
    }

    /// Decompresses a whole (possibly multi-frame) zstd stream of unknown size, as `zstd -d` does.
    /// Used for `.zst` input files.
    public func decompressStream(_ input: UnsafeRawBufferPointer) throws(ZstdError) -> Data {
        try decompressStream(input, limit: Self.streamLimit(compressed: input.count))
    }

    /// Most bytes a `.zst` input may expand to: 1,000 times its size (real trace text compresses 10
    /// to 100 times) but at least 256 MiB, and never more than half the machine's memory, so a
    /// decompression bomb is refused instead of exhausting memory. IRQTRACE_MAX_DECOMPRESSED (bytes)
    /// overrides it.
    public static func streamLimit(compressed: Int) -> Int {
        if let v = getenv("IRQTRACE_MAX_DECOMPRESSED"), let n = Int(String(cString: v)), n > 0 { return n }
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        let half = pages > 0 && size > 0 ? pages * size / 2 : Int.max
        return min(half, max(256 << 20, compressed.multipliedReportingOverflow(by: 1000).overflow ? Int.max : compressed * 1000))
    }

    /// `decompressStream(_:)` with an explicit limit. The output grows in place (`realloc`, which
    /// for large blocks remaps pages instead of copying them) and never beyond `limit`, so peak
    /// memory is the output itself: no doubling copy, no second copy into `Data`.
    public func decompressStream(_ input: UnsafeRawBufferPointer, limit: Int) throws(ZstdError) -> Data {
        let stream = ZSTD_createDStream()!
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        var capacity = min(limit, max(1 << 16, input.count.multipliedReportingOverflow(by: 8).partialValue))
        guard var base = malloc(max(capacity, 1)) else { throw ZstdError("out of memory") }
        var count = 0
        var owned = true
        defer { if owned { free(base) } }
        let chunk = ZSTD_DStreamOutSize()
        var inBuf = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let probe = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        defer { probe.deallocate() }
        // Whether the last call that moved (read input or wrote output) ended a frame. A call after
        // a frame's end with no input left returns the next header's size hint, not 0: it must not
        // turn a stream whose output ends exactly on a buffer boundary into a "truncated" one.
        var atFrameEnd = false
        while true {
            if capacity - count < chunk && capacity < limit {
                let grown = min(limit, max(capacity * 2, count + chunk))
                guard let b = realloc(base, grown) else { throw ZstdError("out of memory growing to \(grown) bytes") }
                base = b
                capacity = grown
            }
            // Full at the limit: decode into a one-byte probe; a byte out means the stream is larger.
            let probing = count == capacity
            let before = inBuf.pos
            var outBuf = probing ? ZSTD_outBuffer(dst: probe, size: 1, pos: 0)
                                 : ZSTD_outBuffer(dst: base + count, size: capacity - count, pos: 0)
            let ret = ZSTD_decompressStream(stream, &outBuf, &inBuf)
            if ZSTD_isError(ret) != 0 { throw ZstdError(code: ret) }
            if probing && outBuf.pos > 0 { throw Self.bomb(limit: limit, compressed: input.count) }
            if !probing { count += outBuf.pos }
            if outBuf.pos > 0 || inBuf.pos != before { atFrameEnd = ret == 0 }
            // All input read and room left in the output: zstd has flushed all it can.
            if inBuf.pos >= inBuf.size && outBuf.pos < outBuf.size {
                if !atFrameEnd { throw ZstdError("truncated zstd stream (the input ends inside a frame)") }
                break
            }
        }
        owned = false
        return Data(bytesNoCopy: base, count: count, deallocator: .free)
    }

    private static func bomb(limit: Int, compressed: Int) -> ZstdError {
        ZstdError("decompresses to more than \(limit) bytes (\(compressed) compressed): a decompression bomb? (IRQTRACE_MAX_DECOMPRESSED=BYTES allows more)")
    }

    /// True when `bytes` starts with the zstd frame magic 28 B5 2F FD.
    public static func isZstd(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x28 && bytes[1] == 0xB5 && bytes[2] == 0x2F && bytes[3] == 0xFD
    }
}
