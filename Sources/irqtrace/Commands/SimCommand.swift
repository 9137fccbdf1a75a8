import ArgumentParser
import Simulator
import TraceFormat

struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Simulate a scenario on irqtrace's models, with injected faults recorded as ground truth.",
        discussion: """
        SCENARIO is a shipped scenario name (--list) or a scenario JSON file (docs/SIMULATOR.md).
        --fault NAME[:at=TIME,count=N,every=TIME] injects a fault kind; `irqtrace info OUT --json` lists
        what was injected under "ground_truth".
        """)

    @Argument(help: "Scenario name or JSON file.")
    var scenario: String?

    @Option(name: .long, help: ArgumentHelp("Inject a fault: NAME[:at=TIME,count=N,every=TIME] (repeatable).", valueName: "fault"))
    var fault: [String] = []

    @Option(name: .long, help: "Random seed (same seed, same trace).")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Stop after this many events.")
    var events: Int?

    @Option(name: .long, help: ArgumentHelp("Simulated run length (e.g. 200ms, 2s); default: the scenario's.", valueName: "time"))
    var duration: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Output .irqt file ('-' for standard output).", valueName: "file"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp("The vocabulary written: kvm-vmx or qemu-x86 (x86_64), qemu-gic or kvm-arm64 (arm64); default: the scenario's \"output\", else the platform's first (-o/--output names the file).", valueName: "name"))
    var vocabulary: String?

    @Option(name: .long, help: "zstd compression level (1-22).")
    var level: Int32 = 3

    @Option(name: .long, help: "Target chunk size before compression, in bytes.")
    var chunkSize = 1 << 20

    @Flag(name: .long, help: "List the shipped scenarios and the fault kinds.")
    var list = false

    @Flag(name: .long, help: "Print the scenario's JSON instead of running it.")
    var showScenario = false

    @Flag(name: .long, help: "JSON output (--list, or the run's summary).")
    var json = false

    func validate() throws {
        if list || showScenario { return }
        guard scenario != nil else { throw ValidationError("give a SCENARIO (irqtrace sim --list shows them)") }
        guard output != nil else { throw ValidationError("-o OUT.irqt is required") }
        guard (1...22).contains(level) else { throw ValidationError("--level must be 1...22") }
        guard chunkSize >= 1024 && chunkSize <= Layout.maxChunkBytes / 2 else { throw ValidationError("--chunk-size must be 1024...\(Layout.maxChunkBytes / 2)") }
        if let events, events < 1 { throw ValidationError("--events must be positive") }
        if events != nil && duration != nil { throw ValidationError("give --events or --duration, not both") }
        if let duration, TimeSpec(duration).map({ $0.nanoseconds > 0 && !$0.relative }) != true {
            throw ValidationError("--duration \(duration): expected a time such as 200ms or 2s")
        }
        if json && output == "-" { throw ValidationError("--json and -o - both write to standard output") }
    }

    func run() throws {
        if list { return printList() }
        var s = try BuiltinScenarios.resolve(scenario!)
        if let vocabulary {
            let names = Simulator.outputs(arch: s.platform.arch)
            guard names.contains(vocabulary) else {
                throw IrqtraceError("--vocabulary \(vocabulary) is not written for \(s.platform.arch) (scenario \(s.name))",
                                    hint: "\(s.platform.arch) outputs: \(names.joined(separator: ", "))")
            }
            s.output = vocabulary
        }
        if showScenario { Console.out(s.jsonText()); return }
        let faults = try fault.map { try FaultRequest(parsing: $0) }
        var o = Simulator.Options(scenario: s, faults: faults, seed: seed, events: events,
                                  durationNs: duration.flatMap { TimeSpec($0)?.nanoseconds }, level: level,
                                  commandLine: ["irqtrace"] + CommandLine.arguments.dropFirst())
        o.chunkSize = chunkSize
        o.output = vocabulary
        let result = try Simulator.run(o, to: try OutputFile(path: output!))
        let truth = result.metadata.groundTruth ?? []
        for f in faults where !truth.contains(where: { $0.fault == f.kind.name }) {
            Console.warning("fault \(f.kind.name) found no occasion to fire in this run (try a longer run, another seed or at=TIME)")
        }
        if json {
            let v: JSONValue = .object([
                ("output", .string(output!)), ("scenario", .string(s.name)), ("seed", .int(Int(truncatingIfNeeded: seed))),
                ("vocabulary", .string(result.metadata.simulation?.output ?? "")),
                ("events", .int(result.events)), ("bytes", .int(result.bytes)), ("simulated_ns", .int(result.simulatedNs)),
                ("ground_truth", .int(truth.count)),
            ])
            Console.out(v.serialized(pretty: true) + "\n")
        } else {
            Console.note("simulated \(s.name) as \(result.metadata.simulation?.output ?? "?") (seed \(seed)): \(result.events) events over \(seconds(result.simulatedNs)) s into \(output!): "
                + "\(result.bytes) bytes; \(truth.count) fault\(truth.count == 1 ? "" : "s") injected")
        }
    }

    func printList() {
        if json {
            let v: JSONValue = .object([
                ("scenarios", .array(BuiltinScenarios.all.map { .string($0.name) })),
                ("outputs", .array(Simulator.outputDescriptions.map { o in
                    .object([("name", .string(o.name)), ("arch", .string(o.arch)), ("summary", .string(o.summary)),
                             ("scenarios", .array(BuiltinScenarios.all.filter { $0.platform.arch == o.arch }.map { .string($0.name) }))])
                })),
                ("faults", .array(FaultCatalog.all.map { f in
                    .object([("name", .string(f.name)), ("platform", .string(f.platform)), ("scenario", .string(f.scenario)),
                             ("expect", .string(f.expect)), ("replay", .string(f.replay)), ("bugs", .array(f.bugs.map { .int($0) })),
                             ("summary", .string(f.summary)),
                             ("outputs", .object(f.outputs.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
                             ("not_expressible", .object(f.notExpressible.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))])
                })),
            ])
            Console.out(v.serialized(pretty: true) + "\n")
            return
        }
        var s = "scenarios:\n"
        for sc in BuiltinScenarios.all { s += "  \(sc.name)\n      \(sc.description)\n" }
        s += "outputs (--vocabulary NAME or the scenario's \"output\"):\n"
        for o in Simulator.outputDescriptions { s += "  \(o.name)  [\(o.arch)]\n      \(o.summary)\n" }
        s += "faults (name, platform, a scenario, expected finding, real-bugs.md rows, outputs that show it):\n"
        for f in FaultCatalog.all {
            s += "  \(f.name)  [\(f.platform), \(f.scenario), \(f.expect), \(f.bugs.isEmpty ? "no real-bugs.md row" : "bugs " + f.bugs.map(String.init).joined(separator: ",")), \(f.outputs.keys.sorted().joined(separator: " "))]\n      \(f.summary)\n"
            for (o, why) in f.notExpressible.sorted(by: { $0.key < $1.key }) { s += "      not in \(o): \(why)\n" }
        }
        Console.out(s)
    }
}
