#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// Messages for the user go to standard error; standard output carries only the requested output.
enum Console {
    static func error(_ message: String) { write("irqtrace: error: \(message)\n") }
    static func warning(_ message: String) { write("irqtrace: warning: \(message)\n") }
    static func note(_ message: String) { write("irqtrace: \(message)\n") }

    static func write(_ s: String) { writeAll(2, s) }

    /// Standard output.
    static func out(_ s: String) { writeAll(1, s) }

    private static func writeAll(_ fd: Int32, _ s: String) {
        var s = s
        s.withUTF8 { b in
            var done = 0
            while done < b.count {
                let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 { if errno == EINTR { continue }; return }
                done += n
            }
        }
    }
}
