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

func exercise(_ bytes: [UInt8]) {
    let target = Target.current
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
