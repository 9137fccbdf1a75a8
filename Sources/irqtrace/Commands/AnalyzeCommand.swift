import Analyzer
import Foundation
import Replayer
import ArgumentParser
import TraceFormat

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Find lost interrupts, priority inversions, misrouted vectors, stuck state, storms and halted vCPUs.",
        discussion: """
        Runs the detectors over the replayed model state (docs/ANALYZERS.md). Exit status: 0 no findings,
        1 findings, 2 error. Kinds: \(Finding.Kind.allCases.map(\.rawValue).joined(separator: ", ")).
        """)

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Flag(name: .long, help: "JSON output: {\"findings\": [{\"kind\", \"severity\", \"time_ns\", \"cpu\", \"vector\" | \"irq\", \"events\", \"explanation\", \"caused_by\"}]}.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Only these finding kinds (comma-separated).", valueName: "kinds"))
    var only: String?

    @Option(name: .long, help: ArgumentHelp("Only findings at least this severe: info, warning, error.", valueName: "severity"))
    var minSeverity: String = "info"

    @Flag(name: .long, help: "For simulated traces: score the findings (warning and error) against the trace's ground truth; exit 1 unless precision and recall are both 100%.")
    var score = false

    func validate() throws {
        guard Finding.Severity(rawValue: minSeverity) != nil else { throw ValidationError("--min-severity: expected info, warning or error") }
        for k in kinds ?? [] where Finding.Kind(rawValue: k) == nil {
            throw ValidationError("--only \(k): expected one of \(Finding.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    var kinds: [String]? { only?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        let reader = try source.open()
        let options = Analyzer.Options(only: kinds.map { Set($0.compactMap(Finding.Kind.init(rawValue:))) },
                                       minSeverity: Finding.Severity(rawValue: minSeverity)!)
        let report = try Analyzer.analyze(reader, options: options)
        if score {
            guard let truth = reader.metadata.groundTruth else {
                throw IrqtraceError("--score needs a simulated trace (with ground truth)", path: trace, hint: "make one with irqtrace sim")
            }
            let s = Score(findings: report.findings, truth: truth)
            if json {
                Console.out(JSONValue.object([
                    ("truth", .int(s.truth)), ("findings", .int(s.findings)), ("matched", .int(s.matched)),
                    ("precision", .double(s.precision)), ("recall", .double(s.recall)),
                    ("missed", .array(s.missed.map { .string("\($0.expect) cpu \($0.cpu) vector \($0.vector.map(String.init) ?? "-") irq \($0.irq.map(String.init) ?? "-") (\($0.fault))") })),
                    ("spurious", .array(s.spurious.map { $0.json() })),
                ]).serialized(pretty: true) + "\n")
            } else {
                var out = "ground truth \(s.truth), findings \(s.findings) (warning and error), matched \(s.matched): precision \(format(s.precision * 100, 1))%, recall \(format(s.recall * 100, 1))%\n"
                for g in s.missed { out += "  missed:   \(g.expect) cpu \(g.cpu) vector \(g.vector.map(String.init) ?? "-") irq \(g.irq.map(String.init) ?? "-") (\(g.fault) at \(seconds(g.timeNs)))\n" }
                for f in s.spurious { out += "  spurious: \(f.kind.rawValue) cpu \(f.cpu.map(String.init) ?? "-") vector \(f.vector.map(String.init) ?? "-") irq \(f.irq.map(String.init) ?? "-") at \(seconds(f.timeNs)): \(f.explanation)\n" }
                Console.out(out)
            }
            if s.matched != s.truth || s.matched != s.findings { throw ExitCode(1) }
            return
        }
        if json {
            Console.out(report.json().serialized(pretty: true) + "\n")
        } else {
            var s = "analyzed \(report.events) events with the \(report.adapter) adapter: \(report.findings.count) finding\(report.findings.count == 1 ? "" : "s")"
            s += report.divergences > 0 ? " (replay --check: \(report.divergences) divergences)\n" : "\n"
            if let list = report.vmList { s += "VMs: \(VMInfo.summary(list)); each analyzed on its own, from its own reset\n" }
            for w in report.warnings ?? [] { s += Style.yellow("warning: ") + w + "\n" }
            for (k, f) in report.findings.enumerated() {
                var where_ = f.cpu.map { "cpu \($0)" } ?? f.dest.map { "dest \($0) (no such APIC)" } ?? "cpu ?"
                if let v = f.vector { where_ += " vector \(v)" }
                if let i = f.irq { where_ += " irq \(i)" }
                if let v = f.vm, let list = report.vmList, v >= 1, v <= list.count { where_ += " in " + list[v - 1].label }
                s += "\n" + Style.bold("#\(k)") + " \(Style.severity(f.severity.rawValue)) \(Style.bold(f.kind.rawValue)) at \(seconds(f.timeNs)) \(where_)\(f.causedBy.map { " (caused by #\($0))" } ?? "")\n"
                s += "   \(f.explanation)\n"
                s += "   events: \(f.events.map(String.init).joined(separator: ", "))\n"
            }
            Console.out(s)
        }
        if !report.findings.isEmpty { throw ExitCode(1) }
    }
}
