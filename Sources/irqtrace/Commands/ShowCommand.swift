import ArgumentParser
import Recorder
import TraceFormat

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "List events, optionally filtered.",
        discussion: """
        Each line: event index, time relative to the first event (s), cpu, event name, and the event's
        arguments as the source printed them. Times for --from/--to: SECONDS[.FRACTION] as the trace
        prints them, or a number with ns/us/ms/s; a leading '+' counts from the first event.
        """)

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Option(help: "Only events on this CPU.") var cpu: Int?
    @Option(help: "Only events with this x86 vector.") var vector: Int?
    @Option(help: "Only events with this IRQ, IOAPIC pin, GSI or GIC INTID.") var irq: Int?
    @Option(help: "Only events with this name.") var event: [String] = []
    @Option(help: "Only events at or after this time.") var from: String?
    @Option(help: "Only events before this time.") var to: String?
    @Option(help: "Stop after this many events.") var limit: Int?
    @Flag(help: "Print typed fields (name=value) instead of the source's text.") var fields = false

    func run() throws {
        let fromSpec = try from.map { try parseTime($0, "--from") }
        let toSpec = try to.map { try parseTime($0, "--to") }
        let reader = try source.open()
        var roles = RoleTable()
        var start: Int64? = nil
        var shown = 0
        var out = ""
        var line: [UInt8] = []
        let names = Set(event)
        // The first event's time anchors relative times; the footer index then skips chunks outside the window.
        if let first = reader.chunks.indices.first(where: { reader.chunks[$0].isIntact }) {
            start = try reader.decodeChunk(first).times.first
        }
        let lower = start.flatMap { fromSpec?.resolve(start: $0) } ?? .min
        let upper = start.flatMap { toSpec?.resolve(start: $0) } ?? .max
        let selected = reader.chunks(overlappingTimes: lower, upper)
        try reader.forEachBatch(chunks: selected) { batch in
            if limit.map({ shown >= $0 }) == true { return }
            for i in 0..<batch.count {
                let t = batch.times[i]
                guard t >= lower, t < upper else { continue }
                let id = batch.templates[i]
                let template = reader.catalog[id]
                if !names.isEmpty && !names.contains(template.name) { continue }
                let r = roles.roles(id, in: reader.catalog)
                let c = batch.cpu(i, roles: r)
                if let cpu, c != Int64(cpu) { continue }
                if let vector, r.vector.flatMap({ batch.number(i, $0) }) != Int64(vector) { continue }
                if let irq, r.irq.flatMap({ batch.number(i, $0) }) != Int64(irq) { continue }
                out += pad(batch.eventIndex(i), 8) + "  "
                out += reader.metadata.clock == .none ? "-" : "+" + seconds(t - start!)
                out += "  " + (c.map { "cpu \($0)" } ?? "cpu -") + "  " + template.name + "  "
                if fields, let b = template.binding {
                    out += zip(b.schema.fields, b.sources).map { f, src in "\(f.name)=\(batch.text(i, src, template: template))" }
                        .joined(separator: " ")
                } else {
                    line.removeAll(keepingCapacity: true)
                    LinePrinter.appendBody(i, of: batch, template: template, to: &line)
                    out += String(decoding: line, as: UTF8.self)
                }
                out += "\n"
                shown += 1
                if out.utf8.count > 1 << 16 { Console.out(out); out = "" }
                if limit.map({ shown >= $0 }) == true { break }
            }
        }
        Console.out(out)
    }

    func parseTime(_ s: String, _ option: String) throws -> TimeSpec {
        guard let t = TimeSpec(s) else {
            throw ValidationError("\(option) \(s): expected SECONDS[.FRACTION], or a number with ns/us/ms/s, optionally with a leading '+'")
        }
        return t
    }
}
