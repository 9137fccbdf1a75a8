/// Byte-level writing and reading used by the container and its codecs.
/// Little-endian fixed-width integers and LEB128 varints (with zigzag for signed values).

@inlinable @inline(__always)
public func zigzagEncode(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

@inlinable @inline(__always)
public func zigzagDecode(_ u: UInt64) -> Int64 { Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1) }

/// Number of bytes `appendVarint` uses for `v`.
@inlinable @inline(__always)
public func varintSize(_ v: UInt64) -> Int {
    // 7 bits a byte: ⌊b/7⌋ + 1 bytes, b = 63 − lz the top bit's index (v | 1: zero takes one byte
    // too), branch-free. ⌊b/7⌋ = ⌊147·b/1024⌋ for every b < 64: an unsigned multiply and shift where
    // a signed division by 7 cost five more instructions (this runs per slot value per event).
    let b = UInt(bitPattern: 63 &- (v | 1).leadingZeroBitCount)
    return Int(bitPattern: (b &* 147) &>> 10) &+ 1
}

/// An append-only byte buffer.
public struct ByteSink: Sendable {
    public var bytes: [UInt8]
    public init(capacity: Int = 0) { bytes = []; bytes.reserveCapacity(capacity) }
    public var count: Int { bytes.count }

    @inlinable @inline(__always)
    public mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    @inlinable @inline(__always)
    public mutating func appendVarint(_ value: Int) { appendVarint(UInt64(value)) }
    @inlinable @inline(__always)
    public mutating func appendZigzag(_ value: Int64) { appendVarint(zigzagEncode(value)) }
    @inlinable
    public mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    /// Appends `count` zigzag varints, `size` bytes in all (the caller measured them with
    /// ``varintSize(_:)``), written through one pointer instead of an array append per byte.
    @inlinable
    public mutating func appendZigzags(count: Int, size: Int, _ value: (Int) -> Int64) {
        guard count > 0 else { return }
        var p = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: size))
        bytes.withUnsafeMutableBufferPointer { buf in
            for k in 0..<count {
                var v = zigzagEncode(value(k))
                while v >= 0x80 {
                    buf[p] = UInt8(truncatingIfNeeded: v) | 0x80
                    v >>= 7
                    p += 1
                }
                buf[p] = UInt8(truncatingIfNeeded: v)
                p += 1
            }
        }
        precondition(p == bytes.count, "appendZigzags: the measured size was wrong")
    }

    public mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }
    public mutating func append<S: Sequence>(contentsOf s: S) where S.Element == UInt8 { bytes.append(contentsOf: s) }
    /// A length-prefixed byte string.
    public mutating func appendBlob(_ blob: [UInt8]) { appendVarint(blob.count); bytes.append(contentsOf: blob) }
    public mutating func appendString(_ s: String) { appendBlob(Array(s.utf8)) }
}

/// Why a byte range could not be decoded.
public struct DecodeError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public init(offset: Int, _ message: String) { self.offset = offset; self.message = message }
    public var description: String { "at byte \(offset): \(message)" }
}

/// A bounds-checked cursor over bytes. Every read checks the remaining length, so damaged input throws
/// instead of crashing.
public struct ByteCursor {
    public let base: UnsafeRawBufferPointer
    public var position: Int
    public let end: Int
    /// Added to `position` in error messages (the file offset of `base`).
    public let origin: Int

    public init(_ base: UnsafeRawBufferPointer, position: Int = 0, end: Int? = nil, origin: Int = 0) {
        self.base = base
        self.position = position
        self.end = end ?? base.count
        self.origin = origin
    }

    public var remaining: Int { end - position }
    public var isAtEnd: Bool { position >= end }

    public func error(_ message: String) -> DecodeError { DecodeError(offset: origin + position, message) }

    @inlinable @inline(__always)
    public mutating func readByte() throws(DecodeError) -> UInt8 {
        guard position < end else { throw error("unexpected end of data") }
        let b = base[position]
        position += 1
        return b
    }

    @inlinable @inline(__always)
    public mutating func readVarint() throws(DecodeError) -> UInt64 {
        if end - position >= 10 {
            var p = position
            let v = try varint(at: &p)
            position = p
            return v
        }
        return try readVarintNearEnd()
    }

    /// The varint at `p`, with `p` moved past it, for a caller that keeps its own position (a column
    /// loop): at least 10 bytes (a varint's most) must be left from `p`, so no end check per byte.
    /// A malformed varint throws with the offset of its first byte, `p` left there.
    @inlinable @inline(__always)
    public func varint(at p: inout Int) throws(DecodeError) -> UInt64 {
        // (Positions wrap: they stay within the 10 bytes known to be there.)
        var b = base[p]
        if b < 0x80 { p &+= 1; return UInt64(b) }
        var result = UInt64(b & 0x7f)
        var shift: UInt64 = 7
        var i = p &+ 1
        while true {
            b = base[i]
            i &+= 1
            if shift == 63 && b > 1 { throw DecodeError(offset: origin + p, "varint overflows 64 bits") }
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { break }
            shift += 7
            if shift > 63 { throw DecodeError(offset: origin + p, "varint too long") }
        }
        p = i
        return result
    }

    @usableFromInline @inline(never)
    mutating func readVarintNearEnd() throws(DecodeError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw error("truncated varint") }
            let b = base[position]
            position += 1
            if shift == 63 && b > 1 { throw error("varint overflows 64 bits") }
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw error("varint too long") }
        }
    }

    @inlinable @inline(__always)
    public mutating func readZigzag() throws(DecodeError) -> Int64 { zigzagDecode(try readVarint()) }

    /// A varint that must fit in `limit` (a count or length); guards allocations driven by damaged input.
    public mutating func readCount(limit: Int) throws(DecodeError) -> Int {
        let v = try readVarint()
        guard v <= UInt64(limit) else { throw error("count \(v) exceeds limit \(limit)") }
        return Int(v)
    }

    public mutating func readLE<T: FixedWidthInteger>(_: T.Type) throws(DecodeError) -> T {
        let n = MemoryLayout<T>.size
        guard remaining >= n else { throw error("unexpected end of data reading \(n)-byte integer") }
        var v: T = 0
        withUnsafeMutableBytes(of: &v) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: base[position..<position + n]))
        }
        position += n
        return T(littleEndian: v)
    }

    public mutating func readBytes(_ n: Int) throws(DecodeError) -> [UInt8] {
        guard n >= 0, remaining >= n else { throw error("need \(n) bytes, \(remaining) left") }
        let out = Array(base[position..<position + n])
        position += n
        return out
    }

    public mutating func readBlob(limit: Int = 1 << 24) throws(DecodeError) -> [UInt8] {
        let n = try readCount(limit: min(limit, remaining))
        return try readBytes(n)
    }
}
