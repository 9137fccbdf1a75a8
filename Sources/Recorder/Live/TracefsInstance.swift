#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// A private tracefs instance (`instances/irqtrace-PID`): its own ring buffers, event switches and
/// clock, so recording never touches the global buffer or another tracer's settings. Removed by
/// ``remove()`` on every exit path; an instance left by a recorder that died (its PID is gone) is
/// removed by the next recorder (``removeStale(in:)``).
public final class TracefsInstance {
    public static let prefix = "irqtrace-"
    public let tracefs: Tracefs
    public let name: String
    public let path: String
    private var removed = false

    /// Creates `instances/irqtrace-PID` (mkdir there makes the kernel build the instance).
    public init(tracefs: Tracefs, name: String = TracefsInstance.prefix + String(getpid())) throws {
        self.tracefs = tracefs
        self.name = name
        self.path = tracefs.path("instances/\(name)")
        guard access(tracefs.path("instances"), F_OK) == 0 else {
            throw IrqtraceError("this kernel's tracefs has no instances/ folder (\(tracefs.root))",
                                hint: "irqtrace needs tracefs instances (Linux 3.12 or later) so it never disturbs the global buffer")
        }
        if mkdir(path, 0o755) != 0 {
            let e = errno
            if e == EEXIST { removed = false; return }   // our own PID: a leftover from a previous life of this PID
            throw IrqtraceError("cannot create tracefs instance \(path): \(String(cString: strerror(e)))",
                                hint: "irqtrace record needs root (or CAP_SYS_ADMIN) for tracefs")
        }
    }

    public func file(_ relative: String) -> String { path + "/" + relative }

    public func write(_ relative: String, _ value: String) throws { try writeText(file(relative), value) }
    public func read(_ relative: String) -> String? { readText(file(relative)) }

    /// Turns the instance's recording off, disables its events and removes it. Idempotent; retries
    /// briefly while the kernel still holds it busy (a reader closing).
    public func remove() {
        guard !removed else { return }
        removed = true
        try? writeText(file("tracing_on"), "0")
        try? writeText(file("events/enable"), "0")
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            if errno != EBUSY { return }
            usleep(20_000)
        }
    }

    deinit { remove() }

    /// Removes `instances/irqtrace-PID` folders whose PID no longer runs; returns their names.
    @discardableResult
    public static func removeStale(in tracefs: Tracefs) -> [String] {
        var gone: [String] = []
        for name in listDirectory(tracefs.path("instances")) where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }   // still alive
            let p = tracefs.path("instances/\(name)")
            try? writeText(p + "/tracing_on", "0")
            try? writeText(p + "/events/enable", "0")
            if rmdir(p) == 0 { gone.append(name) }
        }
        return gone
    }
}
