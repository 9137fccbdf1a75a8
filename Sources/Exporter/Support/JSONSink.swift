import TraceFormat

/// Byte-level JSON writing for exports that stream millions of records: escaped strings, integers,
/// nanoseconds as microseconds with three decimals; flushed to an ``OutputFile`` in 1 MiB pieces.
struct JSONSink {
    let out: OutputFile
    var bytes: [UInt8] = []

    init(_ out: OutputFile) {
        self.out = out
        bytes.reserveCapacity(1 << 20)
    }

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func int<T: BinaryInteger>(_ v: T) { bytes.append(contentsOf: String(v).utf8) }

    /// `ns` as microseconds with three decimals (Chrome trace-event `ts`/`dur` are in µs).
    mutating func micros(_ ns: Int64) {
        if ns < 0 { bytes.append(0x2D) }
        let a = ns.magnitude
        int(a / 1000)
        bytes.append(0x2E)
        let f = a % 1000
        if f < 100 { bytes.append(0x30) }
        if f < 10 { bytes.append(0x30) }
        int(f)
    }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(bytes: UnsafeRawBufferPointer($0)) }
    }

    mutating func string(bytes s: UnsafeRawBufferPointer) {
        bytes.append(0x22)
        for c in s {
            switch c {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)
            case 0x09: bytes.append(0x5C); bytes.append(0x74)
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
            default: bytes.append(c)
            }
        }
        bytes.append(0x22)
    }

    /// A `JSONValue` (findings and other small objects), compact.
    mutating func value(_ v: JSONValue) { raw(v.serialized()) }

    mutating func flushIfLarge() throws {
        if bytes.count >= 1 << 20 { try flush() }
    }

    mutating func flush() throws {
        try out.write(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
