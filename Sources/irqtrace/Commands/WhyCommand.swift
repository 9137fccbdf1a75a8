import Analyzer
import Foundation
import ArgumentParser
import TraceFormat

struct WhyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "why",
        abstract: "Follow one interrupt (a vector at a vCPU, or an IOAPIC pin) and say where it stopped.",
        discussion: """
        Walks line → route (RTE, Remote IRR) → message → LAPIC (IRR, TPR, PPR) → delivery → EOI at --at
        (default: the end of the trace), with the events that prove each step. x86 KVM traces.
        """)

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Option(name: .long, help: "The vCPU (x86 KVM: its APIC ID).")
    var cpu: Int

    @Option(name: .long, help: "The vector.")
    var vector: Int?

    @Option(name: .long, help: "The IOAPIC pin (its RTE gives the vector).")
    var irq: Int?

    @Option(name: .long, help: ArgumentHelp("The moment: SECONDS[.FRACTION] as the trace prints times, or +TIME from the first event.", valueName: "time"))
    var at: String?

    @Flag(name: .long, help: "JSON output: {\"cpu\", \"vector\", \"irq\", \"at_ns\", \"steps\": [{\"stage\", \"ok\", \"text\", \"events\"}], \"conclusion\"}.")
    var json = false

    func validate() throws {
        guard (vector == nil) != (irq == nil) else { throw ValidationError("give --vector or --irq") }
        if let vector, !(0...255).contains(vector) { throw ValidationError("--vector must be 0–255") }
        if let at, TimeSpec(at) == nil { throw ValidationError("--at \(at): expected SECONDS[.FRACTION] or a time with ns/us/ms/s") }
    }

    func run() throws {
        let reader = try source.open()
        var atNs: Int64? = nil
        if let at, let spec = TimeSpec(at) {
            let first = reader.chunks.filter(\.isIntact).map(\.minTime).min() ?? 0
            atNs = spec.resolve(start: first)
        }
        let r = try Why.explain(reader, cpu: cpu, vector: vector, irq: irq, at: atNs)
        if json {
            Console.out(r.json().serialized(pretty: true) + "\n")
            return
        }
        var s = "vCPU \(cpu)" + (r.vector.map { " vector \($0)" } ?? "") + (r.irq.map { " (IOAPIC pin \($0))" } ?? "") + " at \(seconds(r.atNs)):\n"
        for step in r.steps {
            s += "  \(step.ok ? "ok  " : "STOP") \(step.stage.padding(toLength: 9, withPad: " ", startingAt: 0)) \(step.text)"
            s += step.events.isEmpty ? "\n" : "  [events \(step.events.map(String.init).joined(separator: ", "))]\n"
        }
        s += "=> \(r.conclusion)\n"
        Console.out(s)
    }
}
