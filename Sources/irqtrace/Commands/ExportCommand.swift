import ArgumentParser
import Exporter
import Recorder
import TraceFormat

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a trace in another format.",
        discussion: """
        text: the source's own text lines; text sources are reprinted byte for byte.
        perfetto: Chrome/Perfetto trace-event JSON (open it in ui.perfetto.dev): a track per vCPU with
          in-service intervals and halts, instants for raises and drops, flows from acceptance to delivery,
          findings (x86 KVM and QEMU GICv2 traces).
        jsonl: one JSON object per event (and per finding), for pandas and DuckDB.
        pcap: one packet per event (LINKTYPE_USER0, nanosecond timestamps; docs/PCAP.md), for Wireshark with
          contrib/wireshark/irqtrace.lua; `irqtrace record FILE.pcap` reads it back.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, perfetto, jsonl, pcap }

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Option(help: "Output format: text, perfetto, jsonl, pcap.") var format: Format = .text

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file ('-' for standard output).", valueName: "file"))
    var output = "-"

    @Flag(name: .long, help: "perfetto, jsonl: leave the analyzers' findings out.")
    var noFindings = false

    func run() throws {
        let reader = try source.open()
        if format == .pcap {
            try PcapExport.write(reader, to: output)
            return
        }
        let out = try OutputFile(path: output)
        do {
            switch format {
            case .text: try TextExport.write(reader, to: out)
            case .perfetto: try PerfettoExport.write(reader, to: out, findings: !noFindings)
            case .jsonl: try JSONLinesExport.write(reader, to: out, findings: !noFindings)
            case .pcap: break
            }
            try out.commit()
        } catch {
            out.abort()
            throw error
        }
    }
}
