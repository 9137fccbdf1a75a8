import TraceFormat

/// The input formats `irqtrace record` reads.
public enum InputFormat: String, CaseIterable, Sendable {
    /// irqtrace's own container.
    case irqt
    /// QEMU `-trace` log lines, with (`TID@SECONDS.MICROS:name args`) or without timestamps.
    case qemuLog = "qemu-log"

    /// Guesses the format from the first lines of the input.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> InputFormat? {
        if TraceReader.isTrace(bytes) { return .irqt }
        var qemu = 0, other = 0, untimed = 0
        var start = 0
        let limit = min(bytes.count, 64 * 1024)
        while start < limit && qemu + other + untimed < 64 {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            if end > start {
                let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                switch QEMULogTokenizer.classify(line) {
                case .timestamped, .knownEvent: qemu += 1
                case .untimedEvent: untimed += 1
                case .notQEMU: other += 1
                }
            }
            start = end + 1
        }
        if qemu > 0 && qemu >= other { return .qemuLog }
        if untimed > 0 && other == 0 { return .qemuLog }
        return nil
    }
}
