import Foundation
import TraceFormat

/// An adapter whose complete replay state (models, expectations, the report so far) a snapshot holds:
/// restored, it continues from the next chunk exactly as the adapter that was saved would have.
protocol SnapshotReplayable: Codable {
    mutating func handle(_ b: EventBatch, _ i: Int, catalog: TemplateCatalog)
    /// What of each chunk `handle` reads (``KVMX86Adapter/decodeScope``; everything by default).
    var decodeScope: DecodeScope { get }
    mutating func finish() -> ReplayReport
    var report: ReplayReport { get set }
    /// The adapter and the options that change its replay from the first event ("kvm-pvm+mid-flight"):
    /// a snapshot is used only by a replay of the same kind.
    var snapshotKind: String { get }
}

extension SnapshotReplayable {
    var decodeScope: DecodeScope { .everything }
}

/// When a replay reads and writes snapshot sidecars (docs/CLI.md, `replay --snapshots`).
public struct SnapshotOptions: Sendable {
    /// Windows (`--from`) and `--state-at` start from the nearest snapshot before them.
    public var read: Bool
    /// A full replay writes the sidecar.
    public var write: Bool
    /// A snapshot every `every` chunks instead of the size budget (tests).
    public var every: Int?
    /// The sidecar stays within this fraction of the trace's size.
    public var budget: Double
    /// Where the sidecar is (tests); nil: next to the trace, or in the cache directory.
    public var path: String?

    public init(read: Bool = true, write: Bool = false, every: Int? = nil, budget: Double = 0.05, path: String? = nil) {
        self.read = read
        self.write = write
        self.every = every
        self.budget = budget
        self.path = path
    }

    /// Neither read nor written: every replay from the first event.
    public static let none = SnapshotOptions(read: false, write: false)
}

/// Snapshots of a replay's state at chunk boundaries, persisted in a sidecar file next to the trace
/// (`TRACE.snapshots`) or, when its directory is not writable, in `$XDG_CACHE_HOME/irqtrace/`.
///
/// Layout (integers little-endian):
/// ```
/// "IRQTSNAP"  u32 format version  u32 header length  header (JSON)  u32 CRC-32C of the header
/// per snapshot: "SNAP"  i64 resume event  i64 max time  u32 raw length  u32 stored length
///               u32 CRC-32C (of the four fields before it, then the stored bytes)
///               stored bytes (zstd of the adapter's JSON state)
/// "IRQTSEND"  u32 snapshot count
/// ```
/// A snapshot is the state after every event before `resume event` (the first event of the next
/// chunk), whose times are all at most `max time`: a replay until T > max time may start there.
/// The header names the trace (size and a hash of its chunk index), the format version and the
/// adapter kind; a sidecar that names another trace, version or kind is ignored, a damaged one too.
public enum ReplaySnapshots {
    /// 2: the KVM x86 adapter keeps its per-thread message state in one record per thread.
    public static let formatVersion: UInt32 = 2
    static let magic = Array("IRQTSNAP".utf8), endMagic = Array("IRQTSEND".utf8), entryMagic = Array("SNAP".utf8)

    struct Header: Codable, Equatable {
        var format: UInt32
        var traceBytes: Int
        var traceID: String
        var adapter: String
    }

    struct Entry {
        var resumeEvent: Int
        var maxTime: Int64
        var rawLength: Int
        /// The entry's fields as stored (the checksum covers them and the state).
        var fields: [UInt8]
        var stored: Range<Int>
        var crc: UInt32
    }

    /// Why a sidecar was not used.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// The trace's identity: its size and a hash of its chunk index (offsets, counts, sizes, times, damage).
    public static func traceID(_ reader: TraceReader) -> String {
        var d = StateDigest()
        d.combine(reader.fileSize)
        d.combine(reader.chunks.count)
        for c in reader.chunks {
            for v in [c.offset, c.firstEvent, c.eventCount, c.rawSize, c.compressedSize] { d.combine(v) }
            d.combine(UInt64(bitPattern: c.minTime))
            d.combine(UInt64(bitPattern: c.maxTime))
            d.combine(c.isIntact)
        }
        return String(d.value, radix: 16).leftPad(16)
    }

    /// True when `path` is an `.irqt` file (raw inputs imported in memory get no sidecar).
    static func isTraceFile(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        let head = (try? h.read(upToCount: 8)) ?? Data()
        return head.withUnsafeBytes { TraceReader.isTrace($0) }
    }

    /// The sidecar in the cache directory for a trace whose own directory is not writable.
    static func cachePath(_ reader: TraceReader) -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((env["HOME"] ?? NSTemporaryDirectory()) + "/.cache")
        let name = (reader.path as NSString).lastPathComponent
        return base + "/irqtrace/" + name + "-" + traceID(reader) + ".snapshots"
    }

    /// Where a sidecar for `reader` is read from: next to the trace, else in the cache directory.
    static func readPath(_ reader: TraceReader, _ options: SnapshotOptions) -> String? {
        if let p = options.path { return p }
        guard isTraceFile(reader.path) else { return nil }
        let beside = reader.path + ".snapshots"
        if FileManager.default.fileExists(atPath: beside) { return beside }
        let cached = cachePath(reader)
        return FileManager.default.fileExists(atPath: cached) ? cached : nil
    }

    /// Where a sidecar for `reader` is written: next to the trace when its directory is writable.
    static func writePath(_ reader: TraceReader, _ options: SnapshotOptions) -> String? {
        if let p = options.path { return p }
        guard isTraceFile(reader.path) else { return nil }
        let dir = (reader.path as NSString).deletingLastPathComponent
        if access(dir.isEmpty ? "." : dir, W_OK) == 0 { return reader.path + ".snapshots" }
        return cachePath(reader)
    }

    // MARK: Reading

    /// A sidecar's snapshots, checked for structure (not yet each snapshot's checksum).
    struct Sidecar {
        let bytes: [UInt8]
        let header: Header
        let entries: [Entry]

        init(bytes: [UInt8]) throws(Problem) {
            self.bytes = bytes
            var r = Reader(bytes: bytes)
            guard try r.take(8) == magic else { throw Problem(description: "not a snapshot sidecar") }
            let version = try r.u32()
            guard version == formatVersion else { throw Problem(description: "snapshot format \(version), this irqtrace writes \(formatVersion)") }
            let n = Int(try r.u32())
            let json = try r.take(n)
            guard try r.u32() == CRC32C.checksum(json) else { throw Problem(description: "header checksum mismatch") }
            guard let h = try? JSONDecoder().decode(Header.self, from: Data(json)) else { throw Problem(description: "unreadable header") }
            header = h
            var entries: [Entry] = []
            while r.remaining >= 12 {
                let tag = try r.take(4)
                if tag == Array(endMagic.prefix(4)) {
                    guard try r.take(4) == Array(endMagic.suffix(4)), Int(try r.u32()) == entries.count, r.remaining == 0 else {
                        throw Problem(description: "damaged end marker")
                    }
                    self.entries = entries
                    return
                }
                guard tag == entryMagic else { throw Problem(description: "damaged snapshot \(entries.count) at byte \(r.position - 4)") }
                let fieldsStart = r.position
                let resume = Int(try r.i64()), maxTime = try r.i64()
                let raw = Int(try r.u32()), stored = Int(try r.u32())
                let fields = Array(bytes[fieldsStart..<r.position])
                let crc = try r.u32()
                let start = r.position
                _ = try r.take(stored)
                entries.append(Entry(resumeEvent: resume, maxTime: maxTime, rawLength: raw, fields: fields, stored: start..<start + stored, crc: crc))
            }
            throw Problem(description: "truncated (no end marker)")
        }

        /// The snapshot state `e`, its checksum verified.
        func state(_ e: Entry) throws(Problem) -> [UInt8] {
            let stored = Array(bytes[e.stored])
            guard CRC32C.checksum(stored, continuing: CRC32C.checksum(e.fields)) == e.crc, e.resumeEvent >= 0, e.rawLength <= 1 << 30 else { throw Problem(description: "snapshot before event \(e.resumeEvent): checksum mismatch") }
            var out: [UInt8] = []
            let d = ZstdDecompressor()
            let failure: String? = stored.withUnsafeBytes { p in
                do { try d.decompress(p, expectedSize: e.rawLength, into: &out); return nil } catch { return "\(error)" }
            }
            if let failure { throw Problem(description: "snapshot before event \(e.resumeEvent): \(failure)") }
            return Array(out.prefix(e.rawLength))
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0
        var remaining: Int { bytes.count - position }
        mutating func take(_ n: Int) throws(Problem) -> [UInt8] {
            guard n >= 0, n <= remaining else { throw Problem(description: "truncated at byte \(position)") }
            defer { position += n }
            return Array(bytes[position..<position + n])
        }
        mutating func u32() throws(Problem) -> UInt32 {
            let b = try take(4)
            return b.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }
        mutating func i64() throws(Problem) -> Int64 {
            let b = try take(8)
            return Int64(bitPattern: b.reversed().reduce(0) { $0 << 8 | UInt64($1) })
        }
    }

    /// The adapter of the latest snapshot whose events all come before `time`, and the event to
    /// resume at; nil when there is no usable sidecar (a note says why, unless there is none at all).
    static func restore<A: SnapshotReplayable>(_ reader: TraceReader, _ type: A.Type, kind: (String) -> Bool, before time: Int64,
                                               _ options: SnapshotOptions, note: (String) -> Void) -> (adapter: A, resumeEvent: Int)? {
        guard options.read, let path = readPath(reader, options), FileManager.default.fileExists(atPath: path) else { return nil }
        let fallback = "; replaying from the first event"
        do {
            guard let data = FileManager.default.contents(atPath: path) else { throw Problem(description: "cannot be read") }
            let sidecar = try Sidecar(bytes: [UInt8](data))
            let expected = Header(format: formatVersion, traceBytes: reader.fileSize, traceID: traceID(reader), adapter: sidecar.header.adapter)
            guard sidecar.header == expected else {
                note("ignoring snapshots \(path): made for another trace (or another version of it)" + fallback)
                return nil
            }
            guard kind(sidecar.header.adapter) else {
                note("ignoring snapshots \(path): made by a \(sidecar.header.adapter) replay, not this one" + fallback)
                return nil
            }
            guard let e = sidecar.entries.last(where: { $0.maxTime < time }) else { return nil }
            let adapter = try JSONDecoder().decode(A.self, from: Data(try sidecar.state(e)))
            guard kind(adapter.snapshotKind) else { throw Problem(description: "snapshot of a \(adapter.snapshotKind) replay") }
            return (adapter, e.resumeEvent)
        } catch {
            note("ignoring damaged snapshots \(path): \(error)" + fallback)
            return nil
        }
    }

    // MARK: Writing

    /// Collects snapshots during a full replay and writes the sidecar at its end.
    struct Writer {
        let path: String
        let header: Header
        let every: Int?
        let budget: Int
        let budgetFraction: Double
        let chunkEnds: [Int: Int]
        /// The end of the last chunk: no replay resumes there.
        let lastEvent: Int
        var out: [UInt8] = []
        var count = 0
        var batches = 0
        var lastSize = 0
        var maxTime = Int64.min

        init?(_ reader: TraceReader, kind: String, _ options: SnapshotOptions) {
            guard options.write, let path = ReplaySnapshots.writePath(reader, options) else { return nil }
            self.path = path
            header = Header(format: formatVersion, traceBytes: reader.fileSize, traceID: traceID(reader), adapter: kind)
            every = options.every.map { max(1, $0) }
            budget = Int(Double(reader.fileSize) * options.budget)
            budgetFraction = options.budget
            // The file offset where each chunk ends, by its first event: the bytes of trace a snapshot after it may spend.
            lastEvent = reader.chunks.map { $0.firstEvent + $0.eventCount }.max() ?? 0
            chunkEnds = Dictionary(reader.chunks.map { ($0.firstEvent, $0.offset + $0.compressedSize) }, uniquingKeysWith: max)
            let json = (try? JSONEncoder().encode(header)).map { [UInt8]($0) } ?? []
            out = magic + le(formatVersion) + le(UInt32(json.count)) + json + le(CRC32C.checksum(json))
        }

        /// After the last event of `b`'s chunk: a snapshot when the spacing or the budget allows.
        mutating func after(_ b: EventBatch, _ adapter: some SnapshotReplayable) throws {
            for t in b.times where t > maxTime { maxTime = t }
            batches += 1
            let resume = b.firstEventIndex + b.count
            guard resume < lastEvent else { return }
            // Within the budget: a sidecar no larger than `budget` of the trace read so far (the next
            // snapshot's size estimated from the last one's).
            let allowance = budget * (chunkEnds[b.firstEventIndex] ?? 0) / max(1, header.traceBytes)
            if let every {
                guard batches % every == 0 else { return }
            } else {
                guard out.count + lastSize <= allowance else { return }
            }
            var a = adapter
            // Divergences before the window start are not the window's: a snapshot is used only for
            // windows starting after maxTime, so those up to it are left out.
            let cut = maxTime
            a.report.divergences.removeAll { $0.eventIndex >= 0 && $0.timeNs <= cut }
            a.report.divergencesNotKept = 0   // (those counted so far came before the cut too)
            let json = try [UInt8](JSONEncoder().encode(a))
            let stored = try ZstdCompressor(level: 9).compress(json)
            lastSize = stored.count + 32
            guard every != nil || out.count + lastSize <= allowance else { return }
            let fields = le(UInt64(resume)) + le(UInt64(bitPattern: maxTime)) + le(UInt32(json.count)) + le(UInt32(stored.count))
            out += entryMagic + fields + le(CRC32C.checksum(stored, continuing: CRC32C.checksum(fields))) + stored
            count += 1
        }

        /// Writes the sidecar (atomically: a temporary file renamed over it); returns its size.
        func write() throws -> Int {
            let bytes = out + endMagic + le(UInt32(count))
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            let tmp = path + ".tmp\(getpid())"
            guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes)) else {
                throw IrqtraceError("cannot write the snapshot sidecar", path: tmp)
            }
            if rename(tmp, path) != 0 {
                unlink(tmp)
                throw IrqtraceError("cannot write the snapshot sidecar", path: path)
            }
            return bytes.count
        }
    }

    static func le(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}
