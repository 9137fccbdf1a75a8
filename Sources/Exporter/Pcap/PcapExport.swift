import TraceFormat

/// `export --format pcap`: one packet per event, LINKTYPE_USER0, nanosecond timestamps, written
/// through libpcap. Each packet is an ``EventPacket`` (docs/PCAP.md): the event's index, time,
/// CPU, thread, clock domain, name, the fields its schema binds (vector, irq, dest, APIC ID), its
/// typed fields as text, and the line its source printed, so `record FILE.pcap` rebuilds the trace.
public enum PcapExport {
    /// What an export wrote.
    public struct Summary: Sendable {
        public var packets = 0
        public var bytes = 0
        /// False when the trace metadata did not fit in the first packet (the snap length).
        public var metadataCarried = true
    }

    /// Writes `reader`'s events to `path` ("-": standard output).
    /// - Returns: the number of packets and bytes written.
    @discardableResult
    public static func write(_ reader: TraceReader, to path: String) throws -> Summary {
        var dumper = try PcapDumper(path: path)
        var summary = Summary()
        let inputs = InputRanges(reader.metadata)
        var templates: [PacketTemplate] = []
        var encoder = EventPacketEncoder()
        var first = true
        try reader.forEachBatch { batch in
            for i in 0..<batch.count {
                let id = batch.templates[i]
                let template = reader.catalog[id]
                while templates.count < reader.catalog.count { templates.append(PacketTemplate(reader.catalog[UInt32(templates.count)])) }
                let pt = templates[Int(id)]
                let index = batch.eventIndex(i)
                let input = inputs.input(at: index)
                var flags: EventPacket.Flags = []
                let cpu = batch.cpu(i, roles: pt.roles)
                if cpu != nil { flags.insert(.hasCPU) }
                if batch.threads[i] >= 0 { flags.insert(.hasThread) }
                let vector = pt.roles.vector.flatMap { batch.number(i, $0) }
                let irq = pt.roles.irq.flatMap { batch.number(i, $0) }
                let dest = pt.dest.flatMap { batch.number(i, $0) }
                let apicID = pt.apicID.flatMap { batch.number(i, $0) }
                if vector != nil { flags.insert(.hasVector) }
                if irq != nil { flags.insert(.hasIRQ) }
                if dest != nil { flags.insert(.hasDest) }
                if apicID != nil { flags.insert(.hasAPICID) }
                if input.starts { flags.insert(.startsInput) }
                if input.noNewline { flags.insert(.noNewline) }
                encoder.begin(vocabulary: input.vocabulary, clock: batch.domains[i], family: pt.family, flags: flags,
                              index: UInt64(index), time: batch.times[i], cpu: cpu.map { Int32(truncatingIfNeeded: $0) } ?? -1,
                              thread: batch.threads[i], vector: vector ?? 0, irq: irq ?? 0, dest: dest ?? 0, apicID: apicID ?? 0,
                              name: pt.name)
                encoder.beginLine()
                encoder.withBytes { LinePrinter.append(i, of: batch, template: template, to: &$0) }
                encoder.endLine()
                if !pt.fields.isEmpty {
                    encoder.beginSection(.fields)
                    encoder.withBytes { pt.appendFields(i, of: batch, template: template, to: &$0) }
                    encoder.endSection()
                }
                if let preamble = input.preamble { encoder.appendSection(.preamble, preamble) }
                if first {
                    first = false
                    let json = EventPacketEncoder.metadataJSON(reader.metadata)
                    if encoder.bytes.count + 6 + json.count <= Int(PcapDumper.snapLength) {
                        encoder.appendSection(.metadata, json)
                    } else {
                        summary.metadataCarried = false
                    }
                }
                dumper.dump(time: batch.times[i], encoder.bytes)
                summary.packets += 1
            }
        }
        try dumper.commit()
        summary.bytes = dumper.bytesWritten
        return summary
    }
}

/// Which input (file) of the trace each event came from, looked up in event order: its vocabulary,
/// whether the event starts it (with the header lines printed before it), and whether its last line
/// had no newline.
struct InputRanges {
    struct Range {
        let first: Int
        let end: Int
        let vocabulary: EventPacket.Vocabulary
        let preamble: [UInt8]?
        let finalNewline: Bool
    }
    struct Position {
        var vocabulary: EventPacket.Vocabulary
        var starts = false
        var noNewline = false
        var preamble: [UInt8]? = nil
    }

    private let ranges: [Range]
    private let fallback: EventPacket.Vocabulary

    init(_ metadata: TraceMetadata) {
        fallback = EventPacket.Vocabulary(metadata.vocabularySource)
        let fallback = self.fallback
        ranges = metadata.inputs.filter { $0.events > 0 }.sorted { $0.firstEvent < $1.firstEvent }.map { input in
            // A round-tripped pcap input records its vocabulary as "pcap:FORMAT".
            let format = input.format.hasPrefix("pcap:") ? String(input.format.dropFirst(5)) : input.format
            let v = SourceKind(rawValue: format).map { EventPacket.Vocabulary($0) } ?? .unknown
            let preamble = input.preamble.flatMap { $0.isEmpty ? nil : Array($0.map { $0 + "\n" }.joined().utf8) }
            return Range(first: input.firstEvent, end: input.firstEvent + input.events,
                         vocabulary: v == .unknown ? fallback : v, preamble: preamble, finalNewline: input.finalNewline)
        }
    }

    /// The position of event `index`; ``Position/starts`` is true for an input's first event.
    func input(at index: Int) -> Position {
        // Inputs are few: a binary search per event keeps this independent of call order.
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].end <= index { lo = mid + 1 } else { hi = mid }
        }
        guard lo < ranges.count, ranges[lo].first <= index else { return Position(vocabulary: fallback) }
        let r = ranges[lo]
        return Position(vocabulary: r.vocabulary, starts: r.first == index, noNewline: !r.finalNewline && index == r.end - 1,
                        preamble: r.first == index ? r.preamble : nil)
    }
}
