#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// Messages for the user go to standard error; standard output carries only the requested output.
enum Console {
    static func error(_ message: String) { write("irqtrace: " + Style.red("error:", fd: 2) + " \(message)\n") }
    static func warning(_ message: String) { write("irqtrace: " + Style.yellow("warning:", fd: 2) + " \(message)\n") }
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

/// Colours on a terminal, off when NO_COLOR is set (https://no-color.org), TERM is dumb, or the
/// stream is not a terminal (pipes and files never get escape codes).
enum Style {
    static let allowed: Bool = {
        if let v = getenv("NO_COLOR"), v.pointee != 0 { return false }
        if let t = getenv("TERM"), String(cString: t) == "dumb" { return false }
        return true
    }()
    static let tty1 = isatty(1) != 0, tty2 = isatty(2) != 0

    static func on(_ fd: Int32) -> Bool { allowed && (fd == 1 ? tty1 : tty2) }
    static func wrap(_ s: String, _ code: String, fd: Int32) -> String { on(fd) ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    static func red(_ s: String, fd: Int32 = 1) -> String { wrap(s, "1;31", fd: fd) }
    static func yellow(_ s: String, fd: Int32 = 1) -> String { wrap(s, "33", fd: fd) }
    static func green(_ s: String, fd: Int32 = 1) -> String { wrap(s, "32", fd: fd) }
    static func cyan(_ s: String, fd: Int32 = 1) -> String { wrap(s, "36", fd: fd) }
    static func bold(_ s: String, fd: Int32 = 1) -> String { wrap(s, "1", fd: fd) }

    /// A finding's severity word in its colour.
    static func severity(_ s: String) -> String {
        switch s {
        case "error": red(s)
        case "warning": yellow(s)
        default: cyan(s)
        }
    }
}
