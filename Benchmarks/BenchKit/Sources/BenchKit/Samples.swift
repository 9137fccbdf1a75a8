import Foundation
import TraceFormat

/// Errors of the benchmark workloads.
public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The real QEMU sample traces under `traces/` and the larger inputs made from them.
public enum Samples {
    /// `traces/` of the irqtrace checkout (or `$IRQTRACE_TRACES`).
    public static var tracesDirectory: String {
        if let env = ProcessInfo.processInfo.environment["IRQTRACE_TRACES"], !env.isEmpty { return env }
        // <root>/Benchmarks/BenchKit/Sources/BenchKit/Samples.swift
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("traces").path
    }

    /// The sample logs (`*.log.zst`), sorted by name.
    public static func paths() throws -> [String] {
        let dir = tracesDirectory
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".log.zst") }.sorted()
        guard !names.isEmpty else { throw BenchError("no *.log.zst samples in \(dir) (set IRQTRACE_TRACES)") }
        return names.map { dir + "/" + $0 }
    }

    /// One sample, decompressed.
    public static func decompressed(_ path: String) throws -> [UInt8] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decompressor = ZstdDecompressor()
        var text = [UInt8](try data.withUnsafeBytes { raw in try decompressor.decompressStream(raw) })
        if let last = text.last, last != UInt8(ascii: "\n") { text.append(UInt8(ascii: "\n")) }
        return text
    }

    /// All samples decompressed and concatenated (one "round", about 8 MB and 121k events).
    public static func round() throws -> [UInt8] {
        var out: [UInt8] = []
        for p in try paths() { out += try decompressed(p) }
        return out
    }

    /// The round repeated to about `approximateBytes` (nearest whole number of rounds, at least one).
    public static func largeLog(approximateBytes: Int) throws -> (text: [UInt8], rounds: Int) {
        let one = try round()
        let rounds = max(1, Int((Double(approximateBytes) / Double(one.count)).rounded()))
        var text: [UInt8] = []
        text.reserveCapacity(one.count * rounds)
        for _ in 0..<rounds { text += one }
        return (text, rounds)
    }

    /// The real KVM tracefs text recordings (`traces/kvm/*.trace.txt`) without their `#` headers,
    /// concatenated and repeated to about `approximateBytes`.
    public static func largeFtraceText(approximateBytes: Int) throws -> (text: [UInt8], rounds: Int) {
        let dir = tracesDirectory + "/kvm"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".trace.txt") }.sorted()
        guard !names.isEmpty else { throw BenchError("no *.trace.txt samples in \(dir)") }
        var one: [UInt8] = []
        for name in names {
            let text = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
            for line in text.split(separator: "\n") where !line.hasPrefix("#") { one += Array(line.utf8); one.append(0x0A) }
        }
        let rounds = max(1, Int((Double(approximateBytes) / Double(one.count)).rounded()))
        var out: [UInt8] = []
        out.reserveCapacity(one.count * rounds)
        for _ in 0..<rounds { out += one }
        return (out, rounds)
    }

    /// Writes `bytes` to a new file in the temporary folder and returns its path.
    public static func writeTemporary(_ bytes: [UInt8], name: String) throws -> String {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = "\(dir)/irqtrace-bench-\(getpid())-\(name)"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw BenchError("cannot write \(path)")
        }
        return path
    }
}
