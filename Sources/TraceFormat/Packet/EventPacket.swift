/// The binary record of one event as irqtrace writes it into a pcap packet (`export --format pcap`)
/// and reads it back (`record FILE.pcap`). The layout is a contract with the Wireshark dissector
/// (`contrib/wireshark/irqtrace.lua`) and is documented in docs/PCAP.md. All integers big-endian
/// (network byte order).
///
/// ```
/// offset size field
///      0    4 magic "IRQE"
///      4    1 version (1)
///      5    1 vocabulary (``EventPacket/Vocabulary``)
///      6    1 clock domain (``ClockDomain`` raw value)
///      7    1 schema family (0 unbound, 1 qemu, 2 kvm, 3 host, 4 simulator)
///      8    4 flags (``EventPacket/Flags``)
///     12    8 event index (u64)
///     20    8 time (i64 ns, the event's clock domain)
///     28    4 cpu (i32, -1 absent)
///     32    4 thread (i32, -1 absent)
///     36    8 vector (i64)   44 8 irq (i64)   52 8 dest (i64)   60 8 apic_id (i64)  (0 when absent)
///     68    2 N: event name length, then N bytes of name
///      …    4 L: line length, then L bytes: the line its source printed (no newline)
///      …      sections to the end of the packet: u16 tag, u32 length, bytes
/// ```
public enum EventPacket {
    public static let magic: [UInt8] = [0x49, 0x52, 0x51, 0x45] // "IRQE"
    public static let version: UInt8 = 1
    /// LINKTYPE_USER0 (DLT_USER0): the pcap link type of the packets.
    public static let linkType: Int32 = 147
    /// Bytes before the event name.
    public static let fixedSize = 68

    /// Which importer's vocabulary the line is in (which tokenizer rebuilds it).
    public enum Vocabulary: UInt8, Sendable, CaseIterable {
        case unknown = 0
        case qemuLog = 1
        case ftraceText = 2
        case traceCmdReport = 3
        case perfScript = 4

        /// The vocabulary of events from a source of this kind (a trace.dat and a live tracefs
        /// recording hold the lines `trace-cmd report` prints).
        public init(_ source: SourceKind) {
            switch source {
            case .qemuLog: self = .qemuLog
            case .ftraceText: self = .ftraceText
            case .traceCmdReport, .traceDat, .tracefsLive: self = .traceCmdReport
            case .perfScript: self = .perfScript
            case .simulator, .mixed: self = .unknown
            }
        }

        /// The input format name of the importer that reads this vocabulary.
        public var formatName: String {
            switch self {
            case .unknown: "unknown"
            case .qemuLog: "qemu-log"
            case .ftraceText: "ftrace-text"
            case .traceCmdReport: "trace-cmd-report"
            case .perfScript: "perf-script"
            }
        }
    }

    /// Bits of the flags word.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let hasCPU = Flags(rawValue: 1 << 0)
        public static let hasThread = Flags(rawValue: 1 << 1)
        public static let hasVector = Flags(rawValue: 1 << 2)
        public static let hasIRQ = Flags(rawValue: 1 << 3)
        public static let hasDest = Flags(rawValue: 1 << 4)
        public static let hasAPICID = Flags(rawValue: 1 << 5)
        /// The event is the first of one of the trace's inputs (files).
        public static let startsInput = Flags(rawValue: 1 << 8)
        /// The source printed no newline after this line (an input's unterminated last line).
        public static let noNewline = Flags(rawValue: 1 << 9)
    }

    /// Tags of the trailing sections.
    public enum Section: UInt16, Sendable {
        /// The schema's fields as `name=value` separated by spaces (what `show --fields` prints).
        case fields = 1
        /// Header lines printed before this event (`# tracer: nop`, `cpus=2`), each newline-terminated.
        case preamble = 2
        /// The trace's metadata (the `.irqt` header JSON); in the first packet only.
        case metadata = 3
    }

    /// The family code of a schema family.
    public static func familyCode(_ f: SchemaFamily?) -> UInt8 {
        switch f {
        case nil: 0
        case .qemu: 1
        case .kvm: 2
        case .host: 3
        case .simulator: 4
        }
    }
}

/// Builds one ``EventPacket`` into a reused buffer.
public struct EventPacketEncoder {
    public private(set) var bytes: [UInt8] = []
    private var lineLengthAt = 0

    public init() { bytes.reserveCapacity(1024) }

    /// Starts a packet: the fixed part and the name. Then append the line with ``appendLine(_:)``
    /// (or write it into ``bytes`` between ``beginLine()`` and ``endLine()``) and any sections.
    public mutating func begin(vocabulary: EventPacket.Vocabulary, clock: UInt8, family: UInt8, flags: EventPacket.Flags,
                               index: UInt64, time: Int64, cpu: Int32, thread: Int32,
                               vector: Int64, irq: Int64, dest: Int64, apicID: Int64, name: [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: EventPacket.magic)
        bytes.append(EventPacket.version)
        bytes.append(vocabulary.rawValue)
        bytes.append(clock)
        bytes.append(family)
        put(flags.rawValue)
        put(index)
        put(UInt64(bitPattern: time))
        put(UInt32(bitPattern: cpu))
        put(UInt32(bitPattern: thread))
        put(UInt64(bitPattern: vector))
        put(UInt64(bitPattern: irq))
        put(UInt64(bitPattern: dest))
        put(UInt64(bitPattern: apicID))
        let n = min(name.count, Int(UInt16.max))
        put(UInt16(n))
        bytes.append(contentsOf: name.prefix(n))
    }

    /// Lets `body` append to the packet (the line, a section's content).
    public mutating func withBytes(_ body: (inout [UInt8]) -> Void) { body(&bytes) }

    public mutating func beginLine() {
        lineLengthAt = bytes.count
        put(UInt32(0))
    }

    public mutating func endLine() { patchLength(at: lineLengthAt) }

    public mutating func beginSection(_ tag: EventPacket.Section) {
        put(tag.rawValue)
        lineLengthAt = bytes.count
        put(UInt32(0))
    }

    public mutating func endSection() { patchLength(at: lineLengthAt) }

    public mutating func appendSection(_ tag: EventPacket.Section, _ content: [UInt8]) {
        beginSection(tag)
        bytes.append(contentsOf: content)
        endSection()
    }

    /// The trace metadata as the section ``EventPacket/Section/metadata`` holds it.
    public static func metadataJSON(_ m: TraceMetadata) -> [UInt8] { m.jsonBytes() }

    private mutating func patchLength(at k: Int) {
        let n = UInt32(bytes.count - k - 4)
        bytes[k] = UInt8(n >> 24); bytes[k + 1] = UInt8((n >> 16) & 0xFF)
        bytes[k + 2] = UInt8((n >> 8) & 0xFF); bytes[k + 3] = UInt8(n & 0xFF)
    }

    @inline(__always)
    private mutating func put<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// One decoded ``EventPacket``; the byte ranges point into the packet.
public struct DecodedEventPacket {
    public var vocabulary: EventPacket.Vocabulary
    public var clock: UInt8
    public var family: UInt8
    public var flags: EventPacket.Flags
    public var index: UInt64
    public var time: Int64
    public var cpu: Int32
    public var thread: Int32
    public var vector: Int64?
    public var irq: Int64?
    public var dest: Int64?
    public var apicID: Int64?
    public var name: Range<Int>
    public var line: Range<Int>
    public var fields: Range<Int>?
    public var preamble: Range<Int>?
    public var metadata: Range<Int>?

    /// Why a packet is not an irqtrace event record.
    public struct Malformed: Error, Sendable {
        public let reason: String
        public let offset: Int
    }

    /// Decodes `p`; throws ``Malformed`` with the offset of the first bad byte.
    public init(_ p: UnsafeRawBufferPointer) throws {
        guard p.count >= EventPacket.fixedSize + 2 + 4 else {
            throw Malformed(reason: "\(p.count) bytes: shorter than an irqtrace event record (\(EventPacket.fixedSize + 6))", offset: p.count)
        }
        guard p[0] == 0x49, p[1] == 0x52, p[2] == 0x51, p[3] == 0x45 else { throw Malformed(reason: "no IRQE magic", offset: 0) }
        guard p[4] == EventPacket.version else {
            throw Malformed(reason: "record version \(p[4]) is not supported; this irqtrace reads version \(EventPacket.version)", offset: 4)
        }
        func u16(_ k: Int) -> Int { Int(p[k]) << 8 | Int(p[k + 1]) }
        func u32(_ k: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(p[k + $1]) } }
        func u64(_ k: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(p[k + $1]) } }
        guard let v = EventPacket.Vocabulary(rawValue: p[5]) else { throw Malformed(reason: "unknown vocabulary \(p[5])", offset: 5) }
        vocabulary = v
        clock = p[6]
        family = p[7]
        flags = EventPacket.Flags(rawValue: u32(8))
        index = u64(12)
        time = Int64(bitPattern: u64(20))
        cpu = Int32(bitPattern: u32(28))
        thread = Int32(bitPattern: u32(32))
        vector = flags.contains(.hasVector) ? Int64(bitPattern: u64(36)) : nil
        irq = flags.contains(.hasIRQ) ? Int64(bitPattern: u64(44)) : nil
        dest = flags.contains(.hasDest) ? Int64(bitPattern: u64(52)) : nil
        apicID = flags.contains(.hasAPICID) ? Int64(bitPattern: u64(60)) : nil
        var k = EventPacket.fixedSize
        let n = u16(k)
        k += 2
        guard k + n + 4 <= p.count else { throw Malformed(reason: "event name of \(n) bytes runs past the packet", offset: k - 2) }
        name = k..<(k + n)
        k += n
        let l = Int(u32(k))
        k += 4
        guard k + l <= p.count else { throw Malformed(reason: "line of \(l) bytes runs past the packet", offset: k - 4) }
        line = k..<(k + l)
        k += l
        while k < p.count {
            guard k + 6 <= p.count else { throw Malformed(reason: "truncated section header", offset: k) }
            let tag = u16(k), length = Int(u32(k + 2))
            guard k + 6 + length <= p.count else { throw Malformed(reason: "section \(tag) of \(length) bytes runs past the packet", offset: k) }
            let range = (k + 6)..<(k + 6 + length)
            switch EventPacket.Section(rawValue: UInt16(tag)) {
            case .fields: fields = range
            case .preamble: preamble = range
            case .metadata: metadata = range
            case nil: break // a later minor addition: skipped
            }
            k = range.upperBound
        }
    }

    /// The trace metadata carried by the packet, if any.
    public func traceMetadata(in p: UnsafeRawBufferPointer) throws -> TraceMetadata? {
        guard let metadata else { return nil }
        return try TraceMetadata.decode(UnsafeRawBufferPointer(rebasing: p[metadata]))
    }
}

extension TraceMetadata {
    /// Takes what an exported trace's metadata says about its origin (source, machine, clock, KVM
    /// flavour, simulation and ground truth, live-recording facts) when a pcap export is recorded
    /// back; the inputs, command line and recorder stay this recording's own.
    public mutating func adoptExported(_ m: TraceMetadata) {
        source = m.source
        arch = m.arch
        clock = m.clock
        kvmFlavour = m.kvmFlavour
        topology = m.topology
        host = m.host
        kernel = m.kernel
        qemuVersion = m.qemuVersion
        simulation = m.simulation
        groundTruth = m.groundTruth
        live = m.live
    }
}
