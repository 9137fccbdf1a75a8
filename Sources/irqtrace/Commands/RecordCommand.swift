import ArgumentParser
import Recorder
import TraceFormat

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record recordings (QEMU -trace logs; .zst-compressed inputs too) into an .irqt trace.")

    @Argument(help: "Input files, in order.")
    var inputs: [String]

    @Option(name: .shortAndLong, help: ArgumentHelp("Output .irqt file ('-' for standard output).", valueName: "file"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Force the input format.", valueName: "format"))
    var inputFormat: InputFormatArgument?

    @Flag(name: .long, help: "Malformed lines are an error (exit 2) instead of being skipped and counted.")
    var strict = false

    @Option(name: .long, help: ArgumentHelp("The trace_clock of ftrace text (local, global, mono, x86-tsc, counter); the text does not say. Default: local.", valueName: "clock"))
    var clock: String?

    @Option(name: .long, help: "Target chunk size before compression, in bytes.")
    var chunkSize = 1 << 20

    @Option(name: .long, help: "zstd compression level (1-22).")
    var level: Int32 = 19

    @Flag(name: .long, help: "Prove every line reprints exactly before storing it (default: new templates, unusual lines and every 64th line; the tokenizers are exact by construction).")
    var verifyAll = false

    @Flag(name: .long, help: "Print a JSON summary on standard output.")
    var json = false

    func validate() throws {
        guard (1...22).contains(level) else { throw ValidationError("--level must be 1...22") }
        guard chunkSize >= 1024 else { throw ValidationError("--chunk-size must be at least 1024") }
        if json && output == "-" { throw ValidationError("--json and -o - both write to standard output") }
        if let clock, ClockDomain.allCases.first(where: { $0.name == clock }) == nil {
            throw ValidationError("--clock \(clock): expected one of \(ClockDomain.allCases.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        var options = RecordOptions(inputFormat: inputFormat?.format, strict: strict, chunkSize: chunkSize, level: level,
                                    verifyAll: verifyAll, commandLine: ["irqtrace"] + CommandLine.arguments.dropFirst())
        options.clock = clock.flatMap { c in ClockDomain.allCases.first { $0.name == c } }
        let out = try OutputFile(path: output)
        let result = try Recorder.record(inputs: inputs, to: out, options: options)
        try report(result.diagnostics, strict: strict)
        let perEvent = result.events > 0 ? Double(result.bytesWritten) / Double(result.events) : 0
        if json {
            let v: JSONValue = .object([
                ("output", .string(output)),
                ("events", .int(result.events)),
                ("bytes", .int(result.bytesWritten)),
                ("input_bytes", .int(result.inputBytes)),
                ("malformed_lines", .int(result.diagnostics.malformedLines)),
                ("arch", .string(result.metadata.arch.rawValue)),
                ("source", .string(result.metadata.source.rawValue)),
            ])
            Console.out(v.serialized(pretty: true) + "\n")
        } else {
            Console.note("recorded \(result.events) events from \(inputs.count) input\(inputs.count == 1 ? "" : "s") into \(output): "
                + "\(result.bytesWritten) bytes (\(format(perEvent, 3)) bytes/event)")
        }
    }
}

/// A non-negative number with `digits` decimals, never in scientific notation.
func format(_ v: Double, _ digits: Int) -> String {
    var p: Double = 1
    for _ in 0..<digits { p *= 10 }
    let scaled = Int64((v * p).rounded())
    let whole = scaled / Int64(p), frac = String(scaled % Int64(p))
    return digits == 0 ? String(whole) : String(whole) + "." + String(repeating: "0", count: digits - frac.count) + frac
}
