import ArgumentParser
import Recorder
import TraceFormat

struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Count events by name, CPU, vector and IRQ.")

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Flag(name: .long, help: "JSON output (docs/CLI.md).")
    var json = false

    func run() throws {
        let reader = try source.open()
        let stats = try TraceStats.collect(reader)
        if json {
            Console.out(stats.json().serialized(pretty: true) + "\n")
            return
        }
        var s = "events: \(stats.events) (\(stats.typedEvents) with typed fields)\n"
        if let a = stats.firstTime, let b = stats.lastTime, reader.metadata.clock != .none {
            s += "span:   \(seconds(b - a)) s\n"
        }
        s += "\nby name:\n"
        for (name, n) in stats.byName.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
            s += "  " + pad(n, 9) + "  " + name + "\n"
        }
        func table(_ title: String, _ d: [Int64: Int]) {
            guard !d.isEmpty else { return }
            s += "\n\(title):\n"
            for (k, n) in d.sorted(by: { $0.key < $1.key }) { s += "  " + pad(Int(k), 6) + "  " + pad(n, 9) + "\n" }
        }
        table("by cpu", stats.byCPU)
        if stats.cpuUnknown > 0 { s += "  (\(stats.cpuUnknown) events name no cpu)\n" }
        table("by vector", stats.byVector)
        table("by irq/pin/gsi", stats.byIRQ)
        Console.out(s)
    }
}
