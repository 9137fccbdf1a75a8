import ArgumentParser
import TraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// irqtrace: record, replay and analyze interrupt-virtualization traces.
struct Irqtrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "irqtrace",
        abstract: "Record, replay, analyze and export interrupt-virtualization traces (KVM, QEMU).",
        discussion: """
        Exit status: 0 ok; 1 findings or divergences; 2 usage or input error.
        Every command that reads a trace accepts any input `record` accepts.
        """,
        version: IrqtraceVersion.string,
        subcommands: [RecordCommand.self, InfoCommand.self, StatsCommand.self, ShowCommand.self, ExportCommand.self, ReplayCommand.self, AnalyzeCommand.self, WhyCommand.self, ReportCommand.self, SimCommand.self, ManpageCommand.self]
    )
}

@main
enum Entry {
    static func main() {
        do {
            // `irqtrace record … -- COMMAND ARGS…`: the command is not irqtrace's to parse.
            var args = Array(CommandLine.arguments.dropFirst())
            if args.first == "record", let dashes = args.firstIndex(of: "--") {
                RecordCommand.passthrough = Array(args[(dashes + 1)...])
                args = Array(args[..<dashes])
            }
            var command = try Irqtrace.parseAsRoot(args)
            try command.run()
        } catch let error as IrqtraceError {
            Console.error(error.description)
            exit(2)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let code = Irqtrace.exitCode(for: error)
            let message = Irqtrace.fullMessage(for: error)
            if code == .success {
                print(message)
                exit(0)
            }
            Console.error(message)
            exit(2)
        }
    }
}
