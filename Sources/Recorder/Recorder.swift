import Foundation
import TraceFormat

/// Options of `irqtrace record` (and of on-the-fly imports by the other commands).
public struct RecordOptions: Sendable {
    /// Force the input format instead of detecting it.
    public var inputFormat: InputFormat?
    /// Malformed input is an error instead of being skipped and counted.
    public var strict = false
    /// Target uncompressed chunk size in bytes.
    public var chunkSize = 1 << 20
    /// zstd level.
    public var level: Int32 = 9
    /// Recorded in the trace header.
    public var commandLine: [String] = []
    /// Prove every line's exact reprint before storing it (default: new templates, lines a tokenizer
    /// flags, and every 64th line; the tokenizers are exact by construction).
    public var verifyAll = false
    /// The clock of ftrace text timestamps (the text does not say; default `local`, ftrace's default).
    public var clock: ClockDomain?

    /// Benchmarks only: build every event but drop the chunks (see ``TraceWriter/discardChunks``).
    public var discardChunks = false
    /// Called every few MiB of a text input with (bytes done, input bytes): the CLI's progress bar.
    public var progress: (@Sendable (Int, Int) -> Void)?

    public init(inputFormat: InputFormat? = nil, strict: Bool = false, chunkSize: Int = 1 << 20, level: Int32 = 9,
                verifyAll: Bool = false, commandLine: [String] = []) {
        self.verifyAll = verifyAll
        self.inputFormat = inputFormat
        self.strict = strict
        self.chunkSize = chunkSize
        self.level = level
        self.commandLine = commandLine
    }
}

/// What a recording did.
public struct RecordResult: Sendable {
    public var metadata: TraceMetadata
    public var diagnostics: ImportDiagnostics
    public var events: Int
    /// Bytes of the `.irqt` output, and of its chunks before compression.
    public var bytesWritten: Int
    public var rawChunkBytes: Int
    /// Bytes of input text read (after decompressing `.zst` inputs).
    public var inputBytes: Int
}

/// Imports recordings into the `.irqt` format.
public enum Recorder {
    /// Records `inputs` into `output` (committed on success, dropped on error).
    public static func record(inputs: [String], to output: OutputFile, options: RecordOptions) throws -> RecordResult {
        do {
            guard !inputs.isEmpty else { throw IrqtraceError("no input files", hint: "pass one or more recordings") }
            return try write(files: try inputs.map { try InputFile(path: $0) }, to: output, options: options)
        } catch {
            output.abort()
            throw error
        }
    }

    static func write(files: [InputFile], to output: OutputFile, options: RecordOptions) throws -> RecordResult {
        var formats: [InputFormat] = []
        for f in files {
            let format = try options.inputFormat ?? f.data.withUnsafeBytes { bytes in
                guard let detected = InputFormat.detect(bytes) else {
                    if let wrong = WrongFileType.identify(bytes) {
                        throw IrqtraceError("not a recording irqtrace reads: \(wrong.what)", path: f.path, hint: wrong.hint)
                    }
                    throw IrqtraceError("cannot tell the input format (no QEMU, ftrace, trace-cmd or perf line in its first lines; the first is: \(WrongFileType.firstLine(bytes)))", path: f.path,
                                        hint: "use --input-format with one of: \(InputFormat.allCases.filter { $0 != .irqt }.map(\.rawValue).joined(separator: ", "))")
                }
                return detected
            }
            if format == .irqt {
                throw IrqtraceError("already an .irqt trace", path: f.path, hint: "pass it to info/stats/show/export directly")
            }
            formats.append(format)
        }
        var metadata = TraceMetadata(source: formats.first?.sourceKind ?? .mixed, commandLine: options.commandLine)
        let writer = TraceWriter(output: output, metadata: metadata, chunkSize: options.chunkSize, level: options.level,
                                 encodeBehind: true)
        writer.discardChunks = options.discardChunks
        var diagnostics = ImportDiagnostics()
        var archVotes: [Architecture: Int] = [:]
        var clock: ClockDomain = .none
        var inputBytes = 0
        var carried: TraceMetadata? = nil
        let observe: (EventTemplate, UInt32) -> Void = { template, _ in
            let arch = ArchitectureGuess.guess(eventName: template.name)
            if arch != .unknown {
                archVotes[arch, default: 0] += 1
                if writer.metadata.arch == .unknown { writer.metadata.arch = arch }
            }
        }
        for (file, format) in zip(files, formats) {
            inputBytes += file.data.count
            let info: InputInfo
            let inputClock: ClockDomain
            switch format {
            case .qemuLog:
                var importer = TextImporter(tokenizer: QEMULogTokenizer(), strict: options.strict, verifyAll: options.verifyAll)
                info = try importer.run(file, format: format, writer: writer, diagnostics: &diagnostics, progress: options.progress, observe: observe)
                inputClock = importer.clock
            case .ftraceText, .traceCmdReport, .perfScript:
                var importer = TextImporter(tokenizer: FtraceLineTokenizer(clock: options.clock ?? .ftraceLocal), strict: options.strict,
                                            verifyAll: options.verifyAll)
                info = try importer.run(file, format: format, writer: writer, diagnostics: &diagnostics, progress: options.progress, observe: observe)
                inputClock = importer.clock
            case .traceDat:
                (info, inputClock) = try importTraceDat(file, options: options, writer: writer, diagnostics: &diagnostics, observe: observe)
            case .pcap:
                var importer = PcapImport(file: file, options: options)
                let result = try importer.run(writer: writer, diagnostics: &diagnostics, observe: observe)
                if files.count == 1 { carried = result.metadata }
                metadata.inputs += result.inputs.dropLast()
                info = result.inputs.last!
                inputClock = result.clock
            case .irqt:
                throw IrqtraceError("already an .irqt trace", path: file.path)
            }
            if info.events > 0 { clock = inputClock }
            metadata.inputs.append(info)
        }
        let kinds = Set(zip(files, formats).flatMap { _, f in
            // A pcap's source is that of its packets' vocabularies.
            f != .pcap ? [f.sourceKind]
                : metadata.inputs.filter { $0.format.hasPrefix("pcap:") }.compactMap { SourceKind(rawValue: String($0.format.dropFirst(5))) }
        })
        metadata.source = kinds.count == 1 ? kinds.first! : .mixed
        metadata.arch = archVotes.max { $0.value < $1.value }?.key ?? .unknown
        metadata.clock = clock
        if metadata.arch == .x86_64 && [.ftraceText, .traceCmdReport, .perfScript, .traceDat].contains(metadata.source) {
            metadata.kvmFlavour = KVMFlavourGuess.guess(writer.catalog)
        }
        if let carried { metadata.adoptExported(carried) }
        writer.metadata = metadata
        try writer.finish()
        return RecordResult(metadata: metadata, diagnostics: diagnostics, events: writer.eventCount,
                            bytesWritten: writer.bytesWritten, rawChunkBytes: writer.rawBytes, inputBytes: inputBytes)
    }

    /// A trace.dat through the native reader: each record becomes the line `trace-cmd report` prints,
    /// imported like ftrace text, with the record's exact nanosecond time.
    static func importTraceDat(_ file: InputFile, options: RecordOptions, writer: TraceWriter, diagnostics: inout ImportDiagnostics,
                               observe: (EventTemplate, UInt32) -> Void) throws -> (InputInfo, ClockDomain) {
        let dat: TraceDatReader
        do { dat = try TraceDatReader(data: file.data, path: file.path) } catch let e as TraceDatError {
            throw IrqtraceError(e.message, path: file.path, byteOffset: e.offset, hint: "the trace.dat is damaged or not a trace-cmd file")
        }
        let clock = options.clock ?? dat.traceClock.flatMap { c in ClockDomain.allCases.first { $0.name == c } } ?? .ftraceLocal
        var info = InputInfo(path: file.path, format: InputFormat.traceDat.rawValue, bytes: file.fileSize, firstEvent: writer.eventCount)
        var counts = TraceDatReader.ImportCounts()
        let malformedBefore = diagnostics.malformedLines
        do {
            try dat.importRecords(writer: writer, clock: clock, strict: options.strict, verifyAll: options.verifyAll, path: file.path,
                                  counts: &counts, diagnostics: &diagnostics, observe: observe)
        } catch let e as TraceDatError {
            // Damage part-way: keep what was read; lenient unless --strict.
            if options.strict {
                throw IrqtraceError(e.message, path: file.path, byteOffset: e.offset, hint: "drop --strict to keep the events before the damage")
            }
            diagnostics.damaged("\(file.path): byte \(e.offset): \(e.message); \(counts.records) records read before it")
        }
        if counts.mismatches > 0 {
            diagnostics.note("\(file.path): \(counts.mismatches) records did not reprint from their binary form and were stored as text lines (please report)")
        }
        if counts.formDisagreements > 0 {
            diagnostics.note("\(file.path): \(counts.formDisagreements) records' body forms disagreed with their printed text; those events were printed instead (please report)")
        }
        info.lines = counts.records
        info.events = writer.eventCount - info.firstEvent
        info.malformedLines = diagnostics.malformedLines - malformedBefore
        info.preamble = dat.headerLines
        return (info, counts.clock)
    }

    /// Opens bytes in memory as `record` would a file named `name` (fuzzing, tests, embedding).
    public static func open(bytes: [UInt8], name: String, options: RecordOptions = RecordOptions()) throws -> (TraceReader, ImportDiagnostics?) {
        let file = InputFile(path: name, bytes: bytes)
        let isTrace = file.data.withUnsafeBytes { TraceReader.isTrace($0) }
        if isTrace && options.inputFormat == nil || options.inputFormat == .irqt {
            return (try TraceReader(data: file.data, path: name), nil)
        }
        var fast = options
        fast.level = 1
        let memory = OutputFile()
        let result = try write(files: [file], to: memory, options: fast)
        return (try TraceReader(data: Data(memory.memory), path: name), result.diagnostics)
    }

    /// Opens any input `record` accepts: an `.irqt` file directly, anything else imported in memory.
    public static func open(_ path: String, options: RecordOptions = RecordOptions()) throws -> (TraceReader, ImportDiagnostics?) {
        let file = try InputFile(path: path)
        let isTrace = file.data.withUnsafeBytes { TraceReader.isTrace($0) }
        if isTrace && options.inputFormat == nil || options.inputFormat == .irqt {
            return (file.wasCompressed ? try TraceReader(data: file.data, path: path) : try TraceReader(mappedFile: file.data, path: path), nil)
        }
        var fast = options
        fast.level = 1
        let memory = OutputFile()
        let result = try write(files: [file], to: memory, options: fast)
        return (try TraceReader(data: Data(memory.memory), path: path), result.diagnostics)
    }
}
