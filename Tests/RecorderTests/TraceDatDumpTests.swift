import Foundation
import Testing
@testable import Recorder

/// Developer aid: `TRACEDAT_DUMP=in.dat TRACEDAT_OUT=out.txt swift test --filter TraceDatDump`
/// writes our report lines for any trace.dat (header lines first), to diff against `trace-cmd report`.
/// Developer tools run through the test runner; skipped (reported as skipped) unless their variable is set.
@Suite("trace.dat dump")
struct TraceDatDumpTests {
    @Test("dump a trace.dat given in TRACEDAT_DUMP", .enabled(if: ProcessInfo.processInfo.environment["TRACEDAT_DUMP"] != nil, "developer tool: set TRACEDAT_DUMP"))
    func dump() throws {
        guard let path = ProcessInfo.processInfo.environment["TRACEDAT_DUMP"] else { return }
        let out = ProcessInfo.processInfo.environment["TRACEDAT_OUT"] ?? "/tmp/tracedat-dump.txt"
        let reader = try TraceDatReader(data: try Data(contentsOf: URL(fileURLWithPath: path)), path: path)
        var text: [UInt8] = []
        for h in reader.headerLines { text += Array(h.utf8); text.append(0x0A) }
        try reader.forEachLine { rec in text += rec.line; text.append(0x0A) }
        try Data(text).write(to: URL(fileURLWithPath: out))
    }
}

extension TraceDatDumpTests {
    /// `TRACEDAT_FORMATS=/sys/kernel/tracing/events swift test --filter TraceDatDump` parses every
    /// format file and writes "system:name OK|FAILED" lines to TRACEDAT_OUT.
    @Test("parse every format file under TRACEDAT_FORMATS", .enabled(if: ProcessInfo.processInfo.environment["TRACEDAT_FORMATS"] != nil, "developer tool: set TRACEDAT_FORMATS"))
    func formats() throws {
        guard let dir = ProcessInfo.processInfo.environment["TRACEDAT_FORMATS"] else { return }
        let out = ProcessInfo.processInfo.environment["TRACEDAT_OUT"] ?? "/tmp/tracedat-formats.txt"
        var lines: [String] = []
        let fm = FileManager.default
        for sys in try fm.contentsOfDirectory(atPath: dir).sorted() {
            let sdir = dir + "/" + sys
            guard let evs = try? fm.contentsOfDirectory(atPath: sdir) else { continue }
            for ev in evs.sorted() {
                // tracefs files report size 0: read them to the end.
                guard let fh = FileHandle(forReadingAtPath: sdir + "/" + ev + "/format") else { continue }
                let text = String(decoding: fh.readDataToEndOfFile(), as: UTF8.self)
                try? fh.close()
                guard let e = EventFormatParser.parse(text, system: sys, longSize: 8, symbols: nil, functions: EventPrinter.knownFunctions) else {
                    lines.append("\(sys):? DROPPED"); continue
                }
                lines.append("\(sys):\(e.name) \(e.failed ? "FAILED" : "OK")\(e.failReason.map { " # " + $0 } ?? "")")
            }
        }
        try (lines.sorted().joined(separator: "\n") + "\n").write(toFile: out, atomically: true, encoding: .utf8)
    }
}

extension TraceDatDumpTests {
    @Test("print the parsed arguments of TRACEDAT_EVENT (a format file path)", .enabled(if: ProcessInfo.processInfo.environment["TRACEDAT_EVENT"] != nil, "developer tool: set TRACEDAT_EVENT"))
    func args() throws {
        guard let path = ProcessInfo.processInfo.environment["TRACEDAT_EVENT"] else { return }
        guard let fh = FileHandle(forReadingAtPath: path) else { return }
        let text = String(decoding: fh.readDataToEndOfFile(), as: UTF8.self)
        let parts = path.split(separator: "/")
        let e = EventFormatParser.parse(text, system: String(parts[parts.count - 3]), longSize: 8, symbols: nil, functions: EventPrinter.knownFunctions)!
        print("failed:", e.failed, e.failReason ?? "")
        for a in e.args { print(a) }
    }
}

extension TraceDatDumpTests {
    /// `TRACEDAT_BENCH=big.dat swift test -c release --filter TraceDatDump`: decode speed of forEachLine.
    @Test("decode speed of TRACEDAT_BENCH", .enabled(if: ProcessInfo.processInfo.environment["TRACEDAT_BENCH"] != nil, "developer tool: set TRACEDAT_BENCH"))
    func bench() throws {
        guard let path = ProcessInfo.processInfo.environment["TRACEDAT_BENCH"] else { return }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        for round in 0..<3 {
            let t0 = Date()
            let reader = try TraceDatReader(data: data, path: path)
            var n = 0, bytes = 0
            try reader.forEachLine { n += 1; bytes += $0.line.count + 1 }
            let dt = Date().timeIntervalSince(t0)
            print("bench round \(round): \(n) lines, \(bytes) bytes in \(String(format: "%.3f", dt)) s = \(String(format: "%.2f", Double(n) / dt / 1e6)) M lines/s, \(String(format: "%.1f", Double(bytes) / dt / 1e6)) MB/s of text")
        }
    }
}
