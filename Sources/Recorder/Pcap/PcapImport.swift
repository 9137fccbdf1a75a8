import TraceFormat

/// `record FILE.pcap`: reads back what `export --format pcap` wrote. Each packet's original line goes
/// through the importer of the vocabulary the packet names (QEMU log or ftrace-family text, with the
/// packet's clock domain and exact nanosecond time), so templates, values and the text export are
/// those of the trace that was exported; input boundaries, header lines and a missing final newline
/// come from the packets' flags and sections, the trace metadata from the first packet.
struct PcapImport {
    /// What the import found beyond the events.
    struct Result {
        var inputs: [InputInfo] = []
        var clock: ClockDomain = .none
        /// The exported trace's metadata (first packet), when carried.
        var metadata: TraceMetadata?
    }

    let file: InputFile
    let options: RecordOptions
    private var qemu: TextImporter<QEMULogTokenizer>?
    /// ftrace-family importers by clock domain (the text does not say its clock; the packet does).
    private var ftrace: [UInt8: TextImporter<FtraceLineTokenizer>] = [:]

    init(file: InputFile, options: RecordOptions) {
        self.file = file
        self.options = options
    }

    mutating func run(writer: TraceWriter, diagnostics: inout ImportDiagnostics,
                      observe: (EventTemplate, UInt32) -> Void) throws -> Result {
        var result = Result()
        var current: InputInfo? = nil
        var currentVocabulary = EventPacket.Vocabulary.unknown
        let path = file.path
        try file.data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws in
            let pcap: PcapFile
            do { pcap = try PcapFile(bytes) } catch let e as PcapFile.Malformed {
                throw IrqtraceError(e.message, path: path, byteOffset: e.offset)
            }
            guard pcap.linkType == UInt32(EventPacket.linkType) else {
                throw IrqtraceError("link type \(pcap.linkType) (\(PcapFile.linkTypeName(pcap.linkType))) is not irqtrace's: "
                                    + "irqtrace reads the pcap files it writes, LINKTYPE_USER0 (147, DLT_USER0)", path: path,
                                    byteOffset: 20, hint: "export a trace with `irqtrace export TRACE --format pcap`")
            }
            var number = 0
            do {
                try pcap.forEachPacket(bytes) { _, packet, offset in
                    number += 1
                    let decoded: DecodedEventPacket
                    do { decoded = try DecodedEventPacket(packet) } catch let e as DecodedEventPacket.Malformed {
                        let reason = "packet \(number): \(e.reason)"
                        if options.strict {
                            throw IrqtraceError(reason, path: path, byteOffset: offset + PcapFile.recordHeaderSize + e.offset,
                                                hint: "drop --strict to skip and count such packets")
                        }
                        diagnostics.malformed(path: path, line: number, reason: reason, text: packet)
                        return
                    }
                    if number == 1, let m = try? decoded.traceMetadata(in: packet) { result.metadata = m }
                    if current == nil || decoded.flags.contains(.startsInput) || decoded.vocabulary != currentVocabulary {
                        if let c = current { result.inputs.append(finished(c, writer)) }
                        var info = InputInfo(path: path, format: "pcap:" + decoded.vocabulary.formatName,
                                             bytes: result.inputs.isEmpty ? file.fileSize : 0, firstEvent: writer.eventCount)
                        if let p = decoded.preamble {
                            var lines = String(decoding: UnsafeRawBufferPointer(rebasing: packet[p]), as: UTF8.self)
                                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                            if lines.last == "" { lines.removeLast() }
                            info.preamble = lines
                        }
                        current = info
                        currentVocabulary = decoded.vocabulary
                    }
                    current!.lines += 1
                    if decoded.flags.contains(.noNewline) { current!.finalNewline = false }
                    let line = UnsafeRawBufferPointer(rebasing: packet[decoded.line])
                    let malformedBefore = diagnostics.malformedLines
                    switch decoded.vocabulary {
                    case .qemuLog:
                        if qemu == nil { qemu = TextImporter(tokenizer: QEMULogTokenizer(), strict: options.strict, verifyAll: options.verifyAll) }
                        try qemu!.importLine(line, path: path, lineNumber: number, exactTime: decoded.time, writer: writer,
                                             diagnostics: &diagnostics, observe: observe)
                        result.clock = qemu!.clock
                    case .ftraceText, .traceCmdReport, .perfScript:
                        let clock = ClockDomain(rawValue: decoded.clock) ?? .ftraceLocal
                        if ftrace[decoded.clock] == nil {
                            ftrace[decoded.clock] = TextImporter(tokenizer: FtraceLineTokenizer(clock: clock), strict: options.strict,
                                                                 verifyAll: options.verifyAll)
                        }
                        try ftrace[decoded.clock]!.importLine(line, path: path, lineNumber: number, exactTime: decoded.time,
                                                              writer: writer, diagnostics: &diagnostics, observe: observe)
                        result.clock = ftrace[decoded.clock]!.clock
                    case .unknown:
                        let reason = "packet \(number): its line's vocabulary is unknown, so no importer can rebuild it"
                        if options.strict { throw IrqtraceError(reason, path: path, byteOffset: offset) }
                        diagnostics.malformed(path: path, line: number, reason: reason, text: line)
                    }
                    current!.malformedLines += diagnostics.malformedLines - malformedBefore
                }
            } catch let e as PcapFile.Malformed {
                if options.strict {
                    throw IrqtraceError(e.message, path: path, byteOffset: e.offset, hint: "drop --strict to keep the packets before the damage")
                }
                diagnostics.damaged("\(path): byte \(e.offset): \(e.message); \(number) packets read before it")
            }
        }
        if let c = current { result.inputs.append(finished(c, writer)) }
        if result.inputs.isEmpty { result.inputs.append(InputInfo(path: path, format: "pcap", bytes: file.fileSize, firstEvent: writer.eventCount)) }
        return result
    }

    private func finished(_ info: InputInfo, _ writer: TraceWriter) -> InputInfo {
        var info = info
        info.events = writer.eventCount - info.firstEvent
        return info
    }
}
