import ArgumentParser
import Recorder
import Replayer
import TraceFormat

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-drive the interrupt models from a trace; with --check, report where the system disagrees with them.",
        discussion: "Exit status: 0 every checked observation agrees, 1 divergences, 2 usage or input error.")

    @OptionGroup var source: TraceArgument
    var trace: String { source.trace }

    @Flag(help: "Check the trace's observations against the models.") var check = false
    @Flag(help: "JSON output (docs/CLI.md).") var json = false
    @Option(help: "Divergences to show in full (human output).") var show = 5
    @Option(name: .customLong("state-at"), help: "Print every model's state just before this time (SECONDS[.FRACTION], or +N s/ms/us/ns from the first event) instead of checking.")
    var stateAt: String?
    @Option(help: "Check only observations at or after this time (the models run from the latest stored snapshot before it, else from the first event).") var from: String?
    @Option(help: "Check only observations before this time.") var to: String?
    @Flag(help: "With --check over the whole trace: store snapshots of the replay state at chunk boundaries in TRACE.snapshots (or $XDG_CACHE_HOME/irqtrace/), so --from and --state-at start near their time. Off by default: a plain --check writes nothing beside the trace and pays nothing.")
    var snapshots = false
    @Option(name: .customLong("snapshot-every"), help: "With --snapshots: a snapshot after every K chunks (default: as many as fit in 5% of the trace's size).")
    var snapshotEvery: Int?
    @Flag(name: .customLong("no-snapshots"), help: "Neither read nor write snapshots: every replay starts at the first event.") var noSnapshots = false
    @Flag(name: .customLong("mid-flight"), help: "The trace starts mid-flight (e.g. a copy of tracefs `trace` from a running host): adopt state from before it instead of reporting it (x86 KVM). Live recordings say so in their header.") var midFlight = false

    func validate() throws {
        if snapshots && noSnapshots { throw ValidationError("--snapshots and --no-snapshots exclude each other") }
        if let k = snapshotEvery, k < 1 { throw ValidationError("--snapshot-every \(k): expected a number of chunks, 1 or more") }
    }

    func run() throws {
        let reader = try source.open()
        // Written only when asked (a side file and ~20% more time are not every replay's business); read when current.
        let snapshotOptions = SnapshotOptions(read: !noSnapshots, write: !noSnapshots && (snapshots || snapshotEvery != nil),
                                              every: snapshotEvery)
        if let stateAt {
            guard reader.metadata.clock != .none else {
                throw IrqtraceError("--state-at needs a trace with timestamps", path: trace, hint: "record QEMU with -msg timestamp=on")
            }
            guard let spec = TimeSpec(stateAt) else { throw ValidationError("--state-at \(stateAt): expected SECONDS[.FRACTION] or a number with ns/us/ms/s") }
            let first = try reader.chunks.indices.first { reader.chunks[$0].isIntact }.map { try reader.decodeChunk($0).times.first ?? 0 } ?? 0
            let (report, machine) = try Replayer.run(reader, until: spec.resolve(start: first), midFlight: midFlight,
                                                     snapshots: snapshotOptions, note: { Console.note($0) })
            if json {
                // (A trace of several VMs: the state is the VM's running then.)
                let vm = report.vmList.flatMap { VMInfo.of(event: report.events - 1, in: $0) }
                Console.out(JSONValue.object([("events", .int(report.events)), ("time_ns", .int(spec.resolve(start: first)))]
                                             + (vm.map { [("vm", JSONValue.int($0.number))] } ?? [])
                                             + [("state", machine.stateJSON())]).serialized(pretty: true) + "\n")
            } else {
                let vm = report.vmList.flatMap { VMInfo.of(event: report.events - 1, in: $0) }
                Console.out("state after \(report.events) events (\(report.adapter) adapter)"
                            + (vm.map { ", in \($0.label) of \(report.vmList!.count)" } ?? "") + ":\n" + machine.stateDescription)
            }
            return
        }
        var report: ReplayReport
        if from != nil || to != nil {
            guard reader.metadata.clock != .none else {
                throw IrqtraceError("--from/--to need a trace with timestamps", path: trace, hint: "record QEMU with -msg timestamp=on")
            }
            let first = try reader.chunks.indices.first { reader.chunks[$0].isIntact }.map { try reader.decodeChunk($0).times.first ?? 0 } ?? 0
            func resolve(_ text: String?, _ name: String) throws -> Int64? {
                guard let text else { return nil }
                guard let spec = TimeSpec(text) else { throw ValidationError("--\(name) \(text): expected SECONDS[.FRACTION] or a number with ns/us/ms/s") }
                return spec.resolve(start: first)
            }
            let (start, end) = (try resolve(from, "from"), try resolve(to, "to"))
            report = try Replayer.check(reader, from: start, to: end, midFlight: midFlight, snapshots: snapshotOptions, note: { Console.note($0) })
        } else {
            report = try Replayer.check(reader, midFlight: midFlight, snapshots: snapshotOptions, note: { Console.note($0) })
        }
        if json {
            Console.out(report.json().serialized(pretty: true) + "\n")
        } else {
            var s = "replayed \(report.events) events with the \(report.adapter) adapter (\(report.behaviour) rules)\n"
            if let list = report.vmList { s += "VMs: \(VMInfo.summary(list)); each replayed from its own reset\n" }
            let pct = report.observationsTotal > 0 ? format(100 * Double(report.observationsChecked) / Double(report.observationsTotal), 1) : "-"
            s += "observations: \(report.observationsChecked) of \(report.observationsTotal) checked (\(pct)%)\n"
            for (name, n) in report.unchecked.sorted(by: { $0.value > $1.value }) { s += "  unchecked: \(n) \(name)\n" }
            if report.reordered > 0 { s += "  \(report.reordered) agree once events on different CPUs are reordered (per-CPU trace clocks)\n" }
            for w in report.warnings ?? [] { s += Style.yellow("warning: ") + w + "\n" }
            s += "divergences: " + (report.divergenceCount == 0 ? Style.green("0") : Style.red(String(report.divergenceCount)))
                + (report.divergencesNotKept > 0 ? " (\(report.divergences.count) kept in full, the rest counted)" : "") + "\n"
            for d in report.divergences.prefix(show) {
                s += "\n#\(d.eventIndex)  \(d.what)\n  expected: \(d.expected)\n  observed: \(d.observed)\n"
                if !d.state.isEmpty { s += "  state:    \(d.state)\n" }
                s += try context(reader, d.eventIndex)
            }
            s += "digest: \(String(report.digest, radix: 16))\n"
            Console.out(s)
        }
        if check && report.divergenceCount > 0 { throw ExitCode(1) }
    }

    /// The events just before a divergence, as the source printed them.
    func context(_ reader: TraceReader, _ index: Int) throws -> String {
        guard index >= 0 else { return "" }
        var out = ""
        var line: [UInt8] = []
        for k in max(0, index - 4)...index {
            guard let c = reader.chunk(containingEvent: k) else { continue }
            let b = try reader.decodeChunk(c)
            let i = k - b.firstEventIndex
            line.removeAll()
            LinePrinter.append(i, of: b, template: reader.catalog[b.templates[i]], to: &line)
            out += (k == index ? "  > " : "    ") + String(decoding: line, as: UTF8.self) + "\n"
        }
        return out
    }
}
