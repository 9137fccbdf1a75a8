import TraceFormat

/// The import loop for line-oriented text formats: splits lines, tokenizes each, proves that the
/// tokenized form reprints the line byte for byte (else stores the line whole in a string slot, so
/// nothing is ever lost), interns the template and appends the event.
struct TextImporter<Tokenizer: LineTokenizer> {
    var tokenizer: Tokenizer
    let strict: Bool
    /// Prove every line's reprint (else: new templates, flagged lines and every 64th line).
    var verifyAll = false
    private var sinceVerified = 0
    /// Clock domain of the last event imported.
    private(set) var clock: ClockDomain = .none

    init(tokenizer: Tokenizer, strict: Bool, verifyAll: Bool = false) {
        self.tokenizer = tokenizer
        self.strict = strict
        self.verifyAll = verifyAll
    }

    /// Reused per line.
    private var parsed = ParsedLine()
    private var rendered: [UInt8] = []
    private var lastTemplateCount = -1

    /// Imports `input` into `writer`; returns the input's record. Throws on I/O errors, and on the
    /// first malformed line when `strict`.
    mutating func run(_ input: InputFile, format: InputFormat, writer: TraceWriter,
                      diagnostics: inout ImportDiagnostics, progress: (@Sendable (Int, Int) -> Void)? = nil,
                      observe: (EventTemplate, UInt32) -> Void) throws -> InputInfo {
        var info = InputInfo(path: input.path, format: format.rawValue, bytes: input.fileSize, firstEvent: writer.eventCount)
        let malformedBefore = diagnostics.malformedLines
        var lineNumber = 0
        let read = try LineReader.forEachLine(in: input, progress: progress.map { p in { p($0, $1) } }) { line in
            lineNumber += 1
            try importLine(line, path: input.path, lineNumber: lineNumber, writer: writer, diagnostics: &diagnostics, observe: observe)
        }
        info.lines = read.lines
        info.finalNewline = read.finalNewline
        progress?(input.data.count, input.data.count)
        info.events = writer.eventCount - info.firstEvent
        info.preamble = tokenizer.preamble.isEmpty ? nil : tokenizer.preamble
        info.malformedLines = diagnostics.malformedLines - malformedBefore
        return info
    }

    /// Imports one line. `exactTime`, when given, replaces the time the text shows (a binary source's
    /// nanoseconds behind a line that prints microseconds); the line still reprints the same.
    mutating func importLine(_ line: UnsafeRawBufferPointer, path: String, lineNumber: Int, exactTime: Int64? = nil,
                             writer: TraceWriter, diagnostics: inout ImportDiagnostics,
                             observe: (EventTemplate, UInt32) -> Void) throws {
        if lastTemplateCount < 0 { lastTemplateCount = writer.catalog.count; rendered.reserveCapacity(512) }
        parsed.reset()
        switch tokenizer.tokenize(line, into: &parsed) {
        case .ignored:
            diagnostics.ignored()
        case .malformed(let reason):
            if strict {
                throw IrqtraceError("malformed line: \(reason): \(ImportDiagnostics.excerpt(line))",
                                    path: path, line: lineNumber,
                                    hint: "drop --strict to skip and count such lines, or force the format with --input-format")
            }
            diagnostics.malformed(path: path, line: lineNumber, reason: reason, text: line)
        case .event:
            clock = parsed.clock
            if let exactTime, exactTime != parsed.time { useExactTime(exactTime) }
            try Self.append(line, &parsed, &rendered, writer, verifyAll: verifyAll, sinceVerified: &sinceVerified)
            if writer.catalog.count != lastTemplateCount {
                lastTemplateCount = writer.catalog.count
                let id = UInt32(lastTemplateCount - 1)
                observe(writer.catalog[id], id)
            }
        }
    }

    @inline(__always)
    /// Keeps a binary source's nanosecond time behind a line that shows fewer digits, when the line's
    /// digits are that time rounded (libtraceevent) or truncated; the time piece says which.
    private mutating func useExactTime(_ exact: Int64) {
        // The time piece: where its flags byte is, and the byte.
        let piece: (at: Int, flags: UInt8)? = parsed.skeleton.withUnsafeBytes { sk in
            var k = 0
            while k + 3 < sk.count {
                if sk[k] == 0xFF {
                    if sk[k + 1] == 0xFF { k += 2; continue }
                    if sk[k + 1] == 0x05 { return (k + 2, sk[k + 2]) }
                }
                k += 1
            }
            return nil
        }
        guard let piece else {
            // No time on the line (trace-cmd's "CPU:N [M EVENTS DROPPED]"): it takes the time given.
            parsed.time = exact
            return
        }
        let digits = Int(piece.flags & 0x7F)
        guard digits < 9 else { return }
        var unit: Int64 = 1
        for _ in digits..<9 { unit *= 10 }
        let truncated = exact / unit * unit
        let rounded = (exact + unit / 2) / unit * unit
        if truncated == parsed.time {
            parsed.time = exact
        } else if rounded == parsed.time {
            parsed.skeleton.setByte(at: piece.at, piece.flags | 0x80)
            parsed.time = exact
        }
    }

    private static func append(_ line: UnsafeRawBufferPointer, _ parsed: inout ParsedLine, _ rendered: inout [UInt8],
                               _ writer: TraceWriter, verifyAll: Bool, sinceVerified: inout Int) throws {
        let name = UnsafeRawBufferPointer(rebasing: line[parsed.nameStart..<parsed.nameEnd])
        // Tokenizers reprint exactly by construction (literal bytes are copied, numbers keep their
        // zero-pad width and case); the reprint is still proved for every new template, every line a
        // tokenizer flags, every 64th line, and every line under verifyAll.
        sinceVerified += 1
        var known: UInt32? = nil
        if !name.isEmpty { known = parsed.skeleton.withUnsafeBytes { writer.catalog.lookup(name: name, skeleton: $0) } }
        var exact = true
        if verifyAll || parsed.needsVerification || known == nil || sinceVerified >= 64 {
            sinceVerified = 0
            exact = SkeletonRenderer.reprints(line, skeleton: parsed.skeleton.bytes, values: parsed.values, time: parsed.time,
                                              cpu: parsed.cpu, thread: parsed.thread, scratch: &rendered)
        }
        if exact, let known {
            try parsed.values.withUnsafeBufferPointer { v in
                try writer.append(time: parsed.time, cpu: parsed.cpu, thread: parsed.thread, domain: parsed.clock, template: known, values: v)
            }
            return
        }
        if !exact {
            // Keep the line whole: a template of one string slot.
            parsed.skeleton.reset()
            parsed.skeleton.appendString()
            parsed.values.removeAll(keepingCapacity: true)
            parsed.values.append(writer.internString(Array(line)))
        }
        let id = name.isEmpty
            ? try writer.catalog.intern(name: parsed.syntheticName ?? "unparsed", skeleton: parsed.skeleton.bytes)
            : try parsed.skeleton.withUnsafeBytes { sk in try writer.catalog.intern(name: name, skeleton: sk) }
        try parsed.values.withUnsafeBufferPointer { v in
            try writer.append(time: parsed.time, cpu: parsed.cpu, thread: parsed.thread, domain: parsed.clock, template: id, values: v)
        }
    }
}
