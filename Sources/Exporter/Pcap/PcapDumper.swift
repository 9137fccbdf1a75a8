import CPcap
import TraceFormat
#if canImport(Glibc)
import Glibc
#endif

/// A pcap file being written through libpcap: owns the "dead" capture handle
/// (`pcap_open_dead_with_tstamp_precision`) and its dumper (`pcap_dump_open`), closed in `deinit`.
/// Writes to a temporary name beside the output and renames it on ``commit()``, like ``OutputFile``.
struct PcapDumper: ~Copyable {
    /// LINKTYPE_USER0 (147): the link type irqtrace's packets are written under.
    static let linkType: Int32 = EventPacket.linkType
    /// Wireshark's largest standard packet (WTAP_MAX_PACKET_SIZE_STANDARD).
    static let snapLength: Int32 = 262_144

    private let handle: OpaquePointer
    private var dumper: OpaquePointer?
    private let temporary: String?
    private let final: String
    /// Bytes of the file: the 24-byte header, then 16 bytes of header and the data per packet.
    private(set) var bytesWritten = 24

    /// - Parameter path: the output file, or "-" for standard output.
    init(path: String) throws {
        guard let h = pcap_open_dead_with_tstamp_precision(Self.linkType, Self.snapLength, UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
            throw IrqtraceError("libpcap could not open a capture handle for writing")
        }
        var temporary: String? = nil
        if path != "-" {
            let slash = path.lastIndex(of: "/")
            let folder = slash.map { String(path[..<$0]) } ?? "."
            let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
            temporary = (folder.isEmpty ? "" : folder + "/") + ".\(base).tmp-\(getpid())"
        }
        guard let d = pcap_dump_open(h, temporary ?? "-") else {
            let reason = String(cString: pcap_geterr(h))
            pcap_close(h)
            throw IrqtraceError("cannot create \(path): \(reason)", hint: "check that the folder exists and is writable")
        }
        self.handle = h
        self.dumper = d
        self.temporary = temporary
        self.final = path
    }

    /// Writes one packet stamped `time` ns (0 when negative: a pcap header holds unsigned seconds).
    mutating func dump(time: Int64, _ bytes: [UInt8]) {
        let t = max(time, 0)
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(t / 1_000_000_000)
        header.ts.tv_usec = Int(t % 1_000_000_000) // nanoseconds: the handle has nanosecond precision
        header.caplen = UInt32(bytes.count)
        header.len = UInt32(bytes.count)
        bytes.withUnsafeBufferPointer { b in
            pcap_dump(UnsafeMutableRawPointer(dumper).map { $0.assumingMemoryBound(to: UInt8.self) }, &header, b.baseAddress)
        }
        bytesWritten += 16 + bytes.count
    }

    /// Flushes, closes and renames the file over its final name.
    mutating func commit() throws {
        guard let d = dumper else { return }
        dumper = nil
        let flushed = pcap_dump_flush(d)
        pcap_dump_close(d)
        if let temporary {
            guard flushed == 0, rename(temporary, final) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(temporary)
                throw IrqtraceError("cannot write \(final): \(reason)")
            }
        } else if flushed != 0 {
            throw IrqtraceError("cannot write the pcap to standard output")
        }
    }

    deinit {
        if let d = dumper {
            pcap_dump_close(d)
            if let temporary { unlink(temporary) }
        }
        pcap_close(handle)
    }
}
