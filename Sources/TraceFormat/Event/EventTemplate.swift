#if canImport(Glibc)
import Glibc
#endif

/// An event template: how one kind of trace line is spelled, with holes ("slots") for the values that
/// vary. A line is reprinted byte-for-byte from its template plus the event's time, CPU, thread and
/// slot values, which is what makes the container lossless for text sources.
///
/// A template is identified by its event name and its *skeleton*: the literal bytes of the line with
/// slot markers (byte 0xFF followed by a slot code; a literal 0xFF is written 0xFF 0xFF). The skeleton
/// is also the template's on-disk form.

/// How a number slot is printed.
public enum NumberStyle: UInt8, Sendable, Hashable {
    /// Signed decimal (`%d`, `%u`, `%lld`).
    case decimal = 0
    /// Lower-case hexadecimal without prefix (`%x`; a `0x` in front is literal text).
    case hexLower = 1
    /// Upper-case hexadecimal (`%X`).
    case hexUpper = 2
}

/// One piece of a template.
public enum TemplatePiece: Sendable, Hashable {
    /// Bytes printed as they are.
    case literal([UInt8])
    /// A number value, zero-padded to `width` digits.
    case number(NumberStyle, width: UInt8)
    /// A string value (an index into the chunk's string table).
    case string
    /// The event's thread id, in decimal.
    case thread
    /// The event's CPU, in decimal, padded to `width` with zeros (`zeroPad`) or spaces.
    case cpu(width: UInt8, zeroPad: Bool)
    /// The event's time as `SECONDS.FRACTION`: seconds space-padded to `secondsWidth`, `fractionDigits`
    /// (bit 7 set: the time is rounded to that many digits, as libtraceevent prints nanosecond
    /// timestamps in microseconds; else truncated)
    /// digits of fraction (6 for µs, 9 for ns).
    case time(fractionDigits: UInt8, secondsWidth: UInt8)
    /// The event's time as a plain integer (counter clocks).
    case rawTime
    /// Zero-width marker where the event's arguments begin (after its name); schemas are matched from here.
    case bodyStart

    /// True for the pieces that consume one slot value.
    public var isValueSlot: Bool {
        switch self {
        case .number, .string: true
        default: false
        }
    }
}

/// Slot codes in the skeleton encoding (after the 0xFF escape byte).
enum SkeletonCode {
    static let escape: UInt8 = 0xFF
    static let number: UInt8 = 0x01
    static let string: UInt8 = 0x02
    static let thread: UInt8 = 0x03
    static let cpu: UInt8 = 0x04
    static let time: UInt8 = 0x05
    static let rawTime: UInt8 = 0x06
    static let bodyStart: UInt8 = 0x07
}

/// Builds a skeleton incrementally into a reusable buffer (no allocation once warmed up).
public struct SkeletonBuilder: Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var valueCount = 0

    public init() { bytes.reserveCapacity(256) }

    public mutating func reset() { bytes.removeAll(keepingCapacity: true); valueCount = 0 }

    @inline(__always)
    public mutating func appendLiteral(_ b: UInt8) {
        if b == 0xFF { bytes.append(0xFF) }
        bytes.append(b)
    }
    public mutating func appendLiteral(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        if memchr(base, 0xFF, raw.count) == nil {
            // Typed as UInt8 elements, the append is one memcpy.
            bytes.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: raw.count))
        } else {
            for b in raw { appendLiteral(b) }
        }
    }
    public mutating func appendLiteral(_ s: String) { for b in s.utf8 { appendLiteral(b) } }
    public mutating func appendNumber(_ style: NumberStyle, width: UInt8 = 0) {
        let code: (UInt8, UInt8, UInt8, UInt8) = (0xFF, SkeletonCode.number, style.rawValue, width)
        withUnsafeBytes(of: code) { bytes.append(contentsOf: $0.bindMemory(to: UInt8.self)) }
        valueCount += 1
    }
    public mutating func appendString() {
        bytes.append(0xFF); bytes.append(SkeletonCode.string); valueCount += 1
    }
    public mutating func appendThread() { bytes.append(0xFF); bytes.append(SkeletonCode.thread) }
    public mutating func appendCPU(width: UInt8, zeroPad: Bool) {
        bytes.append(0xFF); bytes.append(SkeletonCode.cpu); bytes.append(width); bytes.append(zeroPad ? 1 : 0)
    }
    public mutating func appendTime(fractionDigits: UInt8, secondsWidth: UInt8, rounded: Bool = false) {
        bytes.append(0xFF); bytes.append(SkeletonCode.time); bytes.append(fractionDigits | (rounded ? 0x80 : 0)); bytes.append(secondsWidth)
    }
    public mutating func appendRawTime() { bytes.append(0xFF); bytes.append(SkeletonCode.rawTime) }
    /// Overwrites one skeleton byte (a code's parameter).
    public mutating func setByte(at index: Int, _ value: UInt8) { bytes[index] = value }
    /// Drops everything after the first `count` bytes, which held `valueCount` slots.
    public mutating func truncate(to count: Int, valueCount: Int) {
        bytes.removeSubrange(count...)
        self.valueCount = valueCount
    }

    /// Appends skeleton bytes made by another builder (with its `valueCount` slots).
    public mutating func appendSkeleton(_ other: [UInt8], valueCount: Int = 0) {
        bytes.append(contentsOf: other)
        self.valueCount += valueCount
    }
    public mutating func appendBodyStart() { bytes.append(0xFF); bytes.append(SkeletonCode.bodyStart) }
}

/// A template with its pieces decoded, ready for printing and field look-up.
public struct EventTemplate: Sendable {
    /// The event name as the source spells it (`apic_deliver_irq`, `kvm_exit`).
    public let name: String
    /// The skeleton bytes (see the type comment).
    public let skeleton: [UInt8]
    public let pieces: [TemplatePiece]
    /// How many slot values each event of this template carries.
    public let valueCount: Int
    /// The schema this template was matched to, with where each schema field comes from.
    public let binding: SchemaBinding?

    public init(name: String, skeleton: [UInt8]) throws(DecodeError) {
        self.name = name
        self.skeleton = skeleton
        self.pieces = try EventTemplate.decodePieces(skeleton)
        self.valueCount = pieces.reduce(0) { $0 + ($1.isValueSlot ? 1 : 0) }
        self.binding = SchemaRegistry.shared.bind(name: name, pieces: pieces)
    }

    static func decodePieces(_ sk: [UInt8]) throws(DecodeError) -> [TemplatePiece] {
        var pieces: [TemplatePiece] = []
        var lit: [UInt8] = []
        var i = 0
        func flush() { if !lit.isEmpty { pieces.append(.literal(lit)); lit = [] } }
        func need(_ n: Int) throws(DecodeError) { if i + n > sk.count { throw DecodeError(offset: i, "truncated template skeleton") } }
        while i < sk.count {
            if sk[i] != SkeletonCode.escape {
                // A run of plain bytes, appended at once.
                var e = i + 1
                while e < sk.count, sk[e] != SkeletonCode.escape { e += 1 }
                lit.append(contentsOf: sk[i..<e])
                i = e
                continue
            }
            try need(2)
            let code = sk[i + 1]
            i += 2
            switch code {
            case SkeletonCode.escape: lit.append(0xFF)
            case SkeletonCode.number:
                try need(2)
                guard let style = NumberStyle(rawValue: sk[i]) else { throw DecodeError(offset: i, "unknown number style \(sk[i])") }
                flush(); pieces.append(.number(style, width: sk[i + 1])); i += 2
            case SkeletonCode.string: flush(); pieces.append(.string)
            case SkeletonCode.thread: flush(); pieces.append(.thread)
            case SkeletonCode.cpu:
                try need(2); flush(); pieces.append(.cpu(width: sk[i], zeroPad: sk[i + 1] != 0)); i += 2
            case SkeletonCode.time:
                try need(2)
                guard sk[i] & 0x7F <= 9 else { throw DecodeError(offset: i, "time fraction digits \(sk[i] & 0x7F) > 9") }
                flush(); pieces.append(.time(fractionDigits: sk[i], secondsWidth: sk[i + 1])); i += 2
            case SkeletonCode.rawTime: flush(); pieces.append(.rawTime)
            case SkeletonCode.bodyStart: flush(); pieces.append(.bodyStart)
            default: throw DecodeError(offset: i - 1, "unknown skeleton code \(code)")
            }
        }
        flush()
        return pieces
    }

    /// True when the template prints a time (so the event's time is part of the line).
    public var printsTime: Bool {
        pieces.contains { if case .time = $0 { true } else if case .rawTime = $0 { true } else { false } }
    }
}
