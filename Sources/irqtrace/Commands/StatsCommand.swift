import Analyzer
import Foundation
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

    @Flag(name: .long, help: "Also latency distributions per vCPU and vector (raise → accept → deliver → EOI), from a replay (x86 KVM traces).")
    var latency = false

    func run() throws {
        let reader = try source.open()
        let stats = try TraceStats.collect(reader)
        let lat = latency ? try Latency.measure(reader) : nil
        if json {
            var v = stats.json()
            if let lat, case .object(var fields) = v { fields.append(("latency", lat.json())); v = .object(fields) }
            Console.out(v.serialized(pretty: true) + "\n")
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
        if let lat {
            func us(_ ns: Int64) -> String { format(Double(ns) / 1000, 1) }
            func h(_ x: Histogram) -> String {
                x.count == 0 ? "-" : "\(x.count) × p50 \(us(x.percentile(0.5))) p99 \(us(x.percentile(0.99))) max \(us(x.max))"
            }
            s += "\nlatency (µs; percentiles within 12.5%):\n  cpu vector  accept→deliver                              deliver→EOI\n"
            for e in lat.entries {
                s += "  " + pad(e.cpu, 3) + " " + pad(e.vector, 6) + "  " + h(e.acceptToDeliver).padding(toLength: 42, withPad: " ", startingAt: 0) + "  " + h(e.deliverToEOI) + "\n"
            }
        }
        Console.out(s)
    }
}
