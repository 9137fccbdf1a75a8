#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// The lines of an input, without their newline, handed to a body one by one.
///
/// A file is read with `read(2)` through one reused block, so resident memory stays at the block's
/// size whatever the file's (a 12 GB ftrace text records in a flat footprint). Walking a read-only
/// mapping instead, and dropping its pages behind (MADV_DONTNEED), left up to 18 MiB of the text
/// resident on Linux 6.18: a fault maps the large page-cache folios readahead builds, not 4 KiB.
/// In-memory bytes (a decompressed `.zst`) are walked in place.
struct LineReader {
    /// Bytes read per `read(2)`; a line longer than the block grows it.
    static let blockSize = 2 << 20

    /// Calls `body` with each line; returns the number of lines
    /// and whether the last one ended with a newline. `progress` gets (bytes done, total).
    static func forEachLine(in input: InputFile, blockSize: Int = LineReader.blockSize, progress: ((Int, Int) -> Void)? = nil,
                            _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> (lines: Int, finalNewline: Bool) {
        if input.isFileMapping {
            return try readingFile(input.path, size: input.data.count, blockSize: blockSize, progress: progress, body)
        }
        return try input.data.withUnsafeBytes { all in try walk(all, base: 0, total: all.count, isEnd: true, linesBefore: 0, progress: progress, body).result }
    }

    /// The complete lines of `bytes` (all of it when `isEnd`: a last line without newline too).
    /// Returns the count, whether the last line had a newline, and where the unfinished tail starts.
    /// `progress` is called every 65536 lines of the whole input (`linesBefore`: those of earlier blocks).
    private static func walk(_ bytes: UnsafeRawBufferPointer, base: Int, total: Int, isEnd: Bool, linesBefore: Int, progress: ((Int, Int) -> Void)?,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> (result: (lines: Int, finalNewline: Bool), consumed: Int) {
        guard let p = bytes.baseAddress else { return ((0, true), 0) }
        let n = bytes.count
        var start = 0, lines = 0, finalNewline = true
        while start < n {
            let end: Int
            if let nl = memchr(p + start, 0x0A, n - start) {
                end = p.distance(to: UnsafeRawPointer(nl))
            } else {
                guard isEnd else { break }
                end = n
                finalNewline = false
            }
            try body(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            lines += 1
            if let progress, (linesBefore + lines) & 0xFFFF == 0 { progress(base + end, total) }
            start = end + 1
        }
        return ((lines, finalNewline), min(start, n))
    }

    private static func readingFile(_ path: String, size: Int, blockSize: Int, progress: ((Int, Int) -> Void)?,
                                    _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> (lines: Int, finalNewline: Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw IrqtraceError("cannot open: \(String(cString: strerror(errno)))", path: path, hint: "check the file's permissions")
        }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        var capacity = max(1, blockSize)
        var block = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { block.deallocate() }
        // (Only the size mapped when the input was opened is read: a file still growing is cut there, as the mapping was.)
        var offset = 0          // file offset of block[0]
        var filled = 0
        var lines = 0
        var finalNewline = true
        while true {
            let want = min(capacity - filled, size - (offset + filled))
            var got = 0
            if want > 0 {
                got = read(fd, block + filled, want)
                if got < 0 {
                    if errno == EINTR { continue }
                    throw IrqtraceError("read failed: \(String(cString: strerror(errno)))", path: path, byteOffset: offset + filled,
                                        hint: "check the disk; the lines before this offset were recorded")
                }
            }
            filled += got
            let isEnd = got == 0 || offset + filled >= size
            let (result, consumed) = try walk(UnsafeRawBufferPointer(start: block, count: filled), base: offset, total: size,
                                              isEnd: isEnd, linesBefore: lines, progress: progress, body)
            lines += result.lines
            if isEnd {
                finalNewline = result.lines == 0 ? finalNewline : result.finalNewline
                break
            }
            if consumed == 0 && filled == capacity {
                // One line longer than the block: a bigger block.
                let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
                bigger.copyMemory(from: block, byteCount: filled)
                block.deallocate()
                block = bigger
                capacity *= 2
                continue
            }
            // The unfinished line moves to the front.
            if consumed < filled { memmove(block, block + consumed, filled - consumed) }
            offset += consumed
            filled -= consumed
        }
        return (lines, finalNewline)
    }
}
