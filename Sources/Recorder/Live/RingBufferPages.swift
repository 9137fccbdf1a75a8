#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// One sub-buffer page as `per_cpu/cpuN/trace_pipe_raw` hands it out (the kernel's ring-buffer page:
/// u64 time stamp, `local_t` commit with the missed-events flags, then the event data), with the
/// times of its first and last event found by walking the event headers (kbuffer's rules, as in
/// ``CPUStream``).
struct RingPage {
    var cpu: Int
    var bytes: [UInt8]
    var firstTS: UInt64
    var lastTS: UInt64
    var events: Int
    /// Missed-events flag on the page: the count the kernel stored, or -1 when it only flagged it.
    var missed: Int

    private static let missingEvents: UInt64 = 1 << 31
    private static let missingStored: UInt64 = 1 << 30
    private static let commitMask: UInt64 = (1 << 27) - 1
    private static let tsMSB: UInt64 = 0xf8 << 56

    /// Scans a page; nil when its header or events are inconsistent (kept out, and counted).
    init?(cpu: Int, bytes: [UInt8], longSize: Int) {
        self.cpu = cpu
        self.bytes = bytes
        let hdr = 8 + longSize
        guard bytes.count >= hdr else { return nil }
        let scanned: (UInt64, UInt64, Int, Int)? = bytes.withUnsafeBytes { p in
            var ts = p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
            let flags = longSize == 8 ? p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                                      : UInt64(p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            let size = Int(flags & Self.commitMask)
            guard size <= p.count - hdr else { return nil }
            var missed = 0
            if flags & Self.missingEvents != 0 {
                missed = -1
                if flags & Self.missingStored != 0, hdr + size + longSize <= p.count {
                    missed = Int(longSize == 8 ? p.loadUnaligned(fromByteOffset: hdr + size, as: UInt64.self)
                                               : UInt64(p.loadUnaligned(fromByteOffset: hdr + size, as: UInt32.self)))
                }
            }
            var first: UInt64?
            var count = 0
            var next = 0
            while next < size {
                let curr = next
                guard curr + 4 <= size else { return nil }
                let w = p.loadUnaligned(fromByteOffset: hdr + curr, as: UInt32.self)
                let typeLen = Int(w & 31)
                var delta = UInt64(w >> 5)
                var q = curr + 4
                var length = 0
                switch typeLen {
                case 29:
                    guard q + 4 <= size else { return nil }
                    length = Int(p.loadUnaligned(fromByteOffset: hdr + q, as: UInt32.self))
                case 30, 31:
                    guard q + 4 <= size else { return nil }
                    delta = (UInt64(p.loadUnaligned(fromByteOffset: hdr + q, as: UInt32.self)) << 27) &+ delta
                    if typeLen == 31 { delta |= ts & Self.tsMSB }
                    q += 4
                case 0:
                    guard q + 4 <= size else { return nil }
                    let l = Int(p.loadUnaligned(fromByteOffset: hdr + q, as: UInt32.self))
                    guard l >= 4 else { return nil }
                    length = (l - 4 + 3) & ~3
                    q += 4
                default:
                    length = typeLen * 4
                }
                ts = typeLen == 31 ? delta : ts &+ delta
                next = q + length
                guard next > curr else { return nil }
                if typeLen <= 28 {
                    guard next <= size else { return nil }
                    if first == nil { first = ts }
                    count += 1
                }
            }
            return (first ?? ts, ts, count, missed)
        }
        guard let s = scanned else { return nil }
        firstTS = s.0
        lastTS = s.1
        events = s.2
        missed = s.3
    }
}

/// Non-blocking readers of every CPU's `trace_pipe_raw` in an instance.
final class RingBufferReaders {
    let pageSize: Int
    let longSize: Int
    private(set) var fds: [(cpu: Int, fd: Int32)] = []
    private var buffer: [UInt8]
    /// Pages that failed the scan (damaged): dropped and counted.
    private(set) var badPages = 0

    init(instance: TracefsInstance, pageSize: Int, longSize: Int) throws {
        self.pageSize = pageSize
        self.longSize = longSize
        buffer = [UInt8](repeating: 0, count: pageSize)
        let cpus = listDirectory(instance.file("per_cpu")).compactMap { $0.hasPrefix("cpu") ? Int($0.dropFirst(3)) : nil }.sorted()
        guard !cpus.isEmpty else {
            throw IrqtraceError("no per_cpu folders in \(instance.path)", hint: "is this a tracefs instance?")
        }
        for cpu in cpus {
            let path = instance.file("per_cpu/cpu\(cpu)/trace_pipe_raw")
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                let why = String(cString: strerror(errno))
                close()
                throw IrqtraceError("cannot open \(path): \(why)", hint: "irqtrace record needs root for tracefs")
            }
            fds.append((cpu, fd))
        }
    }

    var cpuCount: Int { (fds.map(\.cpu).max() ?? -1) + 1 }

    /// Reads every page available now, on every CPU, into `into`; returns the bytes read.
    func drain(into pages: inout [[RingPage]], maxPagesPerCPU: Int = 1 << 16) throws -> Int {
        var total = 0
        for (cpu, fd) in fds {
            var n = 0
            while n < maxPagesPerCPU {
                let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, pageSize) }
                if got < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN || errno == EWOULDBLOCK { break }
                    throw IrqtraceError("reading CPU \(cpu)'s trace_pipe_raw failed: \(String(cString: strerror(errno)))")
                }
                if got == 0 { break }
                n += 1
                total += got
                var bytes = Array(buffer[0..<got])
                if got < pageSize { bytes += [UInt8](repeating: 0, count: pageSize - got) }
                if let page = RingPage(cpu: cpu, bytes: bytes, longSize: longSize) {
                    if page.events > 0 || page.missed != 0 { pages[cpu].append(page) }
                } else {
                    badPages += 1
                }
            }
        }
        return total
    }

    func close() {
        for (_, fd) in fds { Glibc.close(fd) }
        fds = []
    }

    deinit { close() }
}
