import ArgumentParser
import Recorder
import TraceFormat

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a trace in another format.",
        discussion: "text: the source's own text lines; text sources are reprinted byte for byte.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case text }

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Option(help: "Output format.") var format: Format = .text

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file ('-' for standard output).", valueName: "file"))
    var output = "-"

    func run() throws {
        let reader = try source.open()
        let out = try OutputFile(path: output)
        do {
            try TextExport.write(reader, to: out)
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
    }
}
