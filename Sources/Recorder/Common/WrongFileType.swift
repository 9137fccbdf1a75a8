import TraceFormat

/// Names files that are not recordings irqtrace reads, so the error says what the file is and what
/// to do instead of only "unknown format".
enum WrongFileType {
    /// A description and a hint for `bytes` (the start of a file), or nil when it looks like text.
    static func identify(_ bytes: UnsafeRawBufferPointer) -> (what: String, hint: String)? {
        func starts(_ magic: [UInt8]) -> Bool { bytes.count >= magic.count && zip(bytes, magic).allSatisfy { $0 == $1 } }
        if bytes.isEmpty { return ("the file is empty", "record something first: irqtrace record -o OUT.irqt (live), or a QEMU -trace log / tracefs trace / trace.dat") }
        if starts([0x1F, 0x8B]) { return ("a gzip-compressed file", "decompress it (gunzip -k FILE), or recompress it with zstd: irqtrace reads .zst files directly") }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return ("an xz-compressed file", "decompress it (xz -dk FILE), or recompress it with zstd: irqtrace reads .zst files directly") }
        if starts(Array("BZh".utf8)) { return ("a bzip2-compressed file", "decompress it (bunzip2 -k FILE)") }
        if starts([0x04, 0x22, 0x4D, 0x18]) { return ("an lz4-compressed file", "decompress it (lz4 -d FILE)") }
        if starts(Array("PERFILE2".utf8)) { return ("a perf.data file", "convert it to text: perf script -F comm,tid,cpu,time,event,trace -i FILE > FILE.txt, then record FILE.txt") }
        if starts([0x0A, 0x0D, 0x0D, 0x0A]) { return ("a pcapng capture", "irqtrace reads classic pcap files in its own link type (irqtrace export --format pcap); save as pcap with editcap -F pcap") }
        if starts([0x7F, 0x45, 0x4C, 0x46]) { return ("an ELF executable or object file, not a trace", "give a recording: a QEMU -trace log, tracefs trace text, trace-cmd report, perf script text or trace.dat") }
        if starts([0x89, 0x50, 0x4E, 0x47]) || starts([0xFF, 0xD8, 0xFF]) || starts(Array("%PDF".utf8)) {
            return ("an image or document, not a trace", "give a recording: a QEMU -trace log, tracefs trace text, trace-cmd report, perf script text or trace.dat")
        }
        if starts(Array("PK".utf8) + [0x03, 0x04]) { return ("a zip archive", "unzip it and pass the trace inside") }
        if bytes.count > 262, bytes[257] == 0x75, bytes[258] == 0x73, bytes[259] == 0x74, bytes[260] == 0x61, bytes[261] == 0x72 {
            return ("a tar archive", "extract it (tar xf FILE) and pass the trace inside")
        }
        return nil
    }

    /// The first line of a text file, shortened, for "cannot tell the input format" errors.
    static func firstLine(_ bytes: UnsafeRawBufferPointer) -> String {
        var end = 0
        while end < bytes.count, end < 120, bytes[end] != 0x0A { end += 1 }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
        return text.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\t" }) ? text : "(binary data)"
    }
}
