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
///
/// The bytes live in a buffer of its own (copied on write, so the builder is a value like an
/// array), not an `[UInt8]`: a line's skeleton is built from ~10 appends of a few bytes each, and
/// `Array.append(contentsOf:)` cost ~90 instructions per call, a memchr for the escape byte ~20 more
/// (together ~15 % of `record`). Read the bytes with ``withUnsafeBytes(_:)`` where it is hot;
/// ``bytes`` makes an array.
public struct SkeletonBuilder: @unchecked Sendable {
    @usableFromInline final class Storage {
        // (Unchecked: a builder's storage is used by one thread at a time, and is copied before a
        // write when shared.)
        @exclusivity(unchecked) @usableFromInline var base: UnsafeMutablePointer<UInt8>
        @exclusivity(unchecked) @usableFromInline var count = 0
        @exclusivity(unchecked) @usableFromInline var capacity: Int

        init(capacity: Int) {
            self.capacity = Swift.max(capacity, 16)
            base = .allocate(capacity: self.capacity)
        }

        deinit { base.deallocate() }

        @usableFromInline func copy() -> Storage {
            let s = Storage(capacity: capacity)
            s.base.update(from: base, count: count)
            s.count = count
            return s
        }

        @inline(never) @usableFromInline
        func grow(toHold n: Int) {
            let c = Swift.max(n, 2 * capacity)
            let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
            b.update(from: base, count: count)
            base.deallocate()
            base = b
            capacity = c
        }
    }

    @usableFromInline var storage = Storage(capacity: 256)
    public private(set) var valueCount = 0

    public init() {}

    /// The skeleton bytes so far, as a new array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
    /// How many skeleton bytes so far.
    public var count: Int { storage.count }

    /// The skeleton bytes so far, without a copy (valid inside `body` only).
    @inlinable @inline(__always)
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.base, count: storage.count))
    }

    /// Room for `n` more bytes, counted in: where to write them.
    @inlinable @inline(__always)
    mutating func extend(by n: Int) -> UnsafeMutablePointer<UInt8> {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        let s = storage
        if s.count + n > s.capacity { s.grow(toHold: s.count + n) }
        let p = s.base + s.count
        s.count += n
        return p
    }

    public mutating func reset() {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(capacity: storage.capacity) }
        storage.count = 0
        valueCount = 0
    }

    @inline(__always)
    public mutating func appendLiteral(_ b: UInt8) {
        if b == 0xFF {
            let p = extend(by: 2)
            p[0] = 0xFF
            p[1] = 0xFF
        } else {
            extend(by: 1).pointee = b
        }
    }
    public mutating func appendLiteral(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress, raw.count > 0 else { return }
        let n = raw.count
        let src = base.assumingMemoryBound(to: UInt8.self)
        if memchr(base, 0xFF, n) == nil {
            extend(by: n).update(from: src, count: n)
        } else {
            for k in 0..<n { appendLiteral(src[k]) }
        }
    }
    public mutating func appendLiteral(_ s: String) { for b in s.utf8 { appendLiteral(b) } }
    /// An escape, `code`, and the code's parameter bytes.
    @inline(__always)
    mutating func appendCode(_ code: UInt8) {
        let p = extend(by: 2)
        p[0] = SkeletonCode.escape; p[1] = code
    }
    @inline(__always)
    mutating func appendCode(_ code: UInt8, _ a: UInt8, _ b: UInt8) {
        let p = extend(by: 4)
        p[0] = SkeletonCode.escape; p[1] = code; p[2] = a; p[3] = b
    }

    public mutating func appendNumber(_ style: NumberStyle, width: UInt8 = 0) {
        appendCode(SkeletonCode.number, style.rawValue, width)
        valueCount += 1
    }
    public mutating func appendString() {
        appendCode(SkeletonCode.string)
        valueCount += 1
    }
    public mutating func appendThread() { appendCode(SkeletonCode.thread) }
    public mutating func appendCPU(width: UInt8, zeroPad: Bool) { appendCode(SkeletonCode.cpu, width, zeroPad ? 1 : 0) }
    public mutating func appendTime(fractionDigits: UInt8, secondsWidth: UInt8, rounded: Bool = false) {
        appendCode(SkeletonCode.time, fractionDigits | (rounded ? 0x80 : 0), secondsWidth)
    }
    public mutating func appendRawTime() { appendCode(SkeletonCode.rawTime) }
    /// Overwrites one skeleton byte (a code's parameter).
    public mutating func setByte(at index: Int, _ value: UInt8) {
        precondition(index >= 0 && index < storage.count, "skeleton byte \(index) out of range")
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        storage.base[index] = value
    }
    /// Drops everything after the first `count` bytes, which held `valueCount` slots.
    public mutating func truncate(to count: Int, valueCount: Int) {
        precondition(count >= 0 && count <= storage.count, "skeleton truncated to \(count) of \(storage.count) bytes")
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        storage.count = count
        self.valueCount = valueCount
    }

    /// Appends skeleton bytes made by another builder (with its `valueCount` slots).
    public mutating func appendSkeleton(_ other: [UInt8], valueCount: Int = 0) {
        other.withUnsafeBufferPointer { o in
            if let b = o.baseAddress, o.count > 0 { extend(by: o.count).update(from: b, count: o.count) }
        }
        self.valueCount += valueCount
    }
    public mutating func appendBodyStart() { appendCode(SkeletonCode.bodyStart) }
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
