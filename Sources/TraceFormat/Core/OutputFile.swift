#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a command's output goes: a file written under a temporary name in the same folder and
/// renamed over the final name on ``commit()`` (so a failed run never leaves a half-written file),
/// standard output (`-`), or memory. Writes are buffered.
public final class OutputFile {
    enum Target {
        case file(fd: Int32, temporary: String, final: String)
        /// Written in place (live recordings): what is on disk stays readable if the process dies.
        case inPlace(fd: Int32, path: String)
        case standardOutput
        case memory
    }

    private var target: Target
    private var buffer: [UInt8] = []
    /// Everything written, for memory outputs.
    public private(set) var memory: [UInt8] = []
    /// Bytes written so far.
    public private(set) var offset = 0
    private var finished = false

    /// - Parameter path: a file path, or "-" for standard output.
    public init(path: String) throws {
        if path == "-" {
            target = .standardOutput
        } else {
            let slash = path.lastIndex(of: "/")
            let folder = slash.map { String(path[..<$0]) } ?? "."
            let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
            let temporary = (folder.isEmpty ? "" : folder + "/") + ".\(base).tmp-\(getpid())"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw IrqtraceError("cannot create \(path): \(String(cString: strerror(errno)))",
                                    hint: "check that the folder exists and is writable")
            }
            target = .file(fd: fd, temporary: temporary, final: path)
        }
        buffer.reserveCapacity(1 << 20)
    }

    /// An output kept in memory (``memory``).
    public init() { target = .memory }

    /// A file written under its final name as data arrives, for recorders that must leave a readable
    /// file behind if they are killed: ``sync()`` pushes buffered bytes to the kernel, ``abort()``
    /// keeps what was written.
    public init(inPlace path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw IrqtraceError("cannot create \(path): \(String(cString: strerror(errno)))",
                                hint: "check that the folder exists and is writable")
        }
        target = .inPlace(fd: fd, path: path)
        buffer.reserveCapacity(1 << 20)
    }

    /// Hands buffered bytes to the kernel (a process killed after this loses none of them).
    public func sync() throws { try flush() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        offset += bytes.count
        if case .memory = target { memory.append(contentsOf: bytes); return }
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
    public func write(_ s: String) throws { try write(Array(s.utf8)) }

    private func flush() throws {
        let fd: Int32
        switch target {
        case .file(let f, _, _): fd = f
        case .inPlace(let f, _): fd = f
        case .standardOutput: fd = 1
        case .memory: return
        }
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw IrqtraceError("write failed: \(String(cString: strerror(errno)))", hint: "check free disk space")
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and, for a file, renames the temporary file over the final name.
    public func commit() throws {
        guard !finished else { return }
        try flush()
        finished = true
        if case .file(let fd, let temporary, let final) = target {
            guard fsync(fd) == 0 || errno == EINVAL, close(fd) == 0 else {
                unlink(temporary)
                throw IrqtraceError("cannot write \(final): \(String(cString: strerror(errno)))")
            }
            guard rename(temporary, final) == 0 else {
                let message = String(cString: strerror(errno))
                unlink(temporary)
                throw IrqtraceError("cannot rename the output to \(final): \(message)")
            }
        }
        if case .inPlace(let fd, let path) = target {
            guard fsync(fd) == 0 || errno == EINVAL, close(fd) == 0 else {
                throw IrqtraceError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Drops a file output: the final name is left untouched.
    public func abort() {
        guard !finished else { return }
        finished = true
        if case .file(let fd, let temporary, _) = target {
            close(fd)
            unlink(temporary)
        }
        if case .inPlace(let fd, _) = target {
            try? flush()
            close(fd)
        }
    }

    deinit { abort() }
}
