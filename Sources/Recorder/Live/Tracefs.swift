#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// The tracefs mount. Found in /proc/mounts (tracefs, or debugfs's `tracing` folder on old kernels);
/// mounted at /sys/kernel/tracing when it is not mounted and we may (root).
public struct Tracefs: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    /// Finds tracefs, mounting it when `mount` is true and it is not mounted anywhere.
    public static func locate(mount: Bool = true) throws -> Tracefs {
        if let r = mountedRoot() { return Tracefs(root: r) }
        let target = "/sys/kernel/tracing"
        if mount, access(target, F_OK) == 0 {
            if Glibc.mount("nodev", target, "tracefs", 0, nil) == 0 { return Tracefs(root: target) }
            let why = String(cString: strerror(errno))
            throw IrqtraceError("tracefs is not mounted and mounting it at \(target) failed: \(why)",
                                hint: "run as root, or mount it yourself: mount -t tracefs nodev \(target)")
        }
        throw IrqtraceError("tracefs is not mounted",
                            hint: "mount it (as root): mount -t tracefs nodev /sys/kernel/tracing; the kernel needs CONFIG_FTRACE")
    }

    /// The tracefs root listed in /proc/mounts, if any.
    static func mountedRoot() -> String? {
        guard let text = readText("/proc/mounts") else { return nil }
        var debugfs: String?
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 3 else { continue }
            let path = unescapeMount(String(f[1]))
            if f[2] == "tracefs", access(path + "/trace", F_OK) == 0 { return path }
            if f[2] == "debugfs", access(path + "/tracing/trace", F_OK) == 0 { debugfs = path + "/tracing" }
        }
        return debugfs
    }

    /// /proc/mounts escapes spaces and tabs as octal (`\040`).
    private static func unescapeMount(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 0x5C, i + 3 < b.count, let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v); i += 4
            } else { out.append(b[i]); i += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func path(_ relative: String) -> String { root + "/" + relative }

    /// Event systems and names this kernel offers (`events/SYSTEM/EVENT/format`).
    public func availableEvents() -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for system in listDirectory(path("events")) where isDirectory(path("events/\(system)")) {
            out[system] = Set(listDirectory(path("events/\(system)")).filter { isDirectory(path("events/\(system)/\($0)")) })
        }
        return out
    }
}

// MARK: - small file helpers (tracefs files are tiny; errors carry the path and errno)

/// Reads a whole (small or pseudo) file; nil when it cannot be opened.
func readText(_ path: String) -> String? {
    guard let bytes = readBytes(path) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

func readBytes(_ path: String, limit: Int = 64 << 20) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while out.count < limit {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return out.isEmpty ? nil : out }
        if n == 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return out
}

/// Writes `value` to a tracefs control file (one write, as the kernel expects).
func writeText(_ path: String, _ value: String, append: Bool = false, create: Bool = false) throws {
    let fd = open(path, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC) | (create ? O_CREAT : 0), 0o600)
    guard fd >= 0 else {
        throw IrqtraceError("cannot open \(path) for writing: \(String(cString: strerror(errno)))",
                            hint: create ? "check the folder" : "irqtrace record needs root for tracefs")
    }
    defer { close(fd) }
    let bytes = Array(value.utf8)
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard n == bytes.count else {
        throw IrqtraceError("writing '\(value)' to \(path) failed: \(String(cString: strerror(errno)))")
    }
}

func listDirectory(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var names: [String] = []
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}
