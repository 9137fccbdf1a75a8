/// A classic pcap file read natively from its bytes (the input is already memory-mapped or
/// decompressed by ``InputFile``; libpcap's offline reader would need a path or `FILE*` and could
/// not read a `.pcap.zst`). Both byte orders, microsecond (`a1b2c3d4`) and nanosecond (`a1b23c4d`)
/// timestamps. pcapng is recognised and refused with a conversion hint.
struct PcapFile {
    /// `a1b2c3d4` µs, `a1b23c4d` ns, as written in the file's own byte order.
    static let microMagic: UInt32 = 0xA1B2_C3D4
    static let nanoMagic: UInt32 = 0xA1B2_3C4D
    /// pcapng's Section Header Block type (the same in both byte orders).
    static let pcapngMagic: [UInt8] = [0x0A, 0x0D, 0x0D, 0x0A]
    static let headerSize = 24
    static let recordHeaderSize = 16

    /// LINKTYPE_ / DLT_ names of common link types, for error messages.
    static func linkTypeName(_ t: UInt32) -> String {
        switch t {
        case 0: "DLT_NULL"
        case 1: "DLT_EN10MB"
        case 101: "DLT_RAW"
        case 105: "DLT_IEEE802_11"
        case 113: "DLT_LINUX_SLL"
        case 147...162: "DLT_USER\(t - 147)"
        case 228: "DLT_IPV4"
        case 229: "DLT_IPV6"
        case 276: "DLT_LINUX_SLL2"
        default: "DLT \(t)"
        }
    }

    struct Malformed: Error {
        let message: String
        let offset: Int
    }

    let bigEndian: Bool
    let nanoseconds: Bool
    let linkType: UInt32
    let snapLength: UInt32

    /// True when `bytes` start like a pcap or pcapng file.
    static func isPcap(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 else { return false }
        if zip(bytes.prefix(4), pcapngMagic).allSatisfy({ $0 == $1 }) { return true }
        let le = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        return [microMagic, nanoMagic, microMagic.byteSwapped, nanoMagic.byteSwapped].contains(le)
    }

    init(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= 4, zip(bytes.prefix(4), Self.pcapngMagic).allSatisfy({ $0 == $1 }) {
            throw Malformed(message: "a pcapng file: irqtrace reads classic pcap (what `export --format pcap` writes); convert it with `editcap -F pcap IN OUT`", offset: 0)
        }
        guard bytes.count >= Self.headerSize else {
            throw Malformed(message: "\(bytes.count) bytes: shorter than a pcap file header (24)", offset: 0)
        }
        let le = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        switch le {
        case Self.microMagic: (bigEndian, nanoseconds) = (false, false)
        case Self.nanoMagic: (bigEndian, nanoseconds) = (false, true)
        case Self.microMagic.byteSwapped: (bigEndian, nanoseconds) = (true, false)
        case Self.nanoMagic.byteSwapped: (bigEndian, nanoseconds) = (true, true)
        default: throw Malformed(message: "not a pcap file (magic \(String(le, radix: 16)))", offset: 0)
        }
        let big = bigEndian
        func u32(_ k: Int) -> UInt32 { Self.u32(bytes, k, bigEndian: big) }
        snapLength = u32(16)
        // The upper bits of the link-type word hold FCS information (pcap-savefile(5)).
        linkType = u32(20) & 0x0FFF_FFFF
    }

    @inline(__always)
    static func u32(_ b: UnsafeRawBufferPointer, _ k: Int, bigEndian: Bool) -> UInt32 {
        let x = UInt32(b[k]) | UInt32(b[k + 1]) << 8 | UInt32(b[k + 2]) << 16 | UInt32(b[k + 3]) << 24
        return bigEndian ? x.byteSwapped : x
    }

    /// Calls `body` with each packet's timestamp (ns), its captured bytes and the offset of its record.
    /// Throws ``Malformed`` for a record cut short or captured shorter than it was (snapped).
    func forEachPacket(_ bytes: UnsafeRawBufferPointer, _ body: (Int64, UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var k = Self.headerSize
        while k < bytes.count {
            guard k + Self.recordHeaderSize <= bytes.count else {
                throw Malformed(message: "packet record header cut short (\(bytes.count - k) of 16 bytes)", offset: k)
            }
            let seconds = Int64(Self.u32(bytes, k, bigEndian: bigEndian))
            let fraction = Int64(Self.u32(bytes, k + 4, bigEndian: bigEndian))
            let captured = Int(Self.u32(bytes, k + 8, bigEndian: bigEndian))
            let original = Int(Self.u32(bytes, k + 12, bigEndian: bigEndian))
            let start = k + Self.recordHeaderSize
            guard start + captured <= bytes.count else {
                throw Malformed(message: "packet of \(captured) bytes cut short (\(bytes.count - start) in the file)", offset: k)
            }
            guard captured == original else {
                throw Malformed(message: "packet captured with \(captured) of its \(original) bytes (snapped)", offset: k)
            }
            let time = seconds * 1_000_000_000 + (nanoseconds ? fraction : fraction * 1000)
            try body(time, UnsafeRawBufferPointer(rebasing: bytes[start..<(start + captured)]), k)
            k = start + captured
        }
    }
}
