import Foundation

/// Streaming `.irqt` writer with bounded memory: events accumulate in one chunk (default about
/// 1 MiB before compression), which is encoded, compressed and written when full. The file header
/// is written with the first chunk, so metadata learnt from the first events (architecture) lands in
/// it; the footer (index + final metadata) is written by ``finish(metadata:)``.
public final class TraceWriter {
    public let catalog: TemplateCatalog
    public var metadata: TraceMetadata
    public let chunkSize: Int
    private let output: OutputFile
    /// Encodes, compresses and writes filled chunks (on this thread, or behind it on `behind`'s).
    private let sink: ChunkSink
    private let behind: EncodeBehind?
    /// The chunk being filled (a `let`: no retain per event; a hand-over to ``EncodeBehind``
    /// exchanges its contents).
    private let chunk = ChunkBuilder()
    private var headerWritten = false
    @exclusivity(unchecked) public private(set) var eventCount = 0
    /// Sum of encoded chunk sizes before compression (of the chunks written so far).
    public var rawBytes: Int {
        try? behind?.drain()
        return sink.rawBytes
    }

    /// - Parameters:
    ///   - chunkSize: target uncompressed size of a chunk in bytes.
    ///   - level: zstd level (1–22).
    ///   - encodeBehind: encode, compress and write each filled chunk on a second thread while the
    ///     caller fills the next (both cores; the file is byte-identical). For imports and the
    ///     simulator; a live recorder, which syncs often, gains nothing from it. IRQTRACE_SINGLE_CORE=1
    ///     turns it off.
    public init(output: OutputFile, metadata: TraceMetadata, catalog: TemplateCatalog = TemplateCatalog(),
                chunkSize: Int = 1 << 20, level: Int32 = 19, encodeBehind: Bool = false) {
        self.output = output
        self.metadata = metadata
        self.catalog = catalog
        self.chunkSize = max(1024, chunkSize)
        self.sink = ChunkSink(output: output, level: level)
        // IRQTRACE_SINGLE_CORE=1 keeps everything on the caller's thread (as for the reader's decode-ahead).
        let oneCore = SingleCore.requested
        self.behind = encodeBehind && !oneCore ? EncodeBehind(sink: sink) : nil
    }

    deinit { behind?.stop() }

    /// Appends one event. `values` holds the template's slot values (string slots: from ``internString(_:)``).
    @inline(__always)
    public func append(time: Int64, cpu: Int32, thread: Int32, domain: ClockDomain, template: UInt32,
                       values: UnsafeBufferPointer<Int64>) throws {
        let arity = arity(template, values)
        chunk.append(time: time, cpu: cpu, thread: thread, domain: domain.rawValue, template: template,
                     arity: arity, values: values)
        try appended()
    }

    /// ``append(time:cpu:thread:domain:template:values:)`` of exactly the template's slot values, whose
    /// ``encodedSize(_:)`` is `valueBytes`: for a caller that stores the same values again and again
    /// (the trace.dat importer's repeated records), which then sizes them once. (The size only decides
    /// where chunks end, so a wrong one cannot damage the trace; the right one writes the same bytes
    /// as the other `append`.)
    @inline(__always)
    public func append(time: Int64, cpu: Int32, thread: Int32, domain: ClockDomain, template: UInt32,
                       values: UnsafeBufferPointer<Int64>, valueBytes: Int) throws {
        let arity = arity(template, values)
        chunk.append(time: time, cpu: cpu, thread: thread, domain: domain.rawValue, template: template,
                     arity: arity, values: values, valueBytes: valueBytes)
        try appended()
    }

    /// The template's slot count, which `values` must cover.
    @inline(__always)
    private func arity(_ template: UInt32, _ values: UnsafeBufferPointer<Int64>) -> Int {
        let arity = catalog.valueCount(template)
        precondition(values.count >= arity, "template \(template) needs \(arity) values")
        return arity
    }

    /// An event was appended: counted, and the chunk written when full.
    @inline(__always)
    private func appended() throws {
        eventCount &+= 1
        if chunk.estimatedSize >= chunkSize { try flushChunk() }
    }

    /// What `values` add to a chunk's size estimate (``append(time:cpu:thread:domain:template:values:valueBytes:)``).
    public static func encodedSize(_ values: UnsafeBufferPointer<Int64>) -> Int { ChunkBuilder.encodedSize(values) }

    /// Index of a string in the current chunk's table, for a string slot. Call it for each event
    /// just before ``append(time:cpu:thread:domain:template:values:)``.
    public func internString(_ bytes: [UInt8]) -> Int64 { chunk.internString(bytes) }

    /// Compressed bytes written so far.
    public var bytesWritten: Int { finished ? output.offset : behind?.bytesWritten ?? output.offset }
    /// ``finish()`` ran: everything is written on this thread.
    private var finished = false

    private func writeHeader() throws {
        var s = ByteSink()
        let json = metadata.jsonBytes()
        s.append(Layout.fileMagic)
        s.appendLE(FormatVersion.major)
        s.appendLE(FormatVersion.minor)
        s.appendLE(UInt32(0))
        s.appendLE(UInt32(json.count))
        let crc = CRC32C.checksum(json, continuing: CRC32C.checksum(s.bytes))
        s.appendLE(crc)
        s.append(json)
        try output.write(s.bytes)
        headerWritten = true
    }

    /// Encodes, compresses and writes the pending chunk.
    /// For benchmarks of the importers alone: chunks are dropped instead of encoded, compressed and
    /// written (the output is then not a valid trace).
    public var discardChunks = false

    public func flushChunk() throws {
        if !headerWritten { try writeHeader() }
        guard chunk.count > 0 else { return }
        if discardChunks { chunk.reset(); return }
        let first = UInt64(eventCount - chunk.count)
        if let behind {
            // The templates are read here, on the thread that owns the catalog.
            try behind.submit(chunk, .init(templates: chunk.localTemplateList(catalog), firstEvent: first))
        } else {
            try sink.write(chunk, templates: chunk.localTemplateList(catalog), firstEvent: first)
            chunk.reset()
        }
    }

    /// Writes the pending chunk (and the file header, even with no events yet) and hands the bytes to
    /// the kernel: for live recorders, so a process killed after this loses nothing before it.
    public func sync() throws {
        try flushChunk()
        try behind?.drain()
        try output.sync()
    }

    /// Writes the last chunk, the footer and the trailer, and commits the output.
    public func finish() throws {
        try flushChunk()
        try behind?.drain()
        behind?.stop()
        finished = true
        let index = sink.index
        let footerOffset = output.offset
        var s = ByteSink()
        let json = metadata.jsonBytes()
        s.append(Layout.footerMagic)
        s.appendLE(UInt32(0))
        s.appendLE(UInt64(eventCount))
        s.appendLE(UInt32(index.count))
        s.appendLE(UInt32(json.count))
        for e in index { e.encode(into: &s) }
        s.append(json)
        s.appendLE(CRC32C.checksum(s.bytes))
        try output.write(s.bytes)
        var t = ByteSink()
        t.appendLE(UInt64(footerOffset))
        t.appendLE(UInt64(s.count))
        t.append(Layout.trailerMagic)
        try output.write(t.bytes)
        try output.commit()
    }
}
