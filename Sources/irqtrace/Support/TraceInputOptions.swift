import ArgumentParser
import Foundation
import Recorder
import TraceFormat

/// The trace argument and input options of every command that reads a trace.
struct TraceArgument: ParsableArguments {
    @Argument(help: "A trace (.irqt or any input record accepts).")
    var trace: String

    @OptionGroup var input: TraceInputOptions

    func open() throws -> TraceReader { try input.open(trace) }
}

/// Options shared by every command that reads a trace.
struct TraceInputOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Force the input format.", valueName: "format"))
    var inputFormat: InputFormatArgument?

    @Flag(name: .long, help: "Treat damaged or malformed input as an error (exit 2) instead of skipping it.")
    var strict = false

    /// Opens `path` (an .irqt, or any recording, imported in memory) and reports damage: a warning
    /// on stderr, or an error under --strict.
    func open(_ path: String) throws -> TraceReader {
        let (reader, diagnostics) = try Recorder.open(path, options: RecordOptions(inputFormat: inputFormat?.format, strict: strict))
        if let diagnostics { try report(diagnostics, strict: strict) }
        if reader.damage.isDamaged {
            let summary = "\(path): damaged trace: \(reader.damage.lostEvents) events lost"
                + (reader.damage.tailUnknown ? " (and an unknown number after the last readable chunk)" : "")
            if strict {
                throw IrqtraceError(summary + "; " + reader.damage.problems.joined(separator: "; "),
                                    hint: "drop --strict to read the intact chunks")
            }
            Console.warning(summary)
            for p in reader.damage.problems.prefix(5) { Console.warning("  \(p)") }
        }
        ProgressBar.attach(to: reader, label: (path as NSString).lastPathComponent)
        return reader
    }
}

/// Prints malformed-line diagnostics of an import.
func report(_ d: ImportDiagnostics, strict: Bool) throws {
    for n in d.notes { Console.warning(n) }
    guard d.malformedLines > 0 else { return }
    Console.warning("\(d.malformedLines) malformed line\(d.malformedLines == 1 ? "" : "s") skipped")
    for e in d.examples { Console.warning("  \(e)") }
    if d.malformedLines > d.examples.count { Console.warning("  … and \(d.malformedLines - d.examples.count) more") }
}

struct InputFormatArgument: ExpressibleByArgument {
    let format: InputFormat
    init?(argument: String) {
        guard let f = InputFormat(rawValue: argument) else { return nil }
        format = f
    }
    static var allValueStrings: [String] { InputFormat.allCases.map(\.rawValue) }
}
