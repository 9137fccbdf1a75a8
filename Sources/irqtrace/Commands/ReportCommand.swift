import ArgumentParser
import Exporter
import TraceFormat

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report: timeline per CPU, findings with their evidence, model state, latencies, summary.",
        discussion: """
        One HTML file with inline CSS, JavaScript and data (no network). What is embedded and its size bounds: docs/REPORT.md.
        """)

    @OptionGroup var source: TraceArgument

    @Option(name: .shortAndLong, help: ArgumentHelp("The HTML file to write.", valueName: "file"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Detailed timeline items (slices, instants, flows) embedded at most; beyond, windows around findings.", valueName: "n"))
    var detailBudget = Report.Options().detailBudget

    @Option(name: .long, help: ArgumentHelp("Times (the most severe findings') at which the model state is embedded; one replay each.", valueName: "n"))
    var maxStates = Report.Options().maxStates

    func validate() throws {
        guard detailBudget >= 0 else { throw ValidationError("--detail-budget: expected a number ≥ 0") }
        guard maxStates >= 0 else { throw ValidationError("--max-states: expected a number ≥ 0") }
    }

    func run() throws {
        let reader = try source.open()
        var options = Report.Options()
        options.detailBudget = detailBudget
        options.maxStates = maxStates
        var report = try Report.build(reader, options: options)
        report.generator = "irqtrace \(IrqtraceVersion.string)"
        let page = HTMLReport.render(report)
        let out = try OutputFile(path: output)
        do {
            try out.write(page)
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
        Console.note("report: \(output): \(page.count) bytes; \(report.findings.count) findings, \(report.windows.count) detail window\(report.windows.count == 1 ? "" : "s"), \(report.states.count) state snapshot\(report.states.count == 1 ? "" : "s")")
    }
}
