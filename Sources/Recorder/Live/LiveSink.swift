#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceFormat

/// Where a live recording's events go: one `.irqt` written in place (readable at every moment:
/// header first, then a chunk per flush; a killed recorder leaves everything up to its last flush),
/// or, as a flight recorder (`--ring SIZE`), rotating segment files `OUT.seg-N` holding about the
/// last SIZE bytes, joined into OUT when the recording stops.
final class LiveSink {
    let path: String
    var metadata: TraceMetadata
    let level: Int32
    let ringBytes: Int?
    private(set) var writer: TraceWriter
    private var segments: [(path: String, bytes: Int, events: Int)] = []
    private var segmentIndex = 0
    private var currentPath: String
    /// Events dropped from the front of the window (flight recorder).
    private(set) var droppedEvents = 0
    private var eventsBefore = 0
    private(set) var bytesWrittenBefore = 0

    init(path: String, metadata: TraceMetadata, level: Int32, ringBytes: Int?) throws {
        self.path = path
        self.metadata = metadata
        self.level = level
        self.ringBytes = ringBytes
        currentPath = ringBytes == nil ? path : LiveSink.segmentPath(path, 0)
        if ringBytes != nil { LiveSink.removeSegments(of: path) }
        writer = TraceWriter(output: try OutputFile(inPlace: currentPath), metadata: metadata, chunkSize: 4 << 20, level: level)
        try writer.sync()
    }

    static func segmentPath(_ path: String, _ k: Int) -> String { path + ".seg-" + String(k) }

    /// Segment files of a flight recording at `path`, oldest first.
    static func segments(of path: String) -> [String] {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return listDirectory(folder.isEmpty ? "/" : folder).compactMap { name -> (Int, String)? in
            guard name.hasPrefix(base + ".seg-"), let k = Int(name.dropFirst(base.count + 5)) else { return nil }
            return (k, (folder.isEmpty ? "" : folder + "/") + name)
        }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func removeSegments(of path: String) { for s in segments(of: path) { unlink(s) } }

    var events: Int { eventsBefore + writer.eventCount - droppedEvents }
    var bytesWritten: Int { finalBytes ?? bytesWrittenBefore + writer.bytesWritten }
    private var finalBytes: Int?

    /// Decodes one trace.dat image (``LiveTraceDatImage``) into the current file.
    func importImage(_ image: [UInt8], clock: ClockDomain, diagnostics: inout ImportDiagnostics,
                     watch: ((Substring, Substring, Int64) -> Void)? = nil) throws {
        let dat = try TraceDatReader(data: Data(image), path: "tracefs")
        var counts = TraceDatReader.ImportCounts()
        try dat.importRecords(writer: writer, clock: clock, strict: false, verifyAll: false, path: "tracefs",
                              counts: &counts, diagnostics: &diagnostics) { [self] template, _ in
            let arch = ArchitectureGuess.guess(eventName: template.name)
            if metadata.arch == .unknown, arch != .unknown { metadata.arch = arch }
        }
        if let watch {
            // "comm-pid [cpu] flags ts: name: args" (trace-cmd report's line for the record)
            try dat.forEachLine { rec in
                let line = String(decoding: rec.line, as: UTF8.self)
                guard let bracket = line.firstIndex(of: "]"),
                      let ts = line[bracket...].range(of: ": ") else { return }
                let rest = line[ts.upperBound...]
                guard let c2 = rest.firstIndex(of: ":") else { return }
                watch(rest[..<c2], rest[rest.index(after: c2)...], rec.timestampNs)
            }
        }
    }

    /// Writes the pending chunk to disk; rotates segments in flight-recorder mode.
    func sync() throws {
        try writer.sync()
        guard let ring = ringBytes, writer.bytesWritten >= max(16 << 10, ring / 4) else { return }
        writer.metadata = metadata
        try writer.finish()
        segments.append((currentPath, writer.bytesWritten, writer.eventCount))
        bytesWrittenBefore += writer.bytesWritten
        eventsBefore += writer.eventCount
        // Keep the newest segments that fit the budget (always the last finished one).
        trimSegments(budget: ring - ring / 4)
        segmentIndex += 1
        currentPath = LiveSink.segmentPath(path, segmentIndex)
        writer = TraceWriter(output: try OutputFile(inPlace: currentPath), metadata: metadata, chunkSize: 4 << 20, level: level)
        try writer.sync()
    }

    /// Deletes the oldest segments while the kept ones exceed `budget` bytes (the newest always stays).
    private func trimSegments(budget: Int) {
        while segments.count > 1, segments.reduce(0, { $0 + $1.bytes }) > budget {
            let old = segments.removeFirst()
            unlink(old.path)
            droppedEvents += old.events
        }
    }

    /// Final metadata into the footer; in flight-recorder mode, joins the kept segments into `path`.
    func finish(live: LiveRecordingInfo) throws -> TraceMetadata {
        var live = live
        if ringBytes != nil { live.ringDroppedEvents = droppedEvents }
        metadata.live = live
        writer.metadata = metadata
        try writer.finish()
        guard let ring = ringBytes else { return metadata }
        segments.append((currentPath, writer.bytesWritten, writer.eventCount))
        // The last segment took whatever was still pending at stop: keep the window within the budget.
        trimSegments(budget: ring)
        metadata.live?.ringDroppedEvents = droppedEvents
        let joined = TraceWriter(output: try OutputFile(path: path), metadata: metadata, chunkSize: 1 << 20, level: level)
        for s in segments {
            let reader = try TraceReader(data: Data(contentsOf: URL(fileURLWithPath: s.path)), path: s.path)
            try TraceConcatenation.append(reader, to: joined)
        }
        try joined.finish()
        for s in segments { unlink(s.path) }
        finalBytes = joined.bytesWritten
        return metadata
    }
}
