import Foundation

/// One line of `trace-cmd report` output for a record (or a missed-events marker).
public struct TraceDatRecordLine: Sendable {
    public var cpu: Int32
    /// The record's timestamp after the file's clock corrections (ns for the usual clocks,
    /// raw counts for counter clocks), as trace-cmd prints it.
    public var timestampNs: Int64
    /// The task's pid (common_pid); -1 for a missed-events marker line.
    public var pid: Int32
    /// The report text line, without the newline.
    public var line: [UInt8]

    public init(cpu: Int32, timestampNs: Int64, pid: Int32, line: [UInt8]) {
        self.cpu = cpu
        self.timestampNs = timestampNs
        self.pid = pid
        self.line = line
    }
}

/// Reads trace-cmd `trace.dat` files (versions 6 and 7; v7 uncompressed, zstd or zlib) and turns
/// every record into the text line `trace-cmd report` (3.1.x, default options and plugins) prints.
///
/// All parsing is bounds-checked: damaged input throws `TraceDatError` with the file byte offset.
public final class TraceDatReader {
    let data: Data
    let path: String
    let file: TraceDatFile
    public internal(set) var eventCounts: [String: Int] = [:]

    public init(data: Data, path: String) throws {
        self.data = data
        self.path = path
        do {
            file = try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> TraceDatFile in
                try TraceDatFile(raw)
            }
        } catch let f as DatFault {
            throw TraceDatError(path: path, offset: f.offset, message: f.message)
        }
    }

    public var cpuCount: Int { file.cpuCount }
    public var version: Int { file.version }
    /// The compression algorithm of a v7 file (`zstd`, `zlib`), nil when uncompressed.
    public var compression: String? { file.compression }
    /// The trace clock recorded in the file (e.g. `local`), if any.
    public var traceClock: String? { file.traceClock }

    /// What `trace-cmd report` prints before the first event.
    public var headerLines: [String] {
        var h = ["cpus=\(file.cpuCount)"]
        if let t = file.latencyText {
            h += String(decoding: t, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        return h
    }

    /// Calls `body` for every record, all CPUs and buffers merged in time order (ties: top buffer
    /// before instances, lower CPU first — as trace-cmd does), with missed-events markers as lines.
    public func forEachLine(_ body: (TraceDatRecordLine) throws -> Void) throws {
        var counts: [String: Int] = [:]
        defer { eventCounts = counts }
        do {
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
                var run = try ReportRun(file: file, raw: raw)
                try run.run(counts: &counts, body)
            }
        } catch let f as DatFault {
            throw TraceDatError(path: path, offset: f.offset, message: f.message)
        }
    }
}

// MARK: - one pass over the data

private let MISSING_EVENTS: UInt64 = 1 << 31
private let MISSING_STORED: UInt64 = 1 << 30
private let COMMIT_MASK: UInt64 = (1 << 27) - 1
private let TS_MSB: UInt64 = 0xf8 << 56

/// The records of one CPU of one buffer, decoded like libtraceevent's kbuffer.
final class CPUStream {
    let order: Int
    let cpuIndex: Int
    let cpu: Int32
    let buffer: Int
    let pageSize: Int
    let hdr: Int
    let longSize: Int
    let big: Bool
    let file: TraceDatFile
    let raw: UnsafeRawBufferPointer
    let hostSync: Bool
    /// The file's clock corrections (fixed once the file is parsed), kept here for `timestampCalc`.
    let tscMult: UInt32, tscShift: UInt32, tsOffset: UInt64

    // source of pages
    var src: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    var srcFileOffset = 0          // file offset of src[0] (uncompressed) or of the chunk (compressed)
    var compressed: Bool
    var chunks: [(off: Int, csize: Int, usize: Int)] = []
    var chunkIndex = -1
    /// zlib's output, copied into `chunkStore` (zstd decompresses into `chunkStore` directly).
    var chunkMem: [UInt8] = []
    var chunkStore = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    var regionStart = 0, regionEnd = 0  // uncompressed region in the file

    // page / kbuffer state
    var pagePos = -1   // offset of the current page in src
    var avail = 0      // bytes of the page available
    var size = 0       // commit (data bytes)
    var curr = 0, next = 0, index = 0
    var ts: UInt64 = 0
    var lost: Int64 = 0

    // current record
    var recTS: UInt64 = 0
    var recStart = 0
    var recLen = 0
    var recMissed: Int64 = 0

    init(order: Int, cpuIndex: Int, data: DatCPUData, buffer: Int, bufferInfo: DatBuffer, file: TraceDatFile,
         raw: UnsafeRawBufferPointer, hostSync: Bool) throws(DatFault) {
        self.order = order
        self.cpuIndex = cpuIndex
        self.cpu = Int32(truncatingIfNeeded: data.cpu)
        self.buffer = buffer
        self.pageSize = bufferInfo.pageSize
        self.hdr = file.pageHeaderSize
        self.longSize = file.longSize
        self.big = file.bigEndian
        self.file = file
        self.raw = raw
        self.hostSync = hostSync
        self.tscMult = file.tscMult
        self.tscShift = file.tscShift
        self.tsOffset = UInt64(bitPattern: file.tsOffset)
        self.compressed = bufferInfo.compressed
        if compressed {
            var r = DatReader(raw, pos: data.offset, big: big, fileBase: 0)
            // The recorded size counts the chunks but not the 4-byte chunk count (trace-cmd 3.1);
            // bound the chunk table by the file instead.
            let end = raw.count
            let count = Int(try r.u32("chunk count of CPU \(data.cpu)"))
            guard count <= data.size / 8 else { throw DatFault(offset: data.offset, message: "CPU \(data.cpu): implausible chunk count \(count)") }
            for k in 0..<count {
                let at = r.pos
                let cs = Int(try r.u32("chunk \(k) compressed size"))
                let us = Int(try r.u32("chunk \(k) size"))
                guard cs <= end - r.pos else {
                    throw DatFault(offset: at, message: "CPU \(data.cpu) chunk \(k): \(cs) compressed bytes run past the end of the file (\(end) bytes)")
                }
                guard us <= 256 << 20 else { throw DatFault(offset: at, message: "CPU \(data.cpu) chunk \(k): implausible size \(us)") }
                chunks.append((off: at, csize: cs, usize: us))
                r.pos += cs
            }
        } else {
            regionStart = data.offset
            regionEnd = data.offset + data.size
            src = UnsafeRawBufferPointer(rebasing: raw[regionStart..<regionEnd])
            srcFileOffset = regionStart
        }
    }

    deinit { chunkStore.deallocate() }

    func fault(_ msg: String, at pos: Int) -> DatFault {
        if compressed {
            let c = chunkIndex >= 0 && chunkIndex < chunks.count ? chunks[chunkIndex].off : 0
            return DatFault(offset: c, message: "CPU \(cpu): \(msg) (byte \(pos) of the decompressed chunk at file offset \(c))")
        }
        return DatFault(offset: srcFileOffset + pos, message: "CPU \(cpu): \(msg)")
    }

    /// Moves to the next page; false at the end of this CPU's data.
    func nextPage() throws(DatFault) -> Bool {
        while true {
            let nextPos = pagePos < 0 ? 0 : pagePos + pageSize
            if nextPos < src.count {
                pagePos = nextPos
                avail = min(pageSize, src.count - pagePos)
                try loadPage()
                return true
            }
            guard compressed, chunkIndex + 1 < chunks.count else { return false }
            chunkIndex += 1
            let c = chunks[chunkIndex]
            guard let d = file.decompressor else { throw DatFault(offset: c.off, message: "compressed CPU data but no compression algorithm") }
            let input = UnsafeRawBufferPointer(rebasing: raw[(c.off + 8)..<(c.off + 8 + c.csize)])
            // Decompressed in place: `chunkStore` is the pages' memory (zstd writes into it, no copy).
            if chunkStore.count < c.usize {
                chunkStore.deallocate()
                chunkStore = UnsafeMutableRawBufferPointer.allocate(byteCount: max(c.usize, pageSize), alignment: 16)
            }
            do { try d.decompress(input, expectedSize: c.usize, into: chunkStore, spare: &chunkMem) }
            catch { throw DatFault(offset: c.off, message: "CPU \(cpu) chunk \(chunkIndex): \(error.message)") }
            src = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(chunkStore)[0..<c.usize])
            pagePos = -1
        }
    }

    /// kbuffer_load_subbuffer.
    func loadPage() throws(DatFault) {
        guard avail >= hdr else { throw fault("page header truncated (\(avail) bytes)", at: pagePos) }
        ts = DatReader.load64(src, pagePos, big)
        let flags = longSize == 8 ? DatReader.load64(src, pagePos + 8, big) : UInt64(DatReader.load32(src, pagePos + 8, big))
        size = Int(flags & COMMIT_MASK)
        guard size <= avail - hdr else {
            throw fault("page commit size \(size) exceeds the \(avail - hdr) data bytes of the page", at: pagePos + 8)
        }
        if flags & MISSING_EVENTS != 0 {
            if flags & MISSING_STORED != 0 {
                let at = pagePos + hdr + size
                guard at + longSize <= pagePos + avail else { throw fault("missed-events count beyond the page", at: at) }
                lost = Int64(bitPattern: longSize == 8 ? DatReader.load64(src, at, big) : UInt64(DatReader.load32(src, at, big)))
            } else {
                lost = -1
            }
        } else {
            lost = 0
        }
        curr = 0; next = 0; index = 0
    }

    /// Advances to the next data record (kbuffer_next_event across pages). False at the end.
    ///
    /// The usual record — little-endian, a data record of 1 to 28 words (its length in the type
    /// field) wholly inside the page's committed bytes — is taken here, inlined into the merge loop;
    /// anything else (padding, time extends, absolute stamps, long records, a page's end, damage, a
    /// big-endian file) goes through ``advanceAny()``, which starts from the same state.
    @inline(__always)
    func advance() throws(DatFault) -> Bool {
        if pagePos >= 0 && !big {
            let c = next
            // (`size` ≤ `avail - hdr`, checked when the page loaded: a header within `size` is in the page.)
            if c &+ 4 <= size {
                let data = pagePos &+ hdr
                let w = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: data &+ c, as: UInt32.self))
                let typeLen = Int(w & 31)
                let p = c &+ 4, end = c &+ 4 &+ typeLen &* 4
                if typeLen >= 1 && typeLen <= 28 && end <= size {
                    curr = c
                    index = p
                    next = end
                    ts = ts &+ UInt64(w >> 5)
                    recStart = data &+ p
                    recLen = typeLen &* 4
                    recMissed = c == 0 ? lost : 0
                    recTS = timestampCalc(ts)
                    return true
                }
            }
        }
        return try advanceAny()
    }

    @inline(never)
    private func advanceAny() throws(DatFault) -> Bool {
        while true {
            if pagePos >= 0 {
                if let found = try nextEvent(), found { return true }
            }
            guard try nextPage() else { return false }
        }
    }

    /// Returns true when a data record is current, false at the end of the page.
    private func nextEvent() throws(DatFault) -> Bool? {
        let data = pagePos + hdr
        let limit = avail - hdr
        while true {
            curr = next
            if next >= size { return false }
            guard curr + 4 <= limit else { throw fault("event header beyond the page", at: data + curr) }
            let w = DatReader.load32(src, data + curr, big)
            let typeLen = big ? Int(w >> 27) : Int(w & 31)
            var delta = UInt64(big ? w & ((1 << 27) - 1) : w >> 5)
            var p = curr + 4
            var length: Int
            switch typeLen {
            case 29: // padding
                guard p + 4 <= limit else { throw fault("padding length beyond the page", at: data + p) }
                length = Int(DatReader.load32(src, data + p, big))
            case 30, 31: // time extend, absolute time stamp
                guard p + 4 <= limit else { throw fault("time extend beyond the page", at: data + p) }
                let ext = UInt64(DatReader.load32(src, data + p, big))
                p += 4
                delta = (ext << 27) &+ delta
                if typeLen == 31 { delta |= ts & TS_MSB }
                length = 0
            case 0:
                guard p + 4 <= limit else { throw fault("record length beyond the page", at: data + p) }
                let l = Int(DatReader.load32(src, data + p, big))
                guard l >= 4 else { throw fault("bad record length \(l)", at: data + p) }
                length = (l - 4 + 3) & ~3
                p += 4
            default:
                length = typeLen * 4
            }
            if typeLen == 31 { ts = delta } else { ts = ts &+ delta }
            index = p
            next = p + length
            if typeLen <= 28 {
                guard next <= size else {
                    throw fault("record of \(length) bytes runs past the page's \(size) committed bytes", at: data + curr)
                }
                recStart = data + index
                recLen = length
                recMissed = curr == 0 ? lost : 0
                recTS = timestampCalc(ts)
                return true
            }
        }
    }

    /// libtracecmd timestamp_calc.
    @inline(__always) func timestampCalc(_ t: UInt64) -> UInt64 {
        var ts = t
        if hostSync, let shift = file.timeShift { ts = CPUStream.hostSync(ts, cpuIndex, shift) }
        if tscMult != 0 {
            let mul = UInt64(bitPattern: Int64(Int32(bitPattern: tscMult)))
            let sh = UInt64(tscShift & 63)
            let al = ts & 0xffff_ffff, ah = ts >> 32
            var r = (al &* mul) >> sh
            if ah != 0 { r = r &+ ((ah &* mul) << (32 &- sh)) }
            ts = r
        }
        return ts &+ tsOffset
    }

    static func hostSync(_ ts: UInt64, _ cpu: Int, _ t: TimeShift) -> UInt64 {
        guard cpu < t.cpus.count else { return ts }
        let s = t.cpus[cpu]
        guard !s.isEmpty else { return ts }
        if s.count == 1 { return ts &+ UInt64(bitPattern: s[0].offset) }
        func calc(_ a: TimeShift.Sample, _ b: TimeShift.Sample) -> UInt64 {
            var tscor: Int64
            if t.flags & 1 != 0 {
                let delta = b.time &- a.time
                let off = (Int64(bitPattern: ts) &- a.time) &* (b.offset &- a.offset)
                tscor = delta == 0 ? a.offset : a.offset &+ (off &+ delta / 2) / delta
            } else {
                tscor = a.offset
            }
            let sc = UInt64(bitPattern: a.scaling)
            let v = (ts &* sc) >> UInt64(a.fraction & 63)
            return tscor < 0 ? v &- tscor.magnitude : v &+ UInt64(tscor)
        }
        if s.count == 2 { return calc(s[0], s[1]) }
        let its = Int64(bitPattern: ts)
        if its <= s[0].time { return calc(s[0], s[1]) }
        if its >= s[s.count - 1].time { return calc(s[s.count - 2], s[s.count - 1]) }
        var lo = 0, hi = s.count - 1, mid = (lo + hi) / 2
        while lo <= hi {
            if its < s[mid].time { hi = mid - 1 } else if its > s[mid].time { lo = mid + 1 } else { break }
            mid = (lo + hi) / 2
        }
        return calc(s[mid], s[min(mid + 1, s.count - 1)])
    }
}

struct ReportRun {
    let file: TraceDatFile
    let raw: UnsafeRawBufferPointer
    var streams: [CPUStream] = []
    let printer: EventPrinter
    var prefixes: [[UInt8]] = []

    init(file: TraceDatFile, raw: UnsafeRawBufferPointer) throws(DatFault) {
        self.file = file
        self.raw = raw
        self.printer = EventPrinter(file: file)
        let instances = file.buffers.filter { !$0.name.isEmpty }
        let width = instances.map { $0.name.utf8.count }.max() ?? 0
        var order = 0
        for (bi, b) in file.buffers.enumerated() {
            if instances.isEmpty {
                prefixes.append([])
            } else if b.name.isEmpty {
                prefixes.append([UInt8](repeating: 0x20, count: width + 2))
            } else {
                var p = [UInt8](repeating: 0x20, count: width - b.name.utf8.count)
                p.append(contentsOf: b.name.utf8)
                p.append(contentsOf: ": ".utf8)
                prefixes.append(p)
            }
            guard !b.latency else { continue }
            for (ci, c) in b.cpus.enumerated() where c.size > 0 {
                streams.append(try CPUStream(order: order, cpuIndex: ci, data: c, buffer: bi, bufferInfo: b, file: file,
                                             raw: raw, hostSync: bi == 0 && file.timeShift != nil))
                order += 1
            }
        }
    }

    static let idle = Array("<idle>".utf8)
    static let unknownComm = Array("<...>".utf8)
    static let spaces20 = [UInt8](repeating: 0x20, count: 20)


    /// Calls `body` for every record, all CPUs and buffers merged in time order (ties: top buffer
    /// before instances, lower CPU first — as trace-cmd does): the stream it came from (its `recTS`,
    /// `recMissed`, `cpu`, `buffer`), its event (nil when the id is unknown), its payload and pid.
    func runRecords(_ body: (CPUStream, DatEvent?, UnsafeRawBufferPointer, Int32) throws -> Void) throws {
        try runRecords(first: { _, _, _, _, _ in false }, body)
    }

    /// `runRecords(_:)` with a first look at each record of a known event: `first` gets the stream,
    /// the event id, the event (unretained: `byID` keeps it alive), the payload and the pid, and
    /// `body` is called only when it returns false. (A closure of few captures, so the per-record
    /// path retains nothing.)
    func runRecords(first: (CPUStream, Int, Unmanaged<DatEvent>, UnsafeRawBufferPointer, Int32) throws -> Bool,
                    _ body: (CPUStream, DatEvent?, UnsafeRawBufferPointer, Int32) throws -> Void) throws {
        let streams = self.streams
        // The per-record loop reads streams and events through unretained references (the arrays
        // `streams` and `byID` keep them alive), orders the heap by a copy of each stream's current
        // timestamp (a stream's `order` is its index), and keeps its tables in memory of its own:
        // no uniqueness or bounds checks per record.
        let refs = UnsafeMutableBufferPointer<Unmanaged<CPUStream>>.allocate(capacity: max(1, streams.count))
        for (k, s) in streams.enumerated() { refs[k] = Unmanaged.passUnretained(s) }
        defer { refs.deallocate() }
        let heads = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(1, streams.count))
        heads.initialize(repeating: 0)
        defer { heads.deallocate() }
        // Min-heap of stream indices by (timestamp, order).
        let heap = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, streams.count))
        defer { heap.deallocate() }
        var n = 0
        @inline(__always) func less(_ a: Int, _ b: Int) -> Bool {
            heads[a] != heads[b] ? heads[a] < heads[b] : a < b
        }
        func push(_ i: Int) {
            heap[n] = i
            var c = n
            n += 1
            while c > 0 {
                let p = (c - 1) / 2
                if less(heap[c], heap[p]) { heap.swapAt(c, p); c = p } else { break }
            }
        }
        for i in streams.indices where try streams[i].advance() { heads[i] = streams[i].recTS; push(i) }
        // Events by id, looked up (and parsed) on their first record; records counted by id here
        // and added to the events' `seen` at the end.
        for e in file.events.parsedEvents { e.seen = 0 }
        let maxID = file.events.maxID
        let ids = maxID < 1 << 20 ? maxID + 1 : 0
        var byID = [DatEvent?](repeating: nil, count: ids)
        let eventRefs = UnsafeMutableBufferPointer<Unmanaged<DatEvent>?>.allocate(capacity: max(1, ids))
        eventRefs.initialize(repeating: nil)
        let looked = UnsafeMutableBufferPointer<Bool>.allocate(capacity: max(1, ids))
        looked.initialize(repeating: false)
        let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, ids))
        seen.initialize(repeating: 0)
        defer {
            for id in 0..<ids where seen[id] != 0 { byID[id]!.seen += seen[id] }
            eventRefs.deallocate(); looked.deallocate(); seen.deallocate()
        }
        let typeOffset = file.commonTypeOffset, typeSize = file.commonTypeSize
        let pidOffset = file.commonPidOffset, pidSize = file.commonPidSize
        let big = file.bigEndian
        // Little-endian fields of 1, 2, 4 or 8 bytes are read as one 8-byte load and a mask when the
        // record has 8 bytes from the field on (tep_read_number otherwise: other sizes read 0).
        let typeMask = DatReader.loadMask(typeSize, big: big), pidMask = DatReader.loadMask(pidSize, big: big)
        // (The fields' ends once; per record the rest wraps: a record at least that long leaves
        // `count - offset` at least the field's size.)
        let pidEnd = pidOffset + pidSize, typeEnd = typeOffset + typeSize
        while n > 0 {
            let i = heap[0]
            let next: UInt64? = try refs[i]._withUnsafeGuaranteedRef { s in
                let d = UnsafeRawBufferPointer(start: s.src.baseAddress.map { $0 + s.recStart }, count: s.recLen)
                var pid: Int32 = 0
                if d.count >= pidEnd {
                    let v = pidMask != 0 && d.count &- pidOffset >= 8
                        ? d.loadUnaligned(fromByteOffset: pidOffset, as: UInt64.self) & pidMask
                        : DatReader.number(d, pidOffset, pidSize, big)
                    pid = Int32(truncatingIfNeeded: v)
                }
                if d.count >= typeEnd {
                    let type = Int(typeMask != 0 && d.count &- typeOffset >= 8
                        ? d.loadUnaligned(fromByteOffset: typeOffset, as: UInt64.self) & typeMask
                        : DatReader.number(d, typeOffset, typeSize, big))
                    if type >= 0 && type < ids {
                        if !looked[type] {
                            looked[type] = true
                            byID[type] = file.events[type]
                            eventRefs[type] = byID[type].map { Unmanaged.passUnretained($0) }
                        }
                        if let ref = eventRefs[type] {
                            if try !first(s, type, ref, d, pid) {
                                try ref._withUnsafeGuaranteedRef { e in try body(s, e, d, pid) }
                            }
                            seen[type] &+= 1
                        } else {
                            try body(s, nil, d, pid)
                        }
                    } else {
                        let event = file.events[type]
                        try body(s, event, d, pid)
                        event?.seen += 1
                    }
                } else {
                    try body(s, nil, d, pid)
                }
                return try s.advance() ? s.recTS : nil
            }
            // Sift the stream down with its next record, or drop it at its end.
            if let t = next {
                heads[i] = t
            } else {
                n -= 1
                if n == 0 { break }
                heap[0] = heap[n]
            }
            var p = 0
            while true {
                let l = 2 &* p &+ 1, r = l &+ 1
                var m = p
                if l < n && less(heap[l], heap[m]) { m = l }
                if r < n && less(heap[r], heap[m]) { m = r }
                if m == p { break }
                // (Not `swapAt`, which is a call here.)
                let hp = heap[p]; heap[p] = heap[m]; heap[m] = hp; p = m
            }
        }
    }

    /// Per-event-name record counts of the last pass.
    func seenCounts() -> [String: Int] { file.seenCounts() }

    /// The missed-events marker line trace-cmd prints before a record that follows lost events.
    func appendMissedLine(_ s: CPUStream, _ out: inout [UInt8]) {
        out.append(contentsOf: prefixes[s.buffer])
        out.append(ascii: "CPU:")
        appendDec(Int64(s.cpu), &out)
        if s.recMissed > 0 {
            out.append(ascii: " [")
            appendDec(s.recMissed, &out)
            out.append(ascii: " EVENTS DROPPED]")
        } else {
            out.append(ascii: " [EVENTS DROPPED]")
        }
    }

    /// The whole report line of a record (without its newline). After a missed-events marker
    /// trace-cmd prints the record without its instance prefix.
    func appendLine(_ s: CPUStream, _ event: DatEvent?, _ d: UnsafeRawBufferPointer, _ pid: Int32, _ out: inout [UInt8]) {
        if s.recMissed == 0 { out.append(contentsOf: prefixes[s.buffer]) }
        if let e = event {
            formatLine(e, d, pid, s, &out)
        } else {
            out.append(ascii: "[UNKNOWN EVENT][UNKNOWN EVENT] (NULL): ")
            out.append(contentsOf: ReportRun.spaces20[0..<14])
            out.append(ascii: "[UNKNOWN EVENT]")
        }
        if out.last == 0x0A { out.removeLast() }
    }

    mutating func run(counts: inout [String: Int], _ body: (TraceDatRecordLine) throws -> Void) throws {
        var rec = TraceDatRecordLine(cpu: 0, timestampNs: 0, pid: 0, line: [])
        rec.line.reserveCapacity(256)
        defer { counts = seenCounts() }
        try runRecords { s, event, d, pid in
            rec.cpu = s.cpu
            rec.timestampNs = Int64(bitPattern: s.recTS)
            if s.recMissed != 0 {
                rec.pid = -1
                rec.line.removeAll(keepingCapacity: true)
                appendMissedLine(s, &rec.line)
                try body(rec)
            }
            rec.pid = pid
            rec.line.removeAll(keepingCapacity: true)
            appendLine(s, event, d, pid, &rec.line)
            try body(rec)
        }
    }

    /// `%16s-%-5d [%03d] %5lu.%06lu: %s: ` + info (trace_show_data).
    func formatLine(_ e: DatEvent, _ d: UnsafeRawBufferPointer, _ pid: Int32, _ s: CPUStream, _ out: inout [UInt8]) {
        let comm: [UInt8] = pid == 0 ? ReportRun.idle : (printer.comms[pid] ?? ReportRun.unknownComm)
        appendHeader(comm: comm, pid: pid, s, e, &out)
        printer.printInfo(e, d, into: &out)
    }
}
