import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One chunk as found in the file.
public struct ChunkInfo: Sendable, Equatable {
    public var offset: Int
    public var firstEvent: Int
    public var eventCount: Int
    public var rawSize: Int
    public var compressedSize: Int
    public var minTime: Int64
    public var maxTime: Int64
    /// Nil when the chunk is intact; otherwise why it cannot be read.
    public var problem: String?
    public var isIntact: Bool { problem == nil }
}

/// What is missing from a damaged file, as exactly as the file allows.
public struct DamageReport: Sendable, Equatable {
    /// Human-readable findings, in file order.
    public var problems: [String] = []
    /// Events known to be lost (in damaged chunks or in gaps between intact ones).
    public var lostEvents = 0
    /// The lost event ranges (first event index, count).
    public var lostRanges: [Range<Int>] = []
    /// The footer (index and final metadata) could not be read: the file was cut short or damaged.
    public var footerMissing = false
    /// Without a footer, events after the last readable chunk cannot be counted.
    public var tailUnknown = false
    public var isDamaged: Bool { !problems.isEmpty }
}

/// Reads an `.irqt` file: memory-maps it, reads the footer index (or, when the footer is missing or
/// damaged, scans for chunks), and checks every chunk's checksums up front so ``damage`` is complete
/// before any event is decoded. Never crashes or hangs on damaged input.
public final class TraceReader {
    /// Called after each chunk of a full pass (``forEachBatch(_:)``) with the events done and the
    /// total, and once more with done == total at the end of the pass: the CLI's progress bar.
    public var progress: ((_ done: Int, _ total: Int) -> Void)?
    /// Full passes decompress chunks on a second thread ahead of the consumer (``DecodeAhead``);
    /// off: everything on the caller's thread (benchmarks of one core; IRQTRACE_SINGLE_CORE=1).
    public var decodeAhead = !SingleCore.requested
    public let path: String
    public let metadata: TraceMetadata
    public let headerMetadata: TraceMetadata?
    public let formatMajor: UInt16
    public let formatMinor: UInt16
    public private(set) var chunks: [ChunkInfo]
    public private(set) var damage: DamageReport
    public let catalog = TemplateCatalog()
    /// Events the footer says the file holds (nil without a footer).
    public let declaredEventCount: Int?
    private let storage: Data
    /// True when `storage` maps the file (read-only, private): pages of chunks already decoded can
    /// be handed back to the kernel, so a pass over a large trace keeps its resident memory flat.
    private let mapped: Bool
    private var decompressor = ZstdDecompressor()
    private var scratch: [UInt8] = []

    /// Events in intact chunks.
    public var eventCount: Int { chunks.reduce(0) { $0 + ($1.isIntact ? $1.eventCount : 0) } }
    public var fileSize: Int { storage.count }

    public convenience init(path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw IrqtraceError("cannot read: \((error as NSError).localizedDescription)", path: path)
        }
        try self.init(mappedFile: data, path: path)
    }

    /// A reader over `data` that maps a file read-only (Data(contentsOf:options: .alwaysMapped)): the
    /// pages of chunks already decoded are given back to the kernel as a pass goes.
    public convenience init(mappedFile data: Data, path: String) throws {
        try self.init(data: data, path: path, mapped: true)
    }

    /// Lets the kernel drop the file pages of chunk `k` (they are re-read from the file if touched again).
    private func release(chunk k: Int) {
        guard mapped else { return }
        storage.withUnsafeBytes { Self.dropPages($0, from: chunks[k].offset, count: Layout.chunkHeaderSize + chunks[k].compressedSize) }
    }

    /// MADV_DONTNEED on the whole pages inside `file[from..<from+count]` — only for a read-only private
    /// file mapping, whose pages the kernel then reads again from the file when touched.
    static func dropPages(_ file: UnsafeRawBufferPointer, from offset: Int, count: Int) {
        #if canImport(Glibc)
        guard let base = file.baseAddress, count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let startAddr = Int(bitPattern: base) + offset, endAddr = startAddr + count
        let first = (startAddr + page - 1) / page * page, last = endAddr / page * page
        guard last > first else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: first), last - first, Int32(MADV_DONTNEED))
        #endif
    }

    /// True when `bytes` starts with the `.irqt` magic.
    public static func isTrace(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= 8 && zip(bytes.prefix(8), Layout.fileMagic).allSatisfy { $0 == $1 }
    }

    public convenience init(data: Data, path: String = "<memory>") throws {
        try self.init(data: data, path: path, mapped: false)
    }

    private init(data: Data, path: String, mapped: Bool) throws {
        self.path = path
        self.storage = data
        self.mapped = mapped
        var damage = DamageReport()
        var chunks: [ChunkInfo] = []
        var headerMeta: TraceMetadata? = nil
        var footerMeta: TraceMetadata? = nil
        var declared: Int? = nil
        var major: UInt16 = 0, minor: UInt16 = 0

        try data.withUnsafeBytes { (file: UnsafeRawBufferPointer) throws in
            guard file.count >= Layout.fileHeaderFixed, TraceReader.isTrace(file) else {
                throw IrqtraceError("not an irqtrace .irqt file (no IRQT magic at byte 0)", path: path, byteOffset: 0,
                                    hint: "record it first with `irqtrace record`, or pass the original input")
            }
            var c = ByteCursor(file, position: 8)
            major = try c.readLE(UInt16.self)
            minor = try c.readLE(UInt16.self)
            guard major == FormatVersion.major else {
                throw IrqtraceError("format version \(major).\(minor) is not supported; this irqtrace reads \(FormatVersion.major).x",
                                    path: path, byteOffset: 8, hint: "use an irqtrace release that reads format \(major).x")
            }
            _ = try c.readLE(UInt32.self)
            let jsonLength = Int(try c.readLE(UInt32.self))
            let headerCRC = try c.readLE(UInt32.self)
            var scanStart = Layout.fileHeaderFixed
            if jsonLength <= file.count - Layout.fileHeaderFixed {
                let fixed = UnsafeRawBufferPointer(rebasing: file[0..<20])
                let json = UnsafeRawBufferPointer(rebasing: file[24..<24 + jsonLength])
                if CRC32C.checksum(json, continuing: CRC32C.checksum(fixed)) == headerCRC {
                    headerMeta = try? TraceMetadata.decode(json)
                    scanStart = 24 + jsonLength
                }
            }
            if headerMeta == nil { damage.problems.append("file header at byte 0 is damaged (checksum mismatch); using the footer's metadata") }

            // Footer via the trailer.
            var index: [IndexEntry]? = nil
            if file.count >= scanStart + Layout.trailerSize {
                let t = file.count - Layout.trailerSize
                var tc = ByteCursor(file, position: t)
                let footerOffset = Int(truncatingIfNeeded: try tc.readLE(UInt64.self))
                let footerLength = Int(truncatingIfNeeded: try tc.readLE(UInt64.self))
                let magicOK = zip(file[(t + 16)...], Layout.trailerMagic).allSatisfy { $0 == $1 }
                if magicOK, footerOffset >= 0, footerLength >= 24, footerOffset <= t, footerLength <= t - footerOffset {
                    let f = UnsafeRawBufferPointer(rebasing: file[footerOffset..<footerOffset + footerLength])
                    let body = UnsafeRawBufferPointer(rebasing: f[0..<footerLength - 4])
                    var fc = ByteCursor(f, position: footerLength - 4, origin: footerOffset)
                    if let crc = try? fc.readLE(UInt32.self), crc == CRC32C.checksum(body),
                       f[0] == 0x49, f[1] == 0x52, f[2] == 0x51, f[3] == 0x46 {
                        var bc = ByteCursor(body, position: 8, origin: footerOffset)
                        if let total = try? bc.readLE(UInt64.self), total <= Layout.maxEventIndex, let n = try? bc.readLE(UInt32.self),
                           let jl = try? bc.readLE(UInt32.self), Int(n) * Layout.indexEntrySize + Int(jl) <= bc.remaining {
                            var entries: [IndexEntry] = []
                            for _ in 0..<Int(n) { if let e = try? IndexEntry.decode(&bc) { entries.append(e) } }
                            let json = UnsafeRawBufferPointer(rebasing: body[bc.position..<bc.position + Int(jl)])
                            footerMeta = try? TraceMetadata.decode(json)
                            index = entries
                            declared = Int(total)
                        }
                    }
                }
            }

            if let index {
                for e in index {
                    var info = ChunkInfo(offset: Int(e.offset), firstEvent: Int(e.firstEvent), eventCount: Int(e.eventCount),
                                         rawSize: Int(e.rawSize), compressedSize: Int(e.compressedSize),
                                         minTime: e.minTime, maxTime: e.maxTime, problem: nil)
                    // The chunk's own header (bounds-checked: rawSize ≤ Layout.maxChunkBytes) must agree with the index.
                    if let h = ChunkHeader.parse(file, at: info.offset), h.firstEvent == e.firstEvent,
                       h.eventCount == e.eventCount, h.compressedSize == e.compressedSize, h.rawSize == e.rawSize {
                        info.problem = TraceReader.checkPayload(file, header: h, at: info.offset)
                        // The checksum read every page of the chunk: give them back (mapped files).
                        if mapped { TraceReader.dropPages(file, from: info.offset, count: Layout.chunkHeaderSize + info.compressedSize) }
                    } else {
                        info.problem = "chunk header damaged"
                    }
                    chunks.append(info)
                }
            } else {
                damage.footerMissing = true
                damage.problems.append("footer missing or damaged (file cut short?); chunks recovered by scanning")
                chunks = TraceReader.scan(file, from: scanStart)
            }
        }

        // Account for what is lost.
        var expected = 0
        for ch in chunks.sorted(by: { $0.firstEvent < $1.firstEvent }) {
            if ch.firstEvent > expected {
                damage.lostRanges.append(expected..<ch.firstEvent)
                damage.problems.append("events \(expected)..<\(ch.firstEvent) lost (their chunk is unreadable)")
            }
            if let p = ch.problem {
                damage.lostRanges.append(ch.firstEvent..<ch.firstEvent + ch.eventCount)
                damage.problems.append("chunk at byte \(ch.offset): \(p); events \(ch.firstEvent)..<\(ch.firstEvent + ch.eventCount) lost")
            }
            expected = max(expected, ch.firstEvent + ch.eventCount)
        }
        if let declared, declared > expected {
            damage.lostRanges.append(expected..<declared)
            damage.problems.append("events \(expected)..<\(declared) lost (end of file)")
        }
        if declared == nil { damage.tailUnknown = true }
        damage.lostEvents = damage.lostRanges.reduce(0) { $0 + $1.count }

        self.chunks = chunks
        self.damage = damage
        self.headerMetadata = headerMeta
        self.metadata = footerMeta ?? headerMeta ?? TraceMetadata(source: .mixed)
        self.formatMajor = major
        self.formatMinor = minor
        self.declaredEventCount = declared
        if footerMeta == nil && headerMeta == nil { self.damage.problems.append("metadata lost (header and footer damaged)") }
    }

    static func checkPayload(_ file: UnsafeRawBufferPointer, header h: ChunkHeader, at offset: Int) -> String? {
        let start = offset + Layout.chunkHeaderSize
        let end = start + Int(h.compressedSize)
        guard end <= file.count else { return "truncated (payload needs \(end - file.count) more bytes)" }
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: file[start..<end])) == h.payloadCRC else {
            return "payload checksum mismatch"
        }
        return nil
    }

    /// Finds chunks by walking from `start`, resynchronising on the next valid chunk header after damage.
    static func scan(_ file: UnsafeRawBufferPointer, from start: Int) -> [ChunkInfo] {
        var out: [ChunkInfo] = []
        var pos = start
        while pos + Layout.chunkHeaderSize <= file.count {
            if let h = ChunkHeader.parse(file, at: pos) {
                let problem = checkPayload(file, header: h, at: pos)
                out.append(ChunkInfo(offset: pos, firstEvent: Int(h.firstEvent), eventCount: Int(h.eventCount),
                                     rawSize: Int(h.rawSize), compressedSize: Int(h.compressedSize),
                                     minTime: h.minTime, maxTime: h.maxTime, problem: problem))
                if problem == nil || pos + Layout.chunkHeaderSize + Int(h.compressedSize) <= file.count {
                    pos += Layout.chunkHeaderSize + Int(h.compressedSize)
                    continue
                }
                break
            }
            // Resync: the next "IRQC" whose header checks.
            var next = pos + 1
            var found = false
            while next + Layout.chunkHeaderSize <= file.count {
                if file[next] == 0x49, file[next + 1] == 0x52, file[next + 2] == 0x51, file[next + 3] == 0x43,
                   ChunkHeader.parse(file, at: next) != nil { found = true; break }
                next += 1
            }
            guard found else { break }
            pos = next
        }
        return out
    }

    /// Decodes intact chunk `k` into a new batch.
    public func decodeChunk(_ k: Int) throws -> EventBatch {
        var batch = EventBatch()
        try decodeChunk(k, into: &batch)
        return batch
    }

    /// Decodes intact chunk `k` into `batch`, reusing its storage.
    public func decodeChunk(_ k: Int, into batch: inout EventBatch) throws {
        var scope = DecodeScope.everything
        try decodeChunk(k, scope: &scope, into: &batch)
    }

    private func decodeChunk(_ k: Int, scope: inout DecodeScope, into batch: inout EventBatch) throws {
        let ch = chunks[k]
        guard ch.isIntact else { throw IrqtraceError("chunk \(k) is damaged: \(ch.problem ?? "")", path: path, byteOffset: ch.offset) }
        try storage.withUnsafeBytes { (file: UnsafeRawBufferPointer) throws in
            let start = ch.offset + Layout.chunkHeaderSize
            let payload = UnsafeRawBufferPointer(rebasing: file[start..<start + ch.compressedSize])
            do {
                try decompressor.decompress(payload, expectedSize: ch.rawSize, into: &scratch)
                try scratch.withUnsafeBytes { raw in
                    try ChunkDecoder.decode(UnsafeRawBufferPointer(rebasing: raw[0..<ch.rawSize]), firstEventIndex: ch.firstEvent,
                                            expectedCount: ch.eventCount, catalog: catalog, scope: &scope, into: &batch)
                }
            } catch {
                throw IrqtraceError("chunk \(k) cannot be decoded: \(error)", path: path, byteOffset: ch.offset)
            }
        }
    }

    /// A chunk that failed to decode despite intact checksums: its events are lost and reported.
    private func markLost(chunk k: Int, _ error: Error) {
        chunks[k].problem = "\(error)"
        damage.problems.append("\(error)")
        damage.lostRanges.append(chunks[k].firstEvent..<chunks[k].firstEvent + chunks[k].eventCount)
        damage.lostEvents += chunks[k].eventCount
    }

    /// Calls `body` with every intact chunk's events in event order. A chunk that fails to decode
    /// despite intact checksums is added to ``damage`` and skipped. The batch's storage is reused for
    /// the next chunk: a body that keeps a batch keeps a copy (copy-on-write), which costs a copy.
    /// With `firstEvent`, only the chunks that start at or after that event (a replay resumed from a snapshot).
    public func forEachBatch(fromEvent firstEvent: Int = 0, _ body: (EventBatch) throws -> Void) throws {
        try forEachBatch(fromEvent: firstEvent, scope: .everything, body)
    }

    /// ``forEachBatch(fromEvent:_:)`` decoding only what `scope` asks for (a pre-pass: ``DecodeScope``).
    public func forEachBatch(fromEvent firstEvent: Int = 0, scope: DecodeScope, _ body: (EventBatch) throws -> Void) throws {
        var scope = scope
        let order = chunks.indices.filter { chunks[$0].firstEvent >= firstEvent }.sorted { chunks[$0].firstEvent < chunks[$1].firstEvent }
        var batch = EventBatch()
        let total = order.reduce(0) { $0 + (chunks[$1].isIntact ? chunks[$1].eventCount : 0) }
        var done = 0
        defer { progress?(total, total) }
        let intact = order.filter { chunks[$0].isIntact }
        if decodeAhead && intact.count >= 3 && ProcessInfo.processInfo.activeProcessorCount > 1 {
            // Both cores: zstd on a second thread, a few chunks ahead; columns decoded here.
            let ahead = DecodeAhead(storage: storage, order: intact.map { (chunk: $0, offset: chunks[$0].offset, compressedSize: chunks[$0].compressedSize, rawSize: chunks[$0].rawSize) })
            ahead.start()
            defer { ahead.stop() }
            while let item = ahead.next() {
                let k = item.chunk, ch = chunks[k]
                do {
                    if let e = item.error { throw IrqtraceError("chunk \(k) cannot be decoded: zstd: \(e)", path: path, byteOffset: ch.offset) }
                    try item.raw.withUnsafeBytes { raw in
                        do {
                            try ChunkDecoder.decode(UnsafeRawBufferPointer(rebasing: raw[0..<ch.rawSize]), firstEventIndex: ch.firstEvent,
                                                    expectedCount: ch.eventCount, catalog: catalog, scope: &scope, into: &batch)
                        } catch {
                            throw IrqtraceError("chunk \(k) cannot be decoded: \(error)", path: path, byteOffset: ch.offset)
                        }
                    }
                } catch {
                    markLost(chunk: k, error)
                    ahead.recycle(item.raw)
                    continue
                }
                ahead.recycle(item.raw)
                release(chunk: k)
                try body(batch)
                done += batch.count
                progress?(done, total)
            }
            return
        }
        for k in order where chunks[k].isIntact {
            do { try decodeChunk(k, scope: &scope, into: &batch) } catch {
                markLost(chunk: k, error)
                continue
            }
            release(chunk: k)
            try body(batch)
            done += batch.count
            progress?(done, total)
        }
    }
}

// MARK: Seeking through the footer index

extension TraceReader {
    /// The intact chunk holding event `index`, by binary search over the index; nil when that event is lost or out of range.
    public func chunk(containingEvent index: Int) -> Int? {
        var lo = 0, hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if chunks[mid].firstEvent + chunks[mid].eventCount <= index { lo = mid + 1 } else { hi = mid }
        }
        guard lo < chunks.count, chunks[lo].firstEvent <= index, chunks[lo].isIntact else { return nil }
        return lo
    }

    /// Intact chunks that may hold events with times in `lower..<upper` (by their min/max times).
    public func chunks(overlappingTimes lower: Int64, _ upper: Int64) -> [Int] {
        chunks.indices.filter { chunks[$0].isIntact && chunks[$0].maxTime >= lower && chunks[$0].minTime < upper }
    }

    /// Like ``forEachBatch(_:)``, over the given chunks only (in event order).
    public func forEachBatch(chunks selected: [Int], _ body: (EventBatch) throws -> Void) throws {
        var batch = EventBatch()
        for k in selected.sorted(by: { chunks[$0].firstEvent < chunks[$1].firstEvent }) where chunks[k].isIntact {
            try decodeChunk(k, into: &batch)
            try body(batch)
        }
    }
}
