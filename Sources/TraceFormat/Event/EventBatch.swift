/// The events of one decoded chunk, column by column. Per-event access is by index; slot values
/// live in one flat array, grouped by template (a column per template slot), so decoding touches
/// only fixed-size values and allocates a handful of arrays per chunk, never per event.
public struct EventBatch: Sendable {
    /// Global index of the batch's first event in the trace.
    public internal(set) var firstEventIndex: Int

    /// The trace-wide index of event `i` (`firstEventIndex + i`, wrapping: no trace has 2^63 events).
    @inlinable @inline(__always)
    public func eventIndex(_ i: Int) -> Int { firstEventIndex &+ i }
    public internal(set) var count: Int
    /// Time in ns of each event, in the trace's clock domain (empty when the ``DecodeScope`` left
    /// times out: reading one then traps).
    public internal(set) var times: [Int64]
    /// CPU of each event (-1: the source does not say).
    public internal(set) var cpus: [Int32]
    /// Thread or process id of each event (-1: the source does not say).
    public internal(set) var threads: [Int32]
    /// Clock domain / machine of each event (``ClockDomain`` raw value).
    public internal(set) var domains: [UInt8]
    /// Catalog id of each event's template.
    public internal(set) var templates: [UInt32]
    /// Chunk-local template index of each event.
    @usableFromInline var localTemplates: [UInt32]
    /// Row of each event within its template's columns.
    @usableFromInline var rows: [UInt32]
    /// For each local template: where its columns start in `values`, and its number of events.
    @usableFromInline var columnBase: [Int]
    @usableFromInline var columnLength: [Int]
    /// Slot values: for local template t, slot s, row r: `values[columnBase[t] + s * columnLength[t] + r]`.
    @usableFromInline var values: [Int64]
    /// The chunk's string table (string slots hold indices into it).
    public internal(set) var strings: [[UInt8]]

    /// An empty batch, whose storage the decoder then reuses chunk after chunk.
    public init() {
        self.init(firstEventIndex: 0, times: [], cpus: [], threads: [], domains: [], templates: [], localTemplates: [],
                  rows: [], columnBase: [], columnLength: [], values: [], strings: [])
    }

    init(firstEventIndex: Int, times: [Int64], cpus: [Int32], threads: [Int32], domains: [UInt8],
         templates: [UInt32], localTemplates: [UInt32], rows: [UInt32], columnBase: [Int], columnLength: [Int],
         values: [Int64], strings: [[UInt8]]) {
        // The invariant the per-event readers below rely on (the decoder keeps it chunk after chunk).
        let n = cpus.count
        precondition([threads.count, domains.count, templates.count, localTemplates.count, rows.count].allSatisfy { $0 == n }
                     && columnBase.count == columnLength.count && localTemplates.allSatisfy { Int($0) < columnBase.count },
                     "an event batch's columns must hold the same events")
        self.firstEventIndex = firstEventIndex
        self.count = cpus.count
        self.times = times
        self.cpus = cpus
        self.threads = threads
        self.domains = domains
        self.templates = templates
        self.localTemplates = localTemplates
        self.rows = rows
        self.columnBase = columnBase
        self.columnLength = columnLength
        self.values = values
        self.strings = strings
    }

    // Per-event readers. Every per-event column but `times` (cpus, threads, domains, templates, local
    // templates, rows) holds exactly `count` events — the decoder sizes them together and checks each
    // local template index against the chunk's template table, which `columnBase`/`columnLength`
    // describe — so one range check of `i` against `count` covers them all: a loop reading several
    // columns of one event pays one compare (the same one, which the optimizer merges), not one per
    // array (callgrind: ~18 instructions per replayed event were array bounds checks). `times` is
    // empty in a batch decoded without them (``DecodeScope``), so its reader keeps the array's check.

    @inlinable @inline(__always)
    func checkIndex(_ i: Int) {
        precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "event index out of range")
    }

    /// Time in ns of event `i` (``times``).
    @inlinable @inline(__always)
    public func time(_ i: Int) -> Int64 { times[i] }

    /// CPU of event `i` (``cpus``).
    @inlinable @inline(__always)
    public func cpu(_ i: Int) -> Int32 { checkIndex(i); return cpus.withUnsafeBufferPointer { $0[i] } }

    /// Thread of event `i` (``threads``).
    @inlinable @inline(__always)
    public func thread(_ i: Int) -> Int32 { checkIndex(i); return threads.withUnsafeBufferPointer { $0[i] } }

    /// Catalog template id of event `i` (``templates``).
    @inlinable @inline(__always)
    public func template(_ i: Int) -> UInt32 { checkIndex(i); return templates.withUnsafeBufferPointer { $0[i] } }

    /// Slot `slot` of event `i` (a number, or an index into ``strings`` for a string slot).
    @inlinable @inline(__always)
    public func value(_ i: Int, slot: Int) -> Int64 { value(row(i), slot: slot) }

    /// Calls `body` with the batch's event indices in consecutive ranges of at most `size` events
    /// (one range when `size` is at least the count): a consumer handed work every so many events.
    @inlinable
    public func forEachSlice(of size: Int, _ body: (Range<Int>) throws -> Void) rethrows {
        var start = 0
        while start < count {
            let stop = count - start > size ? start + size : count
            try body(start..<stop)
            start = stop
        }
    }

    /// Where event `i`'s slot values are: read several slots of one event without finding its
    /// template's columns again for each.
    @inlinable @inline(__always)
    public func row(_ i: Int) -> EventRow {
        checkIndex(i)
        let t = localTemplates.withUnsafeBufferPointer { Int($0[i]) }
        let r = rows.withUnsafeBufferPointer { Int($0[i]) }
        let (base, stride) = columnBase.withUnsafeBufferPointer { cb in columnLength.withUnsafeBufferPointer { cl in (cb[t], cl[t]) } }
        // (Wrapping: a base is a column's start or `absentColumns`, far from overflowing by a row.)
        return EventRow(base: base &+ r, stride: stride)
    }

    /// Slot `slot` of the event at `row`.
    @inlinable @inline(__always)
    public func value(_ row: EventRow, slot: Int) -> Int64 {
        // (Wrapping, and one unsigned compare for both bounds: any index out of the values traps,
        // one below `absentColumns` included.)
        let k = row.base &+ slot &* row.stride
        return values.withUnsafeBufferPointer { v in
            precondition(UInt(bitPattern: k) < UInt(bitPattern: v.count), "value index out of range")
            return v[k]
        }
    }

    /// The digits of a non-negative decimal number read as hexadecimal (10 → 0x10).
    @inlinable @inline(__always)
    public static func decimalDigitsAsHex(_ v: Int64) -> Int64 {
        // Two digits without the loop or a call: a vector such as kvm_inj_virq's "IRQ 0x44" on
        // every injection.
        if v > 0 && v < 100 { return (v / 10) << 4 | v % 10 }
        return decimalDigitsAsHexLong(v)
    }

    @usableFromInline @inline(never)
    static func decimalDigitsAsHexLong(_ v: Int64) -> Int64 {
        guard v > 0 else { return v }
        var x = UInt64(v), r: UInt64 = 0, shift: UInt64 = 0
        while x > 0, shift < 64 { r |= (x % 10) << shift; x /= 10; shift += 4 }
        return Int64(bitPattern: r)
    }

    /// The value of a schema field of event `i`, or nil when it is text.
    @inlinable
    public func number(_ i: Int, _ source: FieldSource) -> Int64? {
        switch source {
        case .slot(let s): value(i, slot: s)
        case .hexDigitsSlot(let s): Self.decimalDigitsAsHex(value(i, slot: s))
        case .constant(let v): v
        case .text, .composite: nil
        }
    }

    /// The text of a schema field of event `i` (a string slot, fixed text, or a number printed in decimal).
    public func text(_ i: Int, _ source: FieldSource, template: EventTemplate) -> String {
        switch source {
        case .slot(let s):
            let v = value(i, slot: s)
            if template.slotIsString(s), v >= 0, Int(v) < strings.count { return String(decoding: strings[Int(v)], as: UTF8.self) }
            if case .number(let style, _)? = template.slotPiece(s), style != .decimal {
                return "0x" + String(UInt64(bitPattern: v), radix: 16, uppercase: style == .hexUpper)
            }
            return String(v)
        case .hexDigitsSlot(let s): return "0x" + String(UInt64(bitPattern: Self.decimalDigitsAsHex(value(i, slot: s))), radix: 16)
        case .constant(let v): return String(v)
        case .text(let t): return t
        case .composite(let parts):
            var out: [UInt8] = []
            for p in parts {
                switch p {
                case .literal(let b): out += b
                case .number(let s, let style, let width): LinePrinter.appendNumber(value(i, slot: s), style: style, width: Int(width), to: &out)
                case .string(let s):
                    let k = value(i, slot: s)
                    if k >= 0, Int(k) < strings.count { out += strings[Int(k)] }
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

extension EventTemplate {
    /// True when slot `s` holds a string index.
    public func slotIsString(_ s: Int) -> Bool {
        if case .string? = slotPiece(s) { return true }
        return false
    }

    /// The piece of slot `s`.
    public func slotPiece(_ s: Int) -> TemplatePiece? {
        var k = 0
        for p in pieces where p.isValueSlot {
            if k == s { return p }
            k += 1
        }
        return nil
    }
}

/// An event's place in its batch's slot columns (``EventBatch/row(_:)``).
public struct EventRow: Sendable {
    public let base: Int
    public let stride: Int
    @inlinable public init(base: Int, stride: Int) { self.base = base; self.stride = stride }
}
