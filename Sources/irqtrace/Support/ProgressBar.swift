#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// A progress bar on standard error for passes over large traces, drawn only when standard error
/// is a terminal (at most ten times a second) and erased when a pass ends, so it never mixes with
/// the output.
final class ProgressBar: @unchecked Sendable {
    let label: String
    let unit: String
    private var lastDraw: Int64 = 0
    private var drawn = false

    init(label: String, unit: String = "events") {
        self.label = label
        self.unit = unit
    }

    /// Attaches a bar to `reader` when stderr is a terminal and the trace is big enough to wait for.
    static func attach(to reader: TraceReader, label: String) {
        guard isatty(2) != 0, reader.eventCount >= 2_000_000 else { return }
        let bar = ProgressBar(label: label)
        reader.progress = { done, total in bar.update(done, total) }
    }

    func update(_ done: Int, _ total: Int) {
        if done >= total {
            if drawn { Console.write("\r\u{1B}[K"); drawn = false }
            return
        }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let now = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
        guard now - lastDraw >= 100_000_000 else { return }
        lastDraw = now
        let width = 30
        let filled = total > 0 ? min(width, done * width / total) : 0
        let pct = total > 0 ? done * 100 / total : 0
        Console.write("\r\(label) [" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
                      + (unit == "events" ? "] \(pct)% \(done / 1000)k/\(total / 1000)k events" : "] \(pct)% \(done)/\(total) \(unit)"))
        drawn = true
    }
}
