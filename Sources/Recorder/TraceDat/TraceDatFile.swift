import TraceFormat

/// One CPU's ring-buffer data in the file: a byte range of pages, or (compressed v7 files) the
/// chunk table that holds them.
struct DatCPUData {
    var cpu: Int
    var offset: Int
    var size: Int
}

/// A trace buffer: the top-level one ("") or an instance.
struct DatBuffer {
    var name: String
    var clock: String?
    var pageSize: Int
    /// Indexed like libtracecmd's `cpu_data` (position = CPU id after the remap it does).
    var cpus: [DatCPUData]
    var compressed: Bool
    var latency: Bool
}

/// Guest clock synchronisation from the TIME_SHIFT option (libtracecmd `timestamp_host_sync`).
struct TimeShift {
    struct Sample { var time: Int64; var offset: Int64; var scaling: Int64; var fraction: Int64 }
    var flags: UInt32
    var cpus: [[Sample]]
}

/// Decompressors for the file's algorithm.
final class DatDecompressor {
    let name: String
    private let zstd = ZstdDecompressor()

    init(name: String) { self.name = name }

    func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int, into out: inout [UInt8]) throws(DatFault) {
        switch name {
        case "zstd":
            do { try zstd.decompress(input, expectedSize: expectedSize, into: &out) }
            catch { throw DatFault(offset: 0, message: error.description) }
            if out.count > expectedSize { out.removeSubrange(expectedSize...) }
        case "zlib":
            do { try Inflate.zlib(input, expectedSize: expectedSize, into: &out) }
            catch { throw DatFault(offset: 0, message: error.description) }
        default:
            throw DatFault(offset: 0, message: "unsupported compression '\(name)'")
        }
    }

    /// A chunk of `expectedSize` bytes decompressed into `out` (at least that large): zstd writes
    /// there directly; zlib inflates into `spare` and is copied.
    func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int, into out: UnsafeMutableRawBufferPointer,
                    spare: inout [UInt8]) throws(DatFault) {
        if name == "zstd" {
            do { try zstd.decompress(input, expectedSize: expectedSize, into: out) }
            catch { throw DatFault(offset: 0, message: error.description) }
            return
        }
        try decompress(input, expectedSize: expectedSize, into: &spare)
        guard spare.count >= expectedSize else {
            throw DatFault(offset: 0, message: "decompressed \(spare.count) bytes, expected \(expectedSize)")
        }
        spare.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<expectedSize])) }
    }
}

/// The metadata of a trace.dat file (versions 6 and 7): everything but the event records.
final class TraceDatFile {
    var version = 0
    var bigEndian = false
    var userLongSize = 8
    var pageSize = 4096
    var compression: String?
    var compressionVersion: String?
    var decompressor: DatDecompressor?
    /// Kernel long size: the size of `commit` in header_page.
    var longSize = 8
    var pageHeaderSize = 16
    /// Filled once the formats are read (`finishEvents`).
    var events = EventTable(formats: [], longSize: 8, functions: [])
    /// /proc/kallsyms as the file carries it; parsed on first use (most traces print no symbol).
    private var kallsymsText: [UInt8] = []
    lazy var kallsyms = Kallsyms(text: kallsymsText)
    var printk: [UInt64: [UInt8]] = [:]
    var comms: [Int32: [UInt8]] = [:]
    var cpuCount = 0
    var buffers: [DatBuffer] = []
    var tsOffset: Int64 = 0
    var tscMult: UInt32 = 0
    var tscShift: UInt32 = 0
    var inUsecs = true
    var traceClock: String?
    var timeShift: TimeShift?
    var uname: String?
    var recorderVersion: String?
    var latencyText: [UInt8]?
    var commonTypeOffset = 0, commonTypeSize = 2
    var commonPidOffset = 4, commonPidSize = 4
    var functions: Set<String> = EventPrinter.knownFunctions

    private var useTraceClock = false
    private var sections: [Int: Int] = [:]   // section id -> file offset (v7)
    private var headerPageText: [UInt8] = []
    private var formatTexts: [(system: String, text: [UInt8])] = []

    static let magic: [UInt8] = [0x17, 0x08, 0x44, 0x74, 0x72, 0x61, 0x63, 0x69, 0x6E, 0x67]

    init(_ buf: UnsafeRawBufferPointer) throws(DatFault) {
        var r = DatReader(buf, big: false, fileBase: 0)
        let m = try r.bytes(10, "magic")
        guard m.elementsEqual(TraceDatFile.magic) else {
            throw DatFault(offset: 0, message: "not a trace-cmd file (bad magic)")
        }
        let vstr = try r.cString("version string")
        guard let v = Int(vstr) else { throw DatFault(offset: 10, message: "bad version string '\(vstr)'") }
        version = v
        guard v == 6 || v == 7 else { throw DatFault(offset: 10, message: "unsupported file version \(v) (6 and 7 are supported)") }
        let endian = try r.u8("endianness")
        guard endian <= 1 else { throw r.fault("bad endianness flag \(endian)", at: r.pos - 1) }
        bigEndian = endian == 1
        r = DatReader(buf, pos: r.pos, big: bigEndian, fileBase: 0)
        userLongSize = Int(try r.u8("long size"))
        guard userLongSize == 4 || userLongSize == 8 else { throw r.fault("bad long size \(userLongSize)", at: r.pos - 1) }
        longSize = userLongSize
        let psPos = r.pos
        pageSize = Int(try r.u32("page size"))
        guard pageSize >= 64, pageSize <= 1 << 24, pageSize & (pageSize - 1) == 0 else {
            throw r.fault("bad page size \(pageSize)", at: psPos)
        }
        if version >= 7 {
            try parseV7(&r)
        } else {
            try parseV6(&r)
        }
        try finishEvents()
    }

    // MARK: version 6

    private func parseV6(_ r: inout DatReader) throws(DatFault) {
        try headerInfo(&r)
        try ftraceEvents(&r)
        try eventSystems(&r)
        try kallsymsSection(&r)
        try printkSection(&r)
        try cmdlines(&r)
        let cpusPos = r.pos
        let cpus = Int(try r.u32("CPU count"))
        guard cpus <= 1 << 16 else { throw r.fault("implausible CPU count \(cpus)", at: cpusPos) }
        cpuCount = cpus
        var tag = try r.bytes(10, "options/flyrecord tag")
        var instanceOffsets: [(String, Int)] = []
        if tag.starts(with: "options".utf8) {
            try optionsV6(&r, instances: &instanceOffsets)
            tag = try r.bytes(10, "flyrecord tag")
        }
        if tag.starts(with: "latency".utf8) {
            latencyText = [UInt8](UnsafeRawBufferPointer(rebasing: r.buf[r.pos...]))
            buffers.append(DatBuffer(name: "", clock: nil, pageSize: pageSize, cpus: [], compressed: false, latency: true))
            return
        }
        guard tag.starts(with: "flyrecord".utf8) else {
            throw r.fault("expected 'flyrecord' or 'latency', found \(printable(tag))", at: r.pos - 10)
        }
        let top = try cpuTable(&r, cpus: cpus)
        if useTraceClock {
            // The trace_clock file follows the CPU table.
            let save = r.pos
            if let size = try? r.size64("trace_clock"), let text = try? r.bytes(size, "trace_clock") {
                parseTraceClock(String(decoding: text, as: UTF8.self))
            } else {
                r.pos = save
                parseTraceClock("[local]")
            }
        }
        buffers.append(DatBuffer(name: "", clock: traceClock, pageSize: pageSize, cpus: top, compressed: false, latency: false))
        for (name, off) in instanceOffsets {
            var ir = DatReader(r.buf, pos: off, big: bigEndian, fileBase: 0)
            guard off >= 0, off < r.buf.count else { throw DatFault(offset: off, message: "buffer instance '\(name)' offset beyond the file") }
            var t = try ir.bytes(10, "instance '\(name)' flyrecord tag")
            if t.starts(with: "options".utf8) {
                var ignored: [(String, Int)] = []
                try optionsV6(&ir, instances: &ignored)
                t = try ir.bytes(10, "instance '\(name)' flyrecord tag")
            }
            guard t.starts(with: "flyrecord".utf8) else {
                throw ir.fault("instance '\(name)': expected 'flyrecord'", at: ir.pos - 10)
            }
            let table = try cpuTable(&ir, cpus: cpus)
            buffers.append(DatBuffer(name: name, clock: traceClock, pageSize: pageSize, cpus: table, compressed: false, latency: false))
        }
    }

    private func cpuTable(_ r: inout DatReader, cpus: Int) throws(DatFault) -> [DatCPUData] {
        var out: [DatCPUData] = []
        for cpu in 0..<cpus {
            let at = r.pos
            let off = try r.u64("CPU \(cpu) data offset")
            let size = try r.u64("CPU \(cpu) data size")
            if size > 0 {
                guard off <= UInt64(r.buf.count), size <= UInt64(r.buf.count) - off else {
                    throw DatFault(offset: at, message: "CPU \(cpu) data [\(off), +\(size)) lies beyond the end of the file (\(r.buf.count) bytes): file truncated?")
                }
            }
            out.append(DatCPUData(cpu: cpu, offset: Int(clamping: off), size: Int(clamping: size)))
        }
        return out
    }

    private func optionsV6(_ r: inout DatReader, instances: inout [(String, Int)]) throws(DatFault) {
        while true {
            let id = try r.u16("option id")
            if id == 0 { return }
            let size = try r.size32("option \(id)")
            let start = r.pos
            let data = try r.bytes(size, "option \(id)")
            var o = DatReader(data, big: bigEndian, fileBase: start, context: "option \(id)")
            if id == 3 {
                let off = try o.u64("buffer offset")
                let name = try o.cString("buffer name")
                instances.append((name, Int(clamping: off)))
            } else {
                try commonOption(id, &o)
            }
        }
    }

    // MARK: version 7

    private func parseV7(_ r: inout DatReader) throws(DatFault) {
        let cname = try r.cString("compression name")
        let cver = try r.cString("compression version")
        if cname != "none" {
            compression = cname
            compressionVersion = cver
            guard cname == "zstd" || cname == "zlib" else {
                throw r.fault("unsupported compression algorithm '\(cname)' \(cver)")
            }
            decompressor = DatDecompressor(name: cname)
        }
        let optPos = r.pos
        let first = try r.u64("first options section offset")
        guard first > 0, first < UInt64(r.buf.count) else {
            throw DatFault(offset: optPos, message: "options section offset \(first) is outside the file (\(r.buf.count) bytes)")
        }
        var next = Int(first)
        var seen = Set<Int>()
        var pendingBuffers: [(id: UInt16, data: [UInt8], at: Int)] = []
        while next != 0 {
            guard seen.insert(next).inserted else { throw DatFault(offset: next, message: "options sections form a loop") }
            next = try optionsSectionV7(r.buf, at: next, buffers: &pendingBuffers)
        }
        // Metadata sections, in the order libtracecmd needs them.
        for id in [16, 17, 18, 19, 20, 21] {
            guard let off = sections[id] else {
                if id == 16 || id == 18 { throw DatFault(offset: Int(first), message: "no \(TraceDatFile.sectionName(id)) section in the options") }
                continue
            }
            try withSection(r.buf, at: off, expect: id) { (s) throws(DatFault) in
                switch id {
                case 16: try headerInfo(&s)
                case 17: try ftraceEvents(&s)
                case 18: try eventSystems(&s)
                case 19: try kallsymsSection(&s)
                case 20: try printkSection(&s)
                default: try cmdlines(&s)
                }
            }
        }
        for b in pendingBuffers {
            try withDatBytes(b.data) { (p) throws(DatFault) in
                var o = DatReader(p, big: bigEndian, fileBase: b.at, context: "BUFFER option")
                try bufferOption(b.id, &o, file: r.buf)
            }
        }
        // libtracecmd: max_cpu is the CPU count option or the largest buffer.
        for b in buffers where b.cpus.count > cpuCount { cpuCount = b.cpus.count }
        if buffers.first(where: { $0.name.isEmpty }) == nil {
            buffers.insert(DatBuffer(name: "", clock: traceClock, pageSize: pageSize, cpus: [], compressed: false, latency: false), at: 0)
        } else if let i = buffers.firstIndex(where: { $0.name.isEmpty }), i != 0 {
            buffers.insert(buffers.remove(at: i), at: 0)
        }
    }

    static func sectionName(_ id: Int) -> String {
        switch id {
        case 0: return "OPTIONS"
        case 3: return "BUFFER"
        case 15: return "STRINGS"
        case 16: return "HEADER_INFO"
        case 17: return "FTRACE_EVENTS"
        case 18: return "EVENT_FORMATS"
        case 19: return "KALLSYMS"
        case 20: return "PRINTK"
        case 21: return "CMDLINES"
        case 22: return "BUFFER_TEXT"
        default: return "section \(id)"
        }
    }

    /// Reads a v7 section header at `off` and hands its (decompressed) content to `body`.
    private func withSection(_ buf: UnsafeRawBufferPointer, at off: Int, expect: Int,
                             _ body: (inout DatReader) throws(DatFault) -> Void) throws(DatFault) {
        var h = DatReader(buf, pos: off, big: bigEndian, fileBase: 0)
        guard off >= 0, off < buf.count else {
            throw DatFault(offset: off, message: "\(TraceDatFile.sectionName(expect)) section offset beyond the end of the file")
        }
        let id = try h.u16("section id")
        let flags = try h.u16("section flags")
        _ = try h.u32("section description")
        let size = try h.size64("\(TraceDatFile.sectionName(expect)) section")
        guard Int(id) == expect else {
            throw DatFault(offset: off, message: "expected section \(TraceDatFile.sectionName(expect)) (id \(expect)), found id \(id)")
        }
        let dataStart = h.pos
        let content = try h.bytes(size, "section content")
        if flags & 1 != 0 {
            let out = try decompressBlock(content, at: dataStart, what: "\(TraceDatFile.sectionName(expect)) section")
            try withDatBytes(out) { (p) throws(DatFault) in
                var s = DatReader(p, big: bigEndian, fileBase: nil, blockOffset: off,
                                  context: "the decompressed \(TraceDatFile.sectionName(expect)) section at file offset \(off)")
                try body(&s)
            }
        } else {
            var s = DatReader(content, big: bigEndian, fileBase: dataStart, context: "\(TraceDatFile.sectionName(expect)) section")
            try body(&s)
        }
    }

    /// `<u32 compressed size><u32 size><data>` → the data.
    func decompressBlock(_ content: UnsafeRawBufferPointer, at fileOffset: Int, what: String) throws(DatFault) -> [UInt8] {
        guard let d = decompressor else {
            throw DatFault(offset: fileOffset, message: "\(what) is flagged compressed but the file names no compression")
        }
        var b = DatReader(content, big: bigEndian, fileBase: fileOffset, context: what)
        let csize = try b.size32("compressed block")
        let usize = Int(try b.u32("block size"))
        guard usize <= 256 << 20 else { throw DatFault(offset: fileOffset, message: "\(what): implausible decompressed size \(usize)") }
        let data = try b.bytes(csize, "compressed data")
        var out: [UInt8] = []
        do { try d.decompress(data, expectedSize: usize, into: &out) }
        catch { throw DatFault(offset: fileOffset, message: "\(what): \(error.message)") }
        return out
    }

    /// One options section; returns the offset of the next one (0 = last).
    private func optionsSectionV7(_ buf: UnsafeRawBufferPointer, at off: Int,
                                  buffers pending: inout [(id: UInt16, data: [UInt8], at: Int)]) throws(DatFault) -> Int {
        var next = 0
        try withSection(buf, at: off, expect: 0) { (r) throws(DatFault) in
            while true {
                let idPos = r.pos
                let id = try r.u16("option id")
                let size = try r.size32("option \(id)")
                let start = r.pos
                let data = try r.bytes(size, "option \(id)")
                var o = DatReader(data, big: bigEndian, fileBase: r.fileBase.map { $0 + start }, blockOffset: r.blockOffset,
                                  context: r.fileBase == nil ? "option \(id) in \(r.context)" : "option \(id)")
                switch id {
                case 0:
                    let n = try o.u64("next options offset")
                    guard n < UInt64(buf.count) else { throw r.fault("next options section offset \(n) beyond the file", at: idPos) }
                    next = Int(n)
                    return
                case 3, 22:
                    pending.append((id: id, data: [UInt8](data), at: r.fileOffset(start)))
                case 16...21:
                    let v = try o.u64("section offset")
                    guard v < UInt64(buf.count) else {
                        throw r.fault("\(TraceDatFile.sectionName(Int(id))) section offset \(v) beyond the file", at: start)
                    }
                    sections[Int(id)] = Int(v)
                default:
                    try commonOption(id, &o)
                }
            }
        }
        return next
    }

    /// BUFFER (3) / BUFFER_TEXT (22) options of v7 files.
    private func bufferOption(_ id: UInt16, _ o: inout DatReader, file: UnsafeRawBufferPointer) throws(DatFault) {
        let secOff = try o.u64("buffer section offset")
        let name = try o.cString("buffer name")
        let clock = try o.cString("buffer clock")
        if name.isEmpty && traceClock == nil { traceClock = clock }
        guard secOff < UInt64(file.count) else { throw o.fault("buffer '\(name)' section offset \(secOff) beyond the file", at: 0) }
        // Section header: flags tell whether the CPU data is compressed.
        var h = DatReader(file, pos: Int(secOff), big: bigEndian, fileBase: 0)
        let sid = try h.u16("buffer section id")
        let sflags = try h.u16("buffer section flags")
        guard sid == 3 || sid == 22 else {
            throw DatFault(offset: Int(secOff), message: "buffer '\(name)': expected a BUFFER section, found id \(sid)")
        }
        if id == 22 {
            // Latency (text) buffer.
            _ = try h.u32("description")
            let size = try h.size64("latency buffer")
            let content = try h.bytes(size, "latency text")
            if sflags & 1 != 0 {
                var c = DatReader(content, big: bigEndian, fileBase: h.pos - size)
                let count = Int(try c.u32("chunk count"))
                var text: [UInt8] = []
                for _ in 0..<count {
                    let at = c.pos
                    let cs = try c.size32("chunk")
                    let us = Int(try c.u32("chunk size"))
                    let d = try c.bytes(cs, "chunk data")
                    var out: [UInt8] = []
                    do { try decompressor?.decompress(d, expectedSize: us, into: &out) }
                    catch { throw DatFault(offset: c.fileOffset(at), message: "latency chunk: \(error.message)") }
                    text += out
                }
                latencyText = text
            } else {
                latencyText = [UInt8](content)
            }
            buffers.append(DatBuffer(name: name, clock: clock, pageSize: pageSize, cpus: [], compressed: false, latency: true))
            return
        }
        // trace-cmd 3.1+ writes the sub-buffer size before the CPU count; the v7 document does
        // not. Tell them apart by the option size: 4 + n*20 (no page size) vs 8 + n*20.
        var bufPageSize = pageSize
        let rest = o.remaining
        var probe = o
        let a = Int(try probe.u32("buffer CPU count / page size"))
        if rest >= 8 {
            let b = Int(try probe.u32("buffer CPU count"))
            if 8 + b * 20 == rest && !(4 + a * 20 == rest) {
                bufPageSize = a
                o = probe
                return try cpuList(b, &o, name: name, clock: clock, pageSize: bufPageSize, compressed: sflags & 1 != 0, file: file)
            }
        }
        guard 4 + a * 20 == rest || rest == 4 + a * 20 else {
            throw o.fault("buffer '\(name)': option size \(rest) does not match \(a) CPUs")
        }
        _ = try o.u32("buffer CPU count")
        try cpuList(a, &o, name: name, clock: clock, pageSize: bufPageSize, compressed: sflags & 1 != 0, file: file)
    }

    private func cpuList(_ n: Int, _ o: inout DatReader, name: String, clock: String, pageSize ps: Int,
                         compressed: Bool, file: UnsafeRawBufferPointer) throws(DatFault) {
        guard ps >= 64, ps <= 1 << 24, ps & (ps - 1) == 0 else { throw o.fault("buffer '\(name)': bad sub-buffer size \(ps)") }
        var list: [DatCPUData] = []
        var maxCPU = -1
        for k in 0..<n {
            let at = o.pos
            let cpu = Int(try o.u32("CPU id"))
            let off = try o.u64("CPU data offset")
            let size = try o.u64("CPU data size")
            guard cpu < 1 << 16 else { throw o.fault("buffer '\(name)': implausible CPU id \(cpu)", at: at) }
            if size > 0 {
                guard off <= UInt64(file.count), size <= UInt64(file.count) - off else {
                    throw DatFault(offset: o.fileOffset(at), message: "buffer '\(name)' CPU \(cpu) data [\(off), +\(size)) lies beyond the end of the file (\(file.count) bytes): file truncated?")
                }
            }
            _ = k
            maxCPU = max(maxCPU, cpu)
            list.append(DatCPUData(cpu: cpu, offset: Int(off), size: Int(size)))
        }
        var table = list
        if !(list.count == maxCPU + 1 && list.enumerated().allSatisfy { $0.offset == $0.element.cpu }) {
            table = (0...max(maxCPU, 0)).map { DatCPUData(cpu: $0, offset: 0, size: 0) }
            if maxCPU < 0 { table = [] }
            for c in list {
                guard table[c.cpu].size == 0 else { throw o.fault("buffer '\(name)': CPU \(c.cpu) listed twice") }
                table[c.cpu] = c
            }
        }
        buffers.append(DatBuffer(name: name, clock: clock, pageSize: ps, cpus: table, compressed: compressed, latency: false))
    }

    // MARK: options shared by v6 and v7

    private func commonOption(_ id: UInt16, _ o: inout DatReader) throws(DatFault) {
        let rest = UnsafeRawBufferPointer(rebasing: o.buf[o.pos...])
        let text = { () -> String in
            let end = rest.firstIndex(of: 0) ?? rest.count
            return String(decoding: UnsafeRawBufferPointer(rebasing: rest[..<end]), as: UTF8.self)
        }
        switch id {
        case 1: // DATE: µs offset in ASCII
            tsOffset &+= cStrtoll(text()) &* 1000
        case 4: // TRACECLOCK
            if version >= 7 { parseTraceClock(text()) } else { useTraceClock = true }
        case 5: uname = text()
        case 7: // OFFSET
            tsOffset &+= cStrtoll(text())
        case 8: // CPUCOUNT
            if o.remaining >= 4 { cpuCount = Int(try o.u32("CPU count")) }
        case 9: recorderVersion = text()
        case 12: // TIME_SHIFT
            if o.remaining >= 16 { timeShift = try parseTimeShift(&o) }
        case 14: // TSC2NSEC
            if o.remaining >= 16 {
                tscMult = try o.u32("tsc mult")
                tscShift = try o.u32("tsc shift")
                _ = try o.u64("tsc offset")
                inUsecs = true
            }
        default:
            break // CPUSTAT, UNAME, HOOK, PROCMAPS, TRACEID, GUEST, ... are not needed for the report lines
        }
    }

    private func parseTimeShift(_ o: inout DatReader) throws(DatFault) -> TimeShift? {
        _ = try o.u64("peer trace id")
        let flags = try o.u32("time shift flags")
        let n = Int(try o.u32("time shift CPUs"))
        guard n <= 1 << 16 else { throw o.fault("implausible time shift CPU count \(n)") }
        var cpus: [[TimeShift.Sample]] = []
        for _ in 0..<n {
            let count = Int(try o.u32("sample count"))
            guard count <= o.remaining / 24 else { throw o.fault("time shift sample count \(count) too large") }
            var s = [TimeShift.Sample](repeating: .init(time: 0, offset: 0, scaling: 0, fraction: 0), count: count)
            for k in 0..<count { s[k].time = Int64(bitPattern: try o.u64("sample time")) }
            for k in 0..<count { s[k].offset = Int64(bitPattern: try o.u64("sample offset")) }
            for k in 0..<count { s[k].scaling = Int64(bitPattern: try o.u64("sample scaling")) }
            cpus.append(s)
        }
        if o.remaining > 0 {
            for c in 0..<cpus.count {
                for k in 0..<cpus[c].count {
                    guard o.remaining >= 8 else { break }
                    cpus[c][k].fraction = Int64(bitPattern: try o.u64("sample fraction"))
                }
            }
        }
        for c in 0..<cpus.count {
            let sorted = cpus[c].enumerated().sorted { $0.element.time != $1.element.time ? $0.element.time < $1.element.time : $0.offset < $1.offset }.map(\.element)
            var out: [TimeShift.Sample] = []
            for s in sorted where out.last?.time != s.time { out.append(s) }
            cpus[c] = out
        }
        guard !cpus.isEmpty else { return nil }
        return TimeShift(flags: flags, cpus: cpus)
    }

    /// `tracecmd_parse_trace_clock`: the clock in brackets decides whether timestamps are ns.
    func parseTraceClock(_ text: String) {
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where word.hasPrefix("[") {
            let name = word.split(whereSeparator: { $0 == "[" || $0 == "]" }).first.map(String.init) ?? ""
            traceClock = name
            let usecs = ["local", "global", "uptime", "perf", "x86-tsc-nsec"].contains(name) || name.hasPrefix("mono")
            if !usecs { inUsecs = false }
            return
        }
    }

    // MARK: metadata sections (same layout in v6 and v7)

    private func headerInfo(_ r: inout DatReader) throws(DatFault) {
        let tag = try r.bytes(12, "header_page tag")
        guard tag.elementsEqual("header_page\0".utf8) else { throw r.fault("expected 'header_page'", at: r.pos - 12) }
        let size = try r.size64("header_page")
        headerPageText = try r.array(size, "header_page")
        let tag2 = try r.bytes(13, "header_event tag")
        guard tag2.elementsEqual("header_event\0".utf8) else { throw r.fault("expected 'header_event'", at: r.pos - 13) }
        let size2 = try r.size64("header_event")
        try r.skip(size2, "header_event")
        parseHeaderPage()
    }

    /// `field: local_t commit; offset:8; size:8; signed:1;` gives the kernel long size.
    private func parseHeaderPage() {
        let text = String(decoding: headerPageText, as: UTF8.self)
        var commitSize: Int?
        var dataOffset: Int?
        for line in text.split(separator: "\n") {
            guard let f = EventFormatParser.parseField(String(line).trimmedTD(), longSize: longSize) else { continue }
            if f.name == "commit" { commitSize = f.size }
            if f.name == "data" { dataOffset = f.offset }
        }
        if let c = commitSize, c == 4 || c == 8 { longSize = c }
        pageHeaderSize = dataOffset.map { $0 == 8 + longSize ? $0 : 8 + longSize } ?? 8 + longSize
    }

    private func ftraceEvents(_ r: inout DatReader) throws(DatFault) {
        let count = Int(try r.u32("ftrace format count"))
        for k in 0..<count {
            let size = try r.size64("ftrace format \(k)")
            formatTexts.append((system: "ftrace", text: try r.array(size, "ftrace format \(k)")))
        }
    }

    private func eventSystems(_ r: inout DatReader) throws(DatFault) {
        let systems = Int(try r.u32("event system count"))
        for _ in 0..<systems {
            let name = try r.cString("event system name")
            let count = Int(try r.u32("event count of system \(name)"))
            for k in 0..<count {
                let size = try r.size64("format \(k) of system \(name)")
                formatTexts.append((system: name, text: try r.array(size, "format \(k) of system \(name)")))
            }
        }
    }

    private func kallsymsSection(_ r: inout DatReader) throws(DatFault) {
        let size = try r.size32("kallsyms")
        kallsymsText = try r.array(size, "kallsyms")
    }

    private func printkSection(_ r: inout DatReader) throws(DatFault) {
        let size = try r.size32("printk formats")
        let text = try r.bytes(size, "printk formats")
        // "0xADDR : \"format\"" per line
        for line in text.split(separator: 0x0A) {
            guard let colon = line.firstIndex(of: 0x3A) else { continue }
            let addrText = String(decoding: line[line.startIndex..<colon], as: UTF8.self).trimmedTD()
            var addrDigits = Substring(addrText)
            if addrDigits.hasPrefix("0x") { addrDigits = addrDigits.dropFirst(2) }
            let addr = UInt64(addrDigits, radix: 16) ?? 0
            var fmt = Array(line[(colon + 1)...])
            if fmt.first == 0x20 { fmt.removeFirst() }
            if fmt.first == 0x22 { fmt.removeFirst(); if fmt.last == 0x22 { fmt.removeLast() } }
            printk[addr] = fmt
        }
    }

    private func cmdlines(_ r: inout DatReader) throws(DatFault) {
        let size = try r.size64("saved cmdlines")
        let text = try r.bytes(size, "saved cmdlines")
        for line in text.split(separator: 0x0A) {
            // "%d %m[^\n]"
            var p = line.startIndex
            var neg = false
            if p < line.endIndex, line[p] == 0x2D { neg = true; p += 1 }
            var pid: Int64 = 0
            let d0 = p
            while p < line.endIndex, line[p] >= 0x30, line[p] <= 0x39, pid < 1 << 40 { pid = pid * 10 + Int64(line[p] - 0x30); p += 1 }
            guard p > d0, p < line.endIndex, line[p] == 0x20 else { continue }
            while p < line.endIndex, line[p] == 0x20 { p += 1 }
            guard p < line.endIndex else { continue }
            let key = Int32(truncatingIfNeeded: neg ? -pid : pid)
            if key != 0, comms[key] == nil { comms[key] = Array(line[p...]) }
        }
    }

    private func finishEvents() throws(DatFault) {
        events = EventTable(formats: formatTexts, longSize: longSize, functions: functions)
        formatTexts = []
        if let e = events.first() {
            if let t = e.commonField("common_type") { commonTypeOffset = t.offset; commonTypeSize = t.size }
            if let p = e.commonField("common_pid") { commonPidOffset = p.offset; commonPidSize = p.size }
        }
    }

    /// Per-event-name record counts of the last pass over the records.
    func seenCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for e in events.parsedEvents where e.seen > 0 { counts[e.name, default: 0] += e.seen }
        return counts
    }

    static func plugin(system: String, name: String) -> Plugin {
        switch (system, name) {
        case ("sched", "sched_switch"): return .schedSwitch
        case ("sched", "sched_wakeup"), ("sched", "sched_wakeup_new"): return .schedWakeup
        case ("kvm", "kvm_exit"): return .kvmExit
        case ("kvm", "kvm_entry"): return .kvmEntry
        case ("kvm", "kvm_emulate_insn"): return .kvmEmulateInsn
        case ("kvm", "kvm_nested_vmexit"): return .kvmNestedVmexit
        case ("kvm", "kvm_nested_vmexit_inject"): return .kvmNestedVmexitInject
        case ("kvmmmu", "kvm_mmu_get_page"): return .kvmMmuGetPage
        case ("kvmmmu", "kvm_mmu_sync_page"), ("kvmmmu", "kvm_mmu_unsync_page"),
             ("kvmmmu", "kvm_mmu_zap_page"), ("kvmmmu", "kvm_mmu_prepare_zap_page"): return .kvmMmuRole
        case ("timer", "hrtimer_expire_entry"): return .hrtimerExpireEntry
        case ("timer", "hrtimer_start"): return .hrtimerStart
        case ("ftrace", "function"): return .ftraceFunction
        case ("ftrace", "kernel_stack"): return .ftraceKernelStack
        case ("kmem", "kfree"), ("kmem", "kmalloc"), ("kmem", "kmalloc_node"), ("kmem", "kmem_cache_alloc"),
             ("kmem", "kmem_cache_alloc_node"), ("kmem", "kmem_cache_free"): return .kmemCallSite
        case ("tlb", "tlb_flush"): return .tlbFlush
        case ("syscalls", "sys_enter_futex"): return .futex
        default: return .none
        }
    }
}

func printable(_ b: UnsafeRawBufferPointer) -> String {
    "'" + String(b.map { $0 >= 0x20 && $0 < 0x7F ? Character(UnicodeScalar($0)) : "." }) + "'"
}

/// `strtoll(s, NULL, 0)`.
func cStrtoll(_ s: String) -> Int64 { Int64(bitPattern: cStrtoull(s)) }
