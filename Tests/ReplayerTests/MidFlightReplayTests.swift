import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import TraceFormat

/// Traces that start mid-flight (flight-recorder windows, recordings attached to running guests):
/// real recordings cut at ten points each, replayed with `midFlight`.
@Suite("Replay of traces that start mid-flight")
struct MidFlightReplayTests {
    static let texts = kvmRecordings.filter { $0.hasSuffix(".trace.txt") }

    @Test("cut real KVM recordings: from-reset replay diverges, mid-flight replay adopts the unknown state and agrees")
    func cuts() throws {
        var fromReset = 0, midFlight = 0, cuts = 0, adopted = 0
        var residual: [String] = []
        for path in Self.texts + [root.appendingPathComponent("Tests/ReplayerTests/Fixtures/vmx-constructed.trace.txt").path] {
            let all = try sampleLines(path)
            let header = all.filter { $0.hasPrefix("#") }, body = all.filter { !$0.hasPrefix("#") && !$0.isEmpty }
            for pct in stride(from: 5, through: 95, by: 10) {
                let lines = header + body[(body.count * pct / 100)...]
                guard let reset = try? replay(lines: lines), let mid = try? replay(text: Array(lines.joined(separator: "\n").utf8), midFlight: true) else {
                    continue // the tail holds no interrupt event to replay
                }
                cuts += 1
                fromReset += reset.divergences.count
                midFlight += mid.divergences.count
                adopted += mid.unchecked.filter { $0.key.contains("before the trace began") }.values.reduce(0, +)
                if !mid.divergences.isEmpty { residual.append("\(URL(fileURLWithPath: path).lastPathComponent)@\(pct)%: \(mid.divergences[0].what)") }
            }
        }
        #expect(cuts >= 100)
        #expect(fromReset > 1000, "cutting a trace leaves the models without the state before the cut")
        #expect(adopted > 0)
        // One known residual: a vector re-accepted while in service since before the cut (coalesce@55%).
        #expect(midFlight <= 2, "\(residual)")
    }

    @Test("a whole recording replays the same with and without mid-flight (nothing real is hidden)", arguments: texts)
    func whole(path: String) throws {
        let text = Array(try sampleLines(path).joined(separator: "\n").utf8)
        let reset = try replay(text: text), mid = try replay(text: text, midFlight: true)
        #expect(reset.divergences.count == mid.divergences.count)
        #expect(mid.observationsChecked == reset.observationsChecked, "\(mid.unchecked)")
    }
}
