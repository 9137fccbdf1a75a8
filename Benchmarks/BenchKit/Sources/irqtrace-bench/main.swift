// irqtrace-bench: plain timing of the irqtrace benchmark workloads, without package-benchmark.
//
//   irqtrace-bench [all|import|encode|decode|breakdown] [--iterations N]
//                  [--import-mb MB] [--encode-rounds R] [--decode-rounds R]
//   irqtrace-bench write-decode-input FILE [--decode-rounds R]   (an .irqt for profiling)
//   irqtrace-bench decode-file FILE [--iterations N]             (small decode loop for valgrind/perf)
//   irqtrace-bench import-tracedat [FILE] [--iterations N]       (trace.dat record, decode, trace-cmd report; CPU s)
//   irqtrace-bench decode-tracedat FILE [--iterations N]         (trace.dat decode alone, for perf)
//   irqtrace-bench sim [EVENTS [SCENARIO[:OUTPUT]]] [--iterations N] (simulator rates; one scenario/pair)
//   irqtrace-bench sim-digest [EVENTS [SEED]]   (a digest of every scenario/output's trace: byte-identity checks)
//   irqtrace-bench sim-generate EVENTS SCENARIO[:OUTPUT] [--iterations N]  (generation alone, for perf)
//
// A round is all of traces/*.log.zst decompressed and concatenated (~8.1 MB, ~121.5k events).
import BenchKit
import Foundation
import Recorder
import Analyzer
import Replayer
import Simulator
import TraceFormat

/// Unbuffered, so progress shows through pipes.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func option(_ name: String, _ fallback: Int, in args: inout [String]) -> Int {
    guard let k = args.firstIndex(of: name) else { return fallback }
    guard k + 1 < args.count, let v = Int(args[k + 1]) else {
        FileHandle.standardError.write(Data("irqtrace-bench: \(name) needs a whole number\n".utf8))
        exit(2)
    }
    args.removeSubrange(k...k + 1)
    return v
}
struct Options {
    var iterations = 0, importMB = 50, encodeRounds = 20, decodeRounds = 60
    var command = "all"
    var rest: [String] = []
    init(_ arguments: [String]) {
        var args = arguments
        iterations = option("--iterations", 0, in: &args)
        importMB = option("--import-mb", 50, in: &args)
        encodeRounds = option("--encode-rounds", 20, in: &args)
        decodeRounds = option("--decode-rounds", 60, in: &args)
        command = args.first ?? "all"
        rest = Array(args.dropFirst())
    }
}
let options = Options(Array(CommandLine.arguments.dropFirst()))
let iterationsOption = options.iterations
let importMB = options.importMB
let encodeRounds = options.encodeRounds
let decodeRounds = options.decodeRounds
let command = options.command
let args = [command] + options.rest

func iterations(_ fallback: Int) -> Int { iterationsOption > 0 ? iterationsOption : fallback }

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fmt(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

func rate(_ perSecond: Double, _ unit: String) -> String {
    perSecond >= 1e6 ? "\(fmt(perSecond / 1e6)) M \(unit)" : perSecond >= 1e3 ? "\(fmt(perSecond / 1e3)) k \(unit)" : "\(fmt(perSecond)) \(unit)"
}

/// Runs `body` `n` times; returns all wall times.
func repeatTimed(_ n: Int, _ body: () throws -> Void) rethrows -> [Double] {
    var out: [Double] = []
    for _ in 0..<n { out.append(try Workloads.time(body)) }
    return out
}

func machine() -> String {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" } ?? "?"
    return "\(cores) cores, \(model)"
}

func runImport() throws {
    let input = try Workloads.makeImportInput(approximateBytes: importMB * 1_000_000)
    defer { unlink(input.path) }
    var result: RecordResult? = nil
    _ = try Workloads.importLog(input) // warm-up (page cache, allocator)
    let times = try repeatTimed(iterations(3)) { result = try Workloads.importLog(input) }
    let best = times.min()!, med = median(times)
    let r = result!
    say("import.qemuLog: \(fmt(Double(input.bytes) / 1e6)) MB of text (\(input.rounds) rounds), \(r.events) events -> "
          + "\(r.bytesWritten) bytes .irqt; \(times.count) runs, best \(fmt(best, 3)) s, median \(fmt(med, 3)) s")
    say("  import.qemuLog MB/s: \(fmt(Double(input.bytes) / 1e6 / med)) (median), \(fmt(Double(input.bytes) / 1e6 / best)) (best); "
          + "events/s: \(rate(Double(r.events) / med, "events/s")) (median)")
}



/// ftrace text import at zstd 3 and 19 (the import goal for ftrace text is >= 200 MB/s per core), of
/// the real KVM recordings repeated, or of FILE (e.g. a `trace-cmd report` of a large recording).
func runFtraceImport(_ file: String?) throws {
    let input: Workloads.ImportInput
    if let file {
        input = Workloads.ImportInput(path: file, bytes: (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0, rounds: 1)
    } else {
        input = try Workloads.makeFtraceImportInput(approximateBytes: importMB * 1_000_000)
    }
    defer { if file == nil { unlink(input.path) } }
    for level: Int32 in [3, 19] {
        var result: RecordResult? = nil
        _ = try Workloads.importLog(input, level: level)
        let times = try repeatTimed(iterations(3)) { result = try Workloads.importLog(input, level: level) }
        let best = times.min()!, med = median(times)
        let r = result!
        say("import.ftraceText zstd \(level): \(fmt(Double(input.bytes) / 1e6)) MB of text, \(r.events) events -> \(r.bytesWritten) bytes; "
              + "\(times.count) runs, best \(fmt(best, 3)) s, median \(fmt(med, 3)) s")
        say("  import.ftraceText zstd \(level) MB/s: \(fmt(Double(input.bytes) / 1e6 / med)) (median), \(fmt(Double(input.bytes) / 1e6 / best)) (best); "
              + "events/s: \(rate(Double(r.events) / med, "events/s")) (median)")
    }
}

/// replay --check of the real q35 + VT-d QEMU trace repeated `rounds` times (goal: >= 20 M events/s per core).
func runReplay(rounds: Int = 100) throws {
    let one = try Samples.decompressed(Samples.tracesDirectory + "/qemu-x86-q35-intremap-smp2.log.zst")
    // Each copy after the first as a reboot: QEMU's system reset resets every LAPIC and the
    // delivered counter (apic_reset_common, traced as apic_reset_irq_delivered, one per vCPU).
    let reset = Array("8073@1795617355.000000:apic_reset_irq_delivered old coalescing 0\n".utf8)
    var text: [UInt8] = []
    for k in 0..<rounds { if k > 0 { text += reset + reset }; text += one }
    let path = try Samples.writeTemporary(text, name: "replay.log")
    defer { unlink(path) }
    let out = OutputFile()
    _ = try Recorder.record(inputs: [path], to: out, options: RecordOptions(level: 3))
    let data = Data(out.memory)
    var report: ReplayReport? = nil
    let times = try repeatTimed(iterations(5)) { report = try Replayer.check(try TraceReader(data: data, path: "<bench>")) }
    let r = report!
    say("replay.check qemu-x86: \(r.events) events, \(r.observationsChecked) observations checked, \(r.divergences.count) divergences; "
          + "median \(fmt(median(times), 3)) s, \(rate(Double(r.events) / median(times), "events/s"))")
}

/// CPU seconds of the calling thread (CLOCK_THREAD_CPUTIME_ID).
func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Simulator throughput per scenario and output: generation alone (chunks dropped), with zstd 3
/// encoding and writing (to memory; the encoding runs on a second thread, so the simulating
/// thread's CPU time is the rate with a free second core), and the replay of what it wrote.
/// `only` ("SCENARIO" or "SCENARIO:OUTPUT") runs one scenario, or one pair, alone (for profiling).
func runSim(events: Int, only: String? = nil) throws {
    let pick = only.map { $0.split(separator: ":", maxSplits: 1).map(String.init) }
    for base in BuiltinScenarios.all where pick == nil || pick![0] == base.name {
        for output in Simulator.outputs(arch: base.platform.arch) where pick == nil || pick!.count < 2 || pick![1] == output {
            var s = base
            s.output = output
            // Not every scenario can be written in every vocabulary of its platform (x86-posted: kvm-vmx only).
            do { try s.validate() } catch { say("sim \(s.name) as \(output): not simulated (\(error))"); continue }
            var o = Simulator.Options(scenario: s, seed: 1, events: events, level: 3)
            o.discardChunks = true
            var n = 0
            let gen = try repeatTimed(iterations(3)) { n = try Simulator.run(o, to: OutputFile()).events }
            o.discardChunks = false
            var bytes: [UInt8] = []
            var producer: [Double] = []
            let full = try repeatTimed(iterations(3)) {
                let out = OutputFile()
                let c0 = threadCPUSeconds()
                n = try Simulator.run(o, to: out).events
                producer.append(threadCPUSeconds() - c0)
                bytes = out.memory
            }
            let data = Data(bytes)
            var r: ReplayReport? = nil
            let rep = try repeatTimed(iterations(3)) { r = try Replayer.check(try TraceReader(data: data, path: "<sim>")) }
            say("sim \(s.name) as \(output): \(n) events; generate \(rate(Double(n) / median(gen), "events/s")), generate+zstd3 \(rate(Double(n) / median(full), "events/s")) wall, "
                + "simulating thread \(rate(Double(n) / median(producer), "events/s")) "
                + "(\(fmt(Double(bytes.count) / Double(n), 3)) B/event); replay --check \(rate(Double(n) / median(rep), "events/s")), \(r!.divergences.count) divergences")
        }
    }
}

/// Generation alone (chunks dropped) of one scenario as one output, `iterations` times: a loop for perf.
func runSimGenerate(events: Int, pair: String) throws {
    let p = pair.split(separator: ":", maxSplits: 1).map(String.init)
    guard var s = BuiltinScenarios.all.first(where: { $0.name == p[0] }) else { throw BenchError("no scenario \(p[0])") }
    if p.count == 2 { s.output = p[1] }
    var o = Simulator.Options(scenario: s, seed: 1, events: events, level: 3)
    o.discardChunks = true
    var n = 0
    let t = try cpuTimed(iterations(5)) { n = try Simulator.run(o, to: OutputFile()).events }
    say("sim-generate \(pair): \(n) events; CPU s per run: \(t.map { fmt($0, 3) }.joined(separator: " ")); median \(rate(Double(n) / median(t), "events/s"))")
}

/// A digest (FNV-1a 64) of the trace every scenario writes in every output it allows, seed `seed`:
/// to check that a change to the simulator left its output byte-identical.
func runSimDigest(events: Int, seed: UInt64) throws {
    for base in BuiltinScenarios.all {
        for output in Simulator.outputs(arch: base.platform.arch) {
            var s = base
            s.output = output
            do { try s.validate() } catch { continue }
            let out = OutputFile()
            let n = try Simulator.run(Simulator.Options(scenario: s, seed: seed, events: events, level: 3), to: out).events
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in out.memory { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            say("sim-digest \(s.name) as \(output): \(n) events, \(out.memory.count) bytes, fnv1a \(String(h, radix: 16))")
        }
    }
    // Every fault kind in every output that shows it (the runs analyze-faults scores).
    for kind in FaultCatalog.all { for output in kind.outputs.keys.sorted() {
        var o = Simulator.Options(scenario: BuiltinScenarios.named(kind.scenario)!, faults: [try FaultRequest(parsing: kind.name)], seed: seed, level: 1)
        o.output = output
        let out = OutputFile()
        let n = try Simulator.run(o, to: out).events
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in out.memory { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        say("sim-digest fault \(kind.name) (\(kind.scenario) as \(output)): \(n) events, \(out.memory.count) bytes, fnv1a \(String(h, radix: 16))")
    } }
}

/// The analyzers against the simulator's ground truth: every fault kind over `seeds` seeds, each
/// scored (kind, cpu, vector/irq; warning and error findings), plus clean runs of every scenario.
func runAnalyzeFaults(seeds: Int) throws {
    var allPerfect = true
    // Each fault in every output that can show it (its scenario written in that vocabulary).
    for kind in FaultCatalog.all { for output in kind.outputs.keys.sorted() {
        var truth = 0, findings = 0, matched = 0, fired = 0
        var notes: [String] = []
        for seed in 1...seeds {
            var o = Simulator.Options(scenario: BuiltinScenarios.named(kind.scenario)!, faults: [try FaultRequest(parsing: kind.name)], seed: UInt64(seed), level: 1)
            o.output = output
            let out = OutputFile()
            _ = try Simulator.run(o, to: out)
            let reader = try TraceReader(data: Data(out.memory), path: "<sim>")
            let gt = reader.metadata.groundTruth ?? []
            if gt.contains(where: { $0.causedBy == nil }) { fired += 1 }
            let report = try Analyzer.analyze(reader)
            let s = Score(findings: report.findings, truth: gt)
            truth += s.truth; findings += s.findings; matched += s.matched
            if s.matched != s.truth || s.matched != s.findings, notes.count < 3 {
                notes.append("seed \(seed): missed \(s.missed.map { "\($0.expect) cpu \($0.cpu) v \($0.vector ?? -1) irq \($0.irq ?? -1)" }) spurious \(s.spurious.map { "\($0.kind.rawValue) cpu \($0.cpu ?? -1) v \($0.vector ?? -1) irq \($0.irq ?? -1)" })")
            }
        }
        let p = findings == 0 ? 1 : Double(matched) / Double(findings), r = truth == 0 ? 1 : Double(matched) / Double(truth)
        if p < 1 || r < 1 || fired < seeds { allPerfect = false }
        say("analyze \(kind.name) (\(kind.scenario) as \(output), expect \(kind.expect)): fired in \(fired)/\(seeds) seeds; ground truth \(truth) (with consequences), findings \(findings), matched \(matched): precision \(fmt(p * 100, 1))%, recall \(fmt(r * 100, 1))%")
        for n in notes { say("    \(n)") }
    } }
    for s in BuiltinScenarios.all {
        var noisy = 0
        for seed in 1...seeds {
            let out = OutputFile()
            _ = try Simulator.run(Simulator.Options(scenario: s, seed: UInt64(seed), level: 1), to: out)
            let report = try Analyzer.analyze(try TraceReader(data: Data(out.memory), path: "<sim>"))
            if report.findings.contains(where: { $0.severity >= .warning }) { noisy += 1 }
        }
        if noisy > 0 { allPerfect = false }
        say("analyze clean \(s.name): \(seeds - noisy)/\(seeds) seeds without warning or error findings")
    }
    say(allPerfect ? "all fault kinds: precision and recall 100%" : "NOT all perfect")
}

/// Analyzer throughput on a simulated trace of `events` events (written once to a file, then analyzed).
func runAnalyzeSpeed(events: Int, scenario: String) throws {
    let path = "/tmp/irqtrace-bench-analyze-\(scenario)-\(events).irqt"
    if !FileManager.default.fileExists(atPath: path) {
        _ = try Simulator.run(Simulator.Options(scenario: BuiltinScenarios.named(scenario)!, seed: 1, events: events, level: 3), to: try OutputFile(path: path))
    }
    let reader = try TraceReader(path: path)
    var report: AnalysisReport? = nil
    let times = try repeatTimed(iterations(3)) { report = try Analyzer.analyze(reader) }
    say("analyze \(scenario): \(report!.events) events, \(report!.findings.count) findings; median \(fmt(median(times), 2)) s = \(rate(Double(report!.events) / median(times), "events/s"))")
}

/// INTIDs the real GICv2 samples acknowledge (the mutation of a priority matters only for them).
let gicUsedINTIDs: Set<Int> = {
    var used = Set<Int>()
    for name in ["qemu-arm64-virt-gicv2-smp2.log.zst", "qemu-arm64-virt-gicv2-el2-smp2.log.zst"] {
        guard let bytes = try? Samples.decompressed(Samples.tracesDirectory + "/" + name) else { continue }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.contains("acknowledged irq ") {
            if let n = Int(line.split(separator: " ").last ?? ""), n < 1020 { used.insert(n) }
        }
    }
    return used
}()

/// Mutation test of replay --check on real traces: single events deleted or altered at random
/// points (seeded), each trace replayed; prints the detected fraction per kind of mutation.
func runMutations(samplesPerKind: Int = 40, only: String? = nil) throws {
    struct Kind { var name: String; var match: String; var change: (String) -> String? }
    func bump(_ field: String) -> (String) -> String? {
        { line in
            guard let r = line.range(of: field + #" (0x)?[0-9a-f]+"#, options: .regularExpression) else { return nil }
            let token = line[r].dropFirst(field.count + 1)
            let hex = token.hasPrefix("0x")
            guard let v = Int(hex ? String(token.dropFirst(2)) : String(token), radix: hex ? 16 : 10) else { return nil }
            return line.replacingCharacters(in: r, with: field + " " + (hex ? "0x" + String(v ^ 0x1, radix: 16) : String(v + 1)))
        }
    }
    let delete: (String) -> String? = { _ in "" }
    let qemuX86: [Kind] = [
            Kind(name: "pin assert deleted (ioapic_set_irq level 1)", match: "ioapic_set_irq vector: ", change: { $0.hasSuffix("level: 1") ? "" : nil }),
            Kind(name: "RTE write altered (ioapic_mem_write val)", match: "ioapic_mem_write ioapic mem write addr 0x10", change: bump("val")),
            Kind(name: "IRTE contents altered (vtd_ir_irte_get)", match: "vtd_ir_irte_get", change: { l in l.replacingOccurrences(of: "high 0x1", with: "high 0x3") }),
            Kind(name: "remapped field altered (vtd_ir_remap vector)", match: "vtd_ir_remap index", change: bump("vector")),
            Kind(name: "remapping result deleted (vtd_ir_remap_msi)", match: "vtd_ir_remap_msi (", change: delete),
            Kind(name: "delivered vector altered (apic_deliver_irq)", match: "apic_deliver_irq", change: bump("vector")),
            Kind(name: "Remote IRR report deleted (ioapic_set_remote_irr)", match: "ioapic_set_remote_irr", change: delete),
            Kind(name: "EOI at the IOAPIC deleted (ioapic_eoi_broadcast)", match: "ioapic_eoi_broadcast", change: delete),
            Kind(name: "LAPIC EOI write deleted (apic_mem_writel 0xb0)", match: "apic_mem_writel 0xb0", change: delete),
            Kind(name: "delivered-counter report altered (apic_report_irq_delivered)", match: "apic_report_irq_delivered", change: bump("coalescing")),
            Kind(name: "delivered-counter report deleted (apic_report_irq_delivered)", match: "apic_report_irq_delivered", change: delete),
            Kind(name: "LAPIC register read altered (apic_mem_readl, bit 8)", match: "apic_mem_readl", change: { l in
                guard let r = l.range(of: #"0x[0-9a-f]{8}$"#, options: .regularExpression), let v = UInt32(l[r].dropFirst(2), radix: 16) else { return nil }
                return l.replacingCharacters(in: r, with: "0x" + String(format: "%08x", v ^ 0x100))
            }),
    ]
    let sets: [(String, [String], [Kind])] = [
        ("QEMU x86 q35+VT-d", [Samples.tracesDirectory + "/qemu-x86-q35-intremap-smp2.log.zst", Samples.tracesDirectory + "/qemu-x86-pc-nomsi-smp2-notimestamp.log.zst", Samples.tracesDirectory + "/qemu-x86-q35-intremap-smp2-mttcg.log.zst"], qemuX86),
        // The same kinds on the samples with QEMU's -d int log (acknowledges), and the acknowledges themselves.
        ("QEMU x86 with -d int", ["qemu-x86-q35-intremap-smp2-mttcg-dint", "qemu-x86-q35-intremap-smp4-mttcg-dint", "qemu-x86-pc-smp2-mttcg-dint", "qemu-x86-pc-smp2-dint"]
            .map { Samples.tracesDirectory + "/" + $0 + ".log.zst" }, qemuX86 + [
            Kind(name: "acknowledge deleted (Servicing hardware INT)", match: "Servicing hardware INT=", change: delete),
            Kind(name: "acknowledged vector altered (Servicing hardware INT, +1)", match: "Servicing hardware INT=", change: { l in
                guard let v = Int(l.dropFirst("Servicing hardware INT=0x".count), radix: 16) else { return nil }
                return "Servicing hardware INT=0x" + String(format: "%02x", (v + 1) & 0xFF)
            }),
        ]),
        ("QEMU arm64 GICv2", [Samples.tracesDirectory + "/qemu-arm64-virt-gicv2-smp2.log.zst", Samples.tracesDirectory + "/qemu-arm64-virt-gicv2-el2-smp2.log.zst"], [
            Kind(name: "line assert deleted (gic_set_irq level 1)", match: "gic_set_irq", change: { $0.contains("level 1") ? "" : nil }),
            Kind(name: "acknowledged INTID altered (gic_acknowledge_irq)", match: "gic_acknowledge_irq", change: { $0.hasSuffix("irq 1023") ? nil : bump("acknowledged irq")($0) }),
            Kind(name: "EOIR write deleted (gic_cpu_write 0x10)", match: "iface write at 0x00000010", change: delete),
            Kind(name: "distributor write altered (gic_dist_write)", match: "gic_dist_write", change: { l in
                guard let r = l.range(of: #": 0x[0-9a-f]{8}$"#, options: .regularExpression), let v = UInt32(l[r].dropFirst(4), radix: 16) else { return nil }
                return l.replacingCharacters(in: r, with: ": 0x" + String(format: "%08x", v ^ 0x80))
            }),
            Kind(name: "priority of a used interrupt altered (GICD_IPRIORITYR write, bit 7)", match: "gic_dist_write dist write at 0x000004", change: { l in
                // The byte of the first INTID this word covers that the guest later acknowledges (the
                // priority of an interrupt never raised changes nothing observable).
                guard let a = l.range(of: #"at 0x[0-9a-f]{8}"#, options: .regularExpression), let off = Int(l[a].dropFirst(5), radix: 16),
                      let r = l.range(of: #": 0x[0-9a-f]{8}$"#, options: .regularExpression), let v = UInt32(l[r].dropFirst(4), radix: 16) else { return nil }
                let first = off - 0x400
                guard let k = (0..<4).first(where: { gicUsedINTIDs.contains(first + $0) }) else { return nil }
                return l.replacingCharacters(in: r, with: ": 0x" + String(format: "%08x", v ^ (0x80 << UInt32(8 * k))))
            }),
            Kind(name: "best interrupt altered (gic_update_bestirq priority)", match: "gic_update_bestirq", change: bump("priority")),
            Kind(name: "IRQ line report deleted (gic_update_set_irq)", match: "gic_update_set_irq", change: delete),
        ]),
        ("KVM kvm_pvm recordings", try FileManager.default.contentsOfDirectory(atPath: Samples.tracesDirectory + "/kvm")
            .filter { $0.hasSuffix(".trace.txt") }.sorted().map { Samples.tracesDirectory + "/kvm/" + $0 }, [
            Kind(name: "line assert deleted (kvm_set_irq level 1)", match: "kvm_set_irq:", change: { $0.contains("level 1") ? "" : nil }),
            Kind(name: "MSI deleted (kvm_msi_set_irq)", match: "kvm_msi_set_irq:", change: delete),
            Kind(name: "accepted vector altered (kvm_apic_accept_irq)", match: "kvm_apic_accept_irq:", change: bump("vec")),
            Kind(name: "delivered vector altered (kvm_eoi)", match: "kvm_eoi:", change: { $0.hasSuffix("vector -1") ? nil : bump("vector")($0) }),
            Kind(name: "delivery deleted (kvm_eoi)", match: "kvm_eoi:", change: { $0.hasSuffix("vector -1") ? nil : "" }),
            Kind(name: "IOAPIC ack deleted (kvm_ack_irq)", match: "kvm_ack_irq: irqchip IOAPIC", change: delete),
            Kind(name: "RTE write altered (kvm_mmio 0xfec00010)", match: "gpa 0xfec00010", change: bump("val")),
            Kind(name: "TPR write altered (kvm_apic APIC_TASKPRI, class ^ 2)", match: "apic_write APIC_TASKPRI", change: { line in
                guard let r = line.range(of: #"= 0x[0-9a-f]+"#, options: .regularExpression), let v = Int(line[r].dropFirst(4), radix: 16) else { return nil }
                return line.replacingCharacters(in: r, with: "= 0x" + String(v ^ 0x20, radix: 16))
            }),
        ]),
    ]
    var seed: UInt64 = 42 // fixed: the same mutants every run
    func next() -> Int { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int(truncatingIfNeeded: seed >> 33) }
    for (title, paths, kinds) in sets where only.map({ title.lowercased().contains($0.lowercased()) }) ?? true {
        let texts = try paths.map { p -> [String] in
            let bytes = p.hasSuffix(".zst") ? try Samples.decompressed(p) : Array(try Data(contentsOf: URL(fileURLWithPath: p)))
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
        say("mutations: \(title)")
        var allDetected = 0, allTotal = 0
        for kind in kinds {
            var detected = 0, total = 0
            for _ in 0..<samplesPerKind {
                let t = next() % texts.count
                let candidates = texts[t].indices.filter { texts[t][$0].contains(kind.match) }
                guard !candidates.isEmpty else { continue }
                let k = candidates[next() % candidates.count]
                guard let changed = kind.change(texts[t][k]) else { continue }
                var lines = texts[t]
                if changed.isEmpty { lines.remove(at: k) } else { lines[k] = changed }
                let path = try Samples.writeTemporary(Array(lines.joined(separator: "\n").utf8), name: "mutant.log")
                defer { unlink(path) }
                let out = OutputFile()
                _ = try Recorder.record(inputs: [path], to: out, options: RecordOptions(level: 1))
                let report = try Replayer.check(try TraceReader(data: Data(out.memory), path: path))
                total += 1
                if !report.divergences.isEmpty { detected += 1 }
            }
            allDetected += detected
            allTotal += total
            say("  \(detected)/\(total) detected  \(kind.name)")
        }
        say("  all: \(allDetected)/\(allTotal) = \(fmt(100 * Double(allDetected) / Double(max(1, allTotal)), 1))%")
    }
}

/// CPU seconds (user + system, all threads) this process has used so far.
func processCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

/// CPU seconds of `body` (this process, all threads): on a shared machine wall time says little.
func cpuTimed(_ n: Int, _ body: () throws -> Void) rethrows -> [Double] {
    var out: [Double] = []
    for _ in 0..<n {
        let c0 = processCPUSeconds()
        try body()
        out.append(processCPUSeconds() - c0)
    }
    return out
}

/// CPU seconds of a child process run to its end (user + system, from wait4).
func childCPUSeconds(_ executable: String, _ arguments: [String]) throws -> Double {
    var pid: pid_t = 0
    var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    guard posix_spawn(&pid, executable, &actions, nil, &argv, environ) == 0 else { throw BenchError("cannot run \(executable)") }
    var status: Int32 = 0
    var u = rusage()
    wait4(pid, &status, 0, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

/// trace.dat import side by side with `trace-cmd report > /dev/null` on the same file
/// (default: traces/tracedat/sched-irq.dat; pass a larger recording for meaningful figures).
/// Figures in CPU seconds (the machine is shared; wall time varies with the other load).
func runTraceDat(_ path: String) throws {
    let input = Workloads.ImportInput(path: path, bytes: (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0, rounds: 1)
    var result: RecordResult? = nil
    _ = try Workloads.importLog(input, level: 3)
    let times = try cpuTimed(iterations(3)) { result = try Workloads.importLog(input, level: 3) }
    let med = median(times)
    let r = result!
    say("import.traceDat zstd 3: \(path): \(r.events) events -> \(r.bytesWritten) bytes .irqt; median \(fmt(med, 3)) s CPU, "
          + "\(rate(Double(r.events) / med, "events/s"))")
    // Decode alone: the file parsed and every record turned into a typed event (template, slot values,
    // time, CPU, task), the chunks dropped instead of encoded and compressed.
    let decode = try cpuTimed(iterations(3)) { try decodeTraceDat(path) }
    say("  decode to events (no encoding): median \(fmt(median(decode), 3)) s CPU, \(rate(Double(r.events) / median(decode), "events/s"))")
    let tc = ["/usr/bin/trace-cmd", "/usr/local/bin/trace-cmd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let tc else { say("  trace-cmd not installed: no side-by-side figure"); return }
    let report = try (0..<iterations(3)).map { _ in try childCPUSeconds(tc, ["report", "-i", path]) }
    say("  trace-cmd report > /dev/null: median \(fmt(median(report), 3)) s CPU, \(rate(Double(r.events) / median(report), "events/s"))")
}

/// One decode of a trace.dat to events (chunks dropped): the loop to profile.
@discardableResult
func decodeTraceDat(_ path: String) throws -> Int {
    var decodeOptions = RecordOptions(level: 1)
    decodeOptions.discardChunks = true
    return try Recorder.record(inputs: [path], to: OutputFile(), options: decodeOptions).events
}

func runEncode() throws {
    let events = try Workloads.makeEncodeInput(rounds: encodeRounds)
    for (level, n) in [(Int32(19), iterations(3)), (Int32(3), iterations(5))] {
        var size = 0
        _ = try events.encode(level: level)
        let times = try repeatTimed(n) { size = try events.encode(level: level).count }
        let best = times.min()!, med = median(times)
        say("encode.events zstd \(level): \(events.count) events -> \(size) bytes (\(fmt(Double(size) / Double(events.count), 3)) B/event); "
              + "\(times.count) runs, best \(fmt(best, 3)) s, median \(fmt(med, 3)) s")
        say("  encode.events zstd \(level) events/s: \(rate(Double(events.count) / med, "events/s")) (median), "
              + "\(rate(Double(events.count) / best, "events/s")) (best)")
    }
}

func runDecode(breakdown: Bool) throws {
    let t0 = Workloads.now()
    let input = try Workloads.makeDecodeInput(rounds: decodeRounds)
    say("decode input: \(input.events) events, \(input.data.count) bytes .irqt (zstd 19), made in \(fmt(Workloads.now() - t0, 1)) s")
    try decodeReport(input, breakdown: breakdown)
}

func decodeReport(_ input: Workloads.DecodeInput, breakdown: Bool) throws {
    var tally = try Workloads.decode(input)
    let times = try repeatTimed(iterations(10)) { tally = try Workloads.decode(input) }
    let best = times.min()!, med = median(times)
    say("decode.events: \(tally.events) events; \(times.count) runs, best \(fmt(best * 1e3, 1)) ms, median \(fmt(med * 1e3, 1)) ms "
          + "(check \(tally.timeSum & 0xffff)/\(tally.templateSum & 0xffff))")
    let eps = Double(tally.events) / med
    say("  decode.events events/s: \(rate(eps, "events/s")) (median), \(rate(Double(tally.events) / best, "events/s")) (best); "
          + "goal >= 50 M events/s/core: \(eps >= 50e6 ? "met" : "NOT met (\(fmt(eps / 50e6 * 100, 0))% of goal)")")
    guard breakdown else { return }
    let b = try Workloads.decodeBreakdown(input, repeats: max(3, iterations(3)))
    let total = b.open + b.forEachBatch + b.touch
    func share(_ x: Double) -> String { "\(fmt(x * 1e3, 1)) ms (\(fmt(x / total * 100, 0))%, \(fmt(x / Double(b.events) * 1e9, 2)) ns/event)" }
    say("decode breakdown (best of runs; \(b.chunks) chunks, \(b.compressedBytes) compressed -> \(b.rawBytes) raw bytes, "
          + "\(fmt(Double(b.rawBytes) / Double(b.events), 2)) raw B/event):")
    say("  open (TraceReader init, CRC-32C of all payloads):  \(share(b.open))   [CRC alone \(fmt(b.crc * 1e3, 1)) ms, "
          + "\(fmt(Double(b.compressedBytes) / b.crc / 1e9, 2)) GB/s]")
    say("  zstd decompress of all chunks (alone):              \(share(b.zstd))   [\(fmt(Double(b.rawBytes) / b.zstd / 1e6, 0)) MB/s out]")
    say("  column decode + EventBatch (forEachBatch - zstd):   \(share(max(0, b.forEachBatch - b.zstd)))")
    say("  per-event time/template loop:                       \(share(b.touch))")
    say("  sum:                                                \(fmt(total * 1e3, 1)) ms = \(rate(Double(b.events) / total, "events/s"))")
}

do {
    switch command {
    case "all":
        say("machine: \(machine())")
        try runImport()
        try runFtraceImport(nil)
        try runEncode()
        try runDecode(breakdown: true)
    case "import": try runImport(); try runFtraceImport(nil)
    case "import-ftrace": try runFtraceImport(args.count >= 2 ? args[1] : nil)
    case "replay": try runReplay()
    case "mutations": try runMutations(only: CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : nil)
    case "analyze-faults": try runAnalyzeFaults(seeds: args.count >= 2 ? Int(args[1]) ?? 20 : 20)
    case "analyze-speed": try runAnalyzeSpeed(events: args.count >= 2 ? Int(args[1]) ?? 10_000_000 : 10_000_000, scenario: args.count >= 3 ? args[2] : "x86-virtio")
    case "sim": try runSim(events: args.count >= 2 ? Int(args[1]) ?? 2_000_000 : 2_000_000, only: args.count >= 3 ? args[2] : nil)
    case "sim-generate":
        guard args.count >= 3 else { throw BenchError("sim-generate needs EVENTS SCENARIO[:OUTPUT]") }
        try runSimGenerate(events: Int(args[1]) ?? 2_000_000, pair: args[2])
    case "sim-digest":
        try runSimDigest(events: args.count >= 2 ? Int(args[1]) ?? 200_000 : 200_000, seed: args.count >= 3 ? UInt64(args[2]) ?? 3 : 3)
    case "import-tracedat":
        try runTraceDat(args.count >= 2 ? args[1] : Samples.tracesDirectory + "/tracedat/sched-irq.dat")
    case "decode-tracedat":
        guard args.count >= 2 else { throw BenchError("decode-tracedat needs a trace.dat path") }
        var events = 0
        let t = try cpuTimed(iterations(1)) { events = try decodeTraceDat(args[1]) }
        say("decode-tracedat: \(args[1]): \(events) events; CPU s per decode: \(t.map { fmt($0, 3) }.joined(separator: " ")); "
              + "median \(rate(Double(events) / median(t), "events/s"))")
    case "encode": try runEncode()
    case "decode": try runDecode(breakdown: false)
    case "breakdown": try runDecode(breakdown: true)
    case "write-decode-input":
        guard args.count >= 2 else { throw BenchError("write-decode-input needs an output path") }
        let input = try Workloads.makeDecodeInput(rounds: decodeRounds)
        try input.data.write(to: URL(fileURLWithPath: args[1]))
        say("wrote \(args[1]): \(input.events) events, \(input.data.count) bytes")
    case "decode-file":
        guard args.count >= 2 else { throw BenchError("decode-file needs an .irqt path") }
        let data = try Data(contentsOf: URL(fileURLWithPath: args[1]))
        let input = Workloads.DecodeInput(data: data, events: 0)
        var tally = Workloads.DecodeTally()
        let n = iterations(1)
        let t = try Workloads.time { for _ in 0..<n { tally = try Workloads.decode(input) } }
        say("decode-file: \(n) x \(tally.events) events in \(fmt(t, 3)) s = \(rate(Double(n * tally.events) / t, "events/s"))")
    default:
        throw BenchError("unknown command \(command); use all, import, encode, decode, breakdown, write-decode-input, decode-file")
    }
} catch {
    FileHandle.standardError.write(Data("irqtrace-bench: \(error)\n".utf8))
    exit(1)
}
