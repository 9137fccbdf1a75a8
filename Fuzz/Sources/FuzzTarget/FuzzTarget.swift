import Foundation
import Recorder
import Replayer
import Simulator
import TraceFormat

/// One libFuzzer entry point for every parser; the parser is chosen by IRQTRACE_FUZZ_TARGET
/// (irqt, ftrace-text, trace-cmd-report, perf-script, qemu-log, trace-dat, pcap, scenario), so one
/// instrumented binary serves all targets (scripts/fuzz.sh). Each input goes through the parser and,
/// when it parses, through every consumer a user would run next: decoding every chunk, `replay
/// --check` (the adapters must not trap on nonsense either) and the text export. Errors are fine;
/// a crash, a hang, an out-of-memory or a sanitizer report is a bug.
enum Target: String, CaseIterable {
    case irqt, ftraceText = "ftrace-text", traceCmdReport = "trace-cmd-report", perfScript = "perf-script"
    case qemuLog = "qemu-log", traceDat = "trace-dat", pcap, scenario

    static let current: Target = {
        let name = ProcessInfo.processInfo.environment["IRQTRACE_FUZZ_TARGET"] ?? "irqt"
        guard let t = Target(rawValue: name) else { fatalError("IRQTRACE_FUZZ_TARGET=\(name): one of \(Target.allCases.map(\.rawValue))") }
        return t
    }()

    var inputFormat: InputFormat? {
        switch self {
        case .irqt: .irqt
        case .ftraceText: .ftraceText
        case .traceCmdReport: .traceCmdReport
        case .perfScript: .perfScript
        case .qemuLog: .qemuLog
        case .traceDat: .traceDat
        case .pcap: .pcap
        case .scenario: nil
        }
    }
}

/// IRQTRACE_FUZZ_DEPTH=parse: the parser alone, at tens of thousands of inputs a second, so the
/// issue's 10 M executions per parser fit in minutes: each line through the source's tokenizer and,
/// when it tokenizes, the exact-reprint proof (`SkeletonRenderer`); an `.irqt` opened and every chunk
/// decoded; a trace.dat's sections, formats and every record's report line; a pcap's records, each packet
/// decoded and its line tokenized; a scenario decoded.
/// The default depth, `pipeline`, runs everything a user would run next (below).
let parseOnly = ProcessInfo.processInfo.environment["IRQTRACE_FUZZ_DEPTH"] == "parse"

func exerciseParser(_ bytes: [UInt8], _ target: Target) {
    switch target {
    case .ftraceText, .traceCmdReport, .perfScript: tokenizeLines(bytes, FtraceLineTokenizer())
    case .qemuLog: tokenizeLines(bytes, QEMULogTokenizer())
    case .irqt:
        guard let reader = try? TraceReader(data: Data(bytes), path: "fuzz.irqt") else { return }
        try? reader.forEachBatch { _ in }
    case .traceDat:
        guard let dat = try? TraceDatReader(data: Data(bytes), path: "fuzz.dat") else { return }
        try? dat.forEachLine { _ in }
    case .pcap:
        _ = bytes.withUnsafeBytes { try? PcapScan.scan($0, path: "fuzz.pcap") }
    case .scenario:
        _ = try? Scenario.decode(Data(bytes), path: "fuzz.json")
    }
}

func tokenizeLines<T: LineTokenizer>(_ bytes: [UInt8], _ tokenizer: T) {
    var tokenizer = tokenizer
    var parsed = ParsedLine()
    var scratch: [UInt8] = []
    bytes.withUnsafeBytes { all in
        var start = 0
        while start < all.count {
            var end = start
            while end < all.count && all[end] != 0x0A { end += 1 }
            let line = UnsafeRawBufferPointer(rebasing: all[start..<end])
            parsed.reset()
            if tokenizer.tokenize(line, into: &parsed) == .event {
                _ = SkeletonRenderer.reprints(line, skeleton: parsed.skeleton.bytes, values: parsed.values, time: parsed.time,
                                              cpu: parsed.cpu, thread: parsed.thread, scratch: &scratch)
            }
            start = end + 1
        }
    }
}

func exercise(_ bytes: [UInt8]) {
    let target = Target.current
    if parseOnly { exerciseParser(bytes, target); return }
    if target == .scenario {
        guard let s = try? Scenario.decode(Data(bytes), path: "fuzz.json") else { return }
        // A valid scenario must simulate without trapping (briefly).
        var o = Simulator.Options(scenario: s, seed: 1, events: 2000)
        o.level = 1
        _ = try? Simulator.run(o, to: OutputFile())
        return
    }
    var options = RecordOptions(inputFormat: target.inputFormat)
    options.chunkSize = 4096
    guard let (reader, _) = try? Recorder.open(bytes: bytes, name: "fuzz", options: options) else { return }
    try? reader.forEachBatch { _ in }
    _ = try? Replayer.check(reader)
    let out = OutputFile()
    try? TextExport.write(reader, to: out)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    exercise(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's driver (compiler-rt FuzzerDriver.cpp, exported since LLVM 11).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's entry point as `<module>_main`; it hands over to libFuzzer.
@_cdecl("irqtrace_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzzOne(data, size) }
}
