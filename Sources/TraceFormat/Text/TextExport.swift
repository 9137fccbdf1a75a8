/// `export --format text`: every event as the line its source printed, in trace order. Each input's
/// lines end with a newline, except an input's last line when the input had none.
public enum TextExport {
    public static func write(_ reader: TraceReader, to out: OutputFile) throws {
        // Events after which no newline is printed.
        let noNewline = Set(reader.metadata.inputs.filter { !$0.finalNewline && $0.events > 0 }.map { $0.firstEvent + $0.events - 1 })
        // Header lines printed before an input's first event.
        var preambles: [Int: [String]] = [:]
        for input in reader.metadata.inputs { if let p = input.preamble, !p.isEmpty { preambles[input.firstEvent, default: []] += p } }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        try reader.forEachBatch { batch in
            for i in 0..<batch.count {
                if !preambles.isEmpty, let lines = preambles[batch.eventIndex(i)] {
                    for l in lines { buffer.append(contentsOf: l.utf8); buffer.append(0x0A) }
                }
                LinePrinter.append(i, of: batch, template: reader.catalog[batch.templates[i]], to: &buffer)
                if noNewline.isEmpty || !noNewline.contains(batch.eventIndex(i)) { buffer.append(0x0A) }
                if buffer.count >= 1 << 20 {
                    try out.write(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
        }
        try out.write(buffer)
    }
}
