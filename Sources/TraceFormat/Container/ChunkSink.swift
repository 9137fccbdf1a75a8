/// The back half of ``TraceWriter``: encodes a filled chunk's columns, compresses them, writes the
/// chunk and keeps the index. It runs on the writer's thread, or on ``EncodeBehind``'s thread when
/// the writer encodes behind its producer; either way one thread at a time touches it.
final class ChunkSink {
    let output: OutputFile
    private var compressor: ZstdCompressor
    private(set) var index: [IndexEntry] = []
    /// Sum of encoded chunk sizes before compression.
    private(set) var rawBytes = 0

    init(output: OutputFile, level: Int32) {
        self.output = output
        self.compressor = ZstdCompressor(level: level)
    }

    /// Encodes, compresses and writes `chunk`, whose first event is number `firstEvent` of the trace.
    func write(_ chunk: ChunkBuilder, templates: [EventTemplate], firstEvent: UInt64) throws {
        let raw = chunk.encode(templates: templates)
        let compressed = try compressor.compress(raw)
        let header = ChunkHeader(firstEvent: firstEvent, eventCount: UInt32(chunk.count), rawSize: UInt32(raw.count),
                                 compressedSize: UInt32(compressed.count), minTime: chunk.minTime, maxTime: chunk.maxTime,
                                 payloadCRC: CRC32C.checksum(compressed))
        index.append(IndexEntry(offset: UInt64(output.offset), firstEvent: firstEvent, eventCount: header.eventCount,
                                rawSize: header.rawSize, compressedSize: header.compressedSize,
                                minTime: header.minTime, maxTime: header.maxTime))
        try output.write(header.encode())
        try output.write(compressed)
        rawBytes += raw.count
    }
}
