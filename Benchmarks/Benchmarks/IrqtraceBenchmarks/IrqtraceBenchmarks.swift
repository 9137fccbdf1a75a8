// irqtrace benchmarks: import, encode and decode throughput on the real QEMU samples (traces/).
//
// Throughput is reported as custom metrics (`input bytes/s`, `events/s`: larger is better) and as a
// printed summary line per benchmark (stderr); wall clock, CPU time, mallocs and peak RSS come from
// package-benchmark. No thresholds are set: timings on shared 2-core machines are figures, not gates.
//
// A "round" is all of traces/*.log.zst decompressed and concatenated: ~8.1 MB of text, ~121.5k events.
import Benchmark
import BenchKit
import Foundation
import Recorder
import TraceFormat

/// Per-iteration rates collected by a benchmark, summarised in its teardown.
final class Rates: @unchecked Sendable {
    private let lock = NSLock()
    private var samples: [Double] = []
    func add(_ x: Double) { lock.lock(); samples.append(x); lock.unlock() }
    func report(_ line: (_ median: Double, _ best: Double, _ runs: Int) -> String) {
        lock.lock(); defer { lock.unlock() }
        guard !samples.isEmpty else { return }
        let s = samples.sorted()
        let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        FileHandle.standardError.write(Data((line(median, s.last!, s.count) + "\n").utf8))
    }
}

/// The import input's temporary file, removed in teardown (teardown gets no setup state).
final class TemporaryPath: @unchecked Sendable {
    private let lock = NSLock()
    private var path: String?
    func set(_ p: String) { lock.lock(); path = p; lock.unlock() }
    func remove() { lock.lock(); if let path { unlink(path) }; path = nil; lock.unlock() }
}

enum Throughput {
    static let inputBytesPerSecond = BenchmarkMetric.custom("input bytes/s", polarity: .prefersLarger, useScalingFactor: false)
    static let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
}

func mega(_ x: Double) -> String { String(format: "%.2f", x / 1e6) }

let benchmarks: @Sendable () -> Void = {
    let common: [BenchmarkMetric] = [.wallClock, .cpuTotal, .throughput, .mallocCountTotal, .peakMemoryResident]
    Benchmark.defaultConfiguration = .init(metrics: common, timeUnits: .milliseconds, warmupIterations: 1,
                                           maxDuration: .seconds(20), maxIterations: 10)

    // import.qemuLog: Recorder.record of ~50 MB of QEMU log text (the samples repeated) into memory,
    // zstd 19 and 1 MiB chunks (the `irqtrace record` defaults).
    let importRates = Rates()
    let importFile = TemporaryPath()
    Benchmark("import.qemuLog",
              configuration: .init(metrics: common + [Throughput.inputBytesPerSecond, Throughput.eventsPerSecond],
                                   maxDuration: .seconds(30), maxIterations: 8)) { benchmark, input in
        let t0 = Workloads.now()
        let result = try Workloads.importLog(input)
        let seconds = Workloads.now() - t0
        benchmark.stopMeasurement()
        let bytesPerSecond = Double(result.inputBytes) / seconds
        importRates.add(bytesPerSecond)
        benchmark.measurement(Throughput.inputBytesPerSecond, Int(bytesPerSecond))
        benchmark.measurement(Throughput.eventsPerSecond, Int(Double(result.events) / seconds))
    } setup: {
        let input = try Workloads.makeImportInput(approximateBytes: 50_000_000)
        importFile.set(input.path)
        FileHandle.standardError.write(Data("import.qemuLog: input \(mega(Double(input.bytes))) MB (\(input.rounds) rounds of the samples)\n".utf8))
        return input
    } teardown: {
        importRates.report { median, best, runs in
            "import.qemuLog: \(mega(median)) MB/s of input text (median of \(runs)), \(mega(best)) MB/s best"
        }
        importFile.remove()
    }

    // encode.events: ~2.4 M pre-decoded events (20 rounds) through a TraceWriter into memory.
    for level: Int32 in [19, 3] {
        let rates = Rates()
        Benchmark("encode.events",
                  configuration: .init(metrics: common + [Throughput.eventsPerSecond], tags: ["zstd": "\(level)"],
                                       maxDuration: .seconds(30), maxIterations: level >= 10 ? 5 : 15)) { benchmark, events in
            let t0 = Workloads.now()
            let bytes = try events.encode(level: level)
            let seconds = Workloads.now() - t0
            benchmark.stopMeasurement()
            blackHole(bytes.count)
            rates.add(Double(events.count) / seconds)
            benchmark.measurement(Throughput.eventsPerSecond, Int(Double(events.count) / seconds))
        } setup: {
            try Workloads.makeEncodeInput(rounds: 20)
        } teardown: {
            rates.report { median, best, runs in
                "encode.events (zstd \(level)): \(mega(median)) M events/s (median of \(runs)), \(mega(best)) M events/s best"
            }
        }
    }

    // decode.events: TraceReader over an in-memory .irqt of ~7.3 M events (60 rounds, zstd 19),
    // forEachBatch touching every event's time and template. Goal: >= 50 M events/s per core.
    let decodeRates = Rates()
    Benchmark("decode.events",
              configuration: .init(metrics: common + [Throughput.eventsPerSecond], warmupIterations: 2,
                                   maxDuration: .seconds(15), maxIterations: 40)) { benchmark, input in
        let t0 = Workloads.now()
        let tally = try Workloads.decode(input)
        let seconds = Workloads.now() - t0
        benchmark.stopMeasurement()
        blackHole(tally.timeSum &+ Int64(bitPattern: tally.templateSum))
        decodeRates.add(Double(tally.events) / seconds)
        benchmark.measurement(Throughput.eventsPerSecond, Int(Double(tally.events) / seconds))
    } setup: {
        try Workloads.makeDecodeInput(rounds: 60, level: 19)
    } teardown: {
        decodeRates.report { median, best, runs in
            "decode.events: \(mega(median)) M events/s (median of \(runs)), \(mega(best)) M events/s best; goal >= 50 M events/s/core "
                + (median >= 50e6 ? "met" : "NOT met")
        }
    }
}
