#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// The workload of `irqtrace record -- COMMAND ARGS…`, run like `perf record -- cmd`: started
/// after tracing is on, with IRQTRACE_INSTANCE and IRQTRACE_TRACE_MARKER in its environment (so it
/// can write markers into the recording), and waited for.
final class ChildCommand {
    let pid: pid_t
    private(set) var exitStatus: Int32?

    init(_ argv: [String], extraEnvironment: [String: String]) throws {
        precondition(!argv.isEmpty)
        var env: [String] = []
        var p = environ
        while let e = p.pointee { env.append(String(cString: e)); p += 1 }
        env.removeAll { entry in extraEnvironment.keys.contains { entry.hasPrefix($0 + "=") } }
        env += extraEnvironment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var child = pid_t()
        let rc = posix_spawnp(&child, argv[0], nil, nil, cArgs, cEnv)
        guard rc == 0 else {
            throw IrqtraceError("cannot run \(argv[0]): \(String(cString: strerror(rc)))", hint: "check the command after --")
        }
        pid = child
    }

    /// True once the command has exited (reaps it).
    var exited: Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { exitStatus = status; return true }
        if r < 0 && errno == ECHILD { exitStatus = -1; return true }
        return false
    }

    /// Exit code (or 128 + signal), once exited.
    var exitCode: Int32? {
        guard let s = exitStatus else { return nil }
        if s < 0 { return nil }
        let sig = s & 0x7f
        return sig == 0 ? (s >> 8) & 0xff : 128 + sig
    }

    /// Stops a command still running (recording ended first): SIGTERM, then SIGKILL after `grace` seconds.
    func stop(grace: Double = 5) {
        guard !exited else { return }
        kill(pid, SIGTERM)
        var waited = 0.0
        while !exited && waited < grace { usleep(20_000); waited += 0.02 }
        if !exited {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            if waitpid(pid, &status, 0) == pid { exitStatus = status }
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP ask a live recording to stop cleanly (flush, remove the instance).
enum StopSignals {
    nonisolated(unsafe) static var received: Int32 = 0

    static func install() {
        // A parent may have left them blocked (the mask is inherited across exec).
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, sig) }
        sigprocmask(SIG_UNBLOCK, &set, nil)
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { s in StopSignals.received = s }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, nil)
        }
    }

    static func restore() {
        for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, SIG_DFL) }
    }
}
