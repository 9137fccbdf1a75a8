import ArgumentParser
import Exporter
import Recorder
import TraceFormat

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a trace in another format.",
        discussion: """
        text: the source's own text lines; text sources are reprinted byte for byte.
        pcap: one packet per event (LINKTYPE_USER0, nanosecond timestamps; docs/PCAP.md), for Wireshark with
        contrib/wireshark/irqtrace.lua; `irqtrace record FILE.pcap` reads it back.
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, pcap }

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Option(help: "Output format.") var format: Format = .text

    @Option(name: .shortAndLong, help: ArgumentHelp("Output file ('-' for standard output).", valueName: "file"))
    var output = "-"

    func run() throws {
        let reader = try source.open()
        if format == .pcap {
            try PcapExport.write(reader, to: output)
            return
        }
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
