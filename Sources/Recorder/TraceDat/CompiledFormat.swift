import TraceFormat

/// An event's print format compiled for building templates straight from binary records: integer
/// conversions (`%d %i %u %x %X` with their flags, width and precision) become number slots; every
/// other item (`%s`, symbolic and flag lists, `%p` extensions, `%c`, `*` widths) is printed by the
/// ``EventPrinter`` and kept as template text. Only for events libtraceevent prints from the format
/// alone (no plugin, not failed, not `bprint`).
final class CompiledFormat {
    /// Plain data (no references), so the per-record loop retains nothing.
    struct Number {
        /// Offset and size of a plain field argument; size 0 = evaluate `exprs[expr]`.
        var fieldOffset: Int
        var fieldSize: Int
        /// The casts around the field (`(unsigned long long)REC->x`), as a mask on what it reads.
        var castMask: UInt64 = .max
        var expr: Int
        var mask: UInt64
        var bits: Int
        var conv: UInt8
        var width: Int
        var minus: Bool
        var zero: Bool
        var hash: Bool
        /// -1: none.
        var precision: Int
    }

    enum Kind: UInt8 { case literal, number, text }
    struct Op {
        var kind: Kind
        /// literal: start in `literalBytes`; number: index in `numbers`; text: index in `texts`.
        var index: Int
        /// literal: end in `literalBytes`; text: 1 when it is the last item.
        var end: Int
    }

    /// A number read straight from the record and printed without width, precision or `#`: its
    /// slot's skeleton never varies, so it adds nothing to the shape.
    struct PlainNumber {
        var offset: Int
        var size: Int
        /// Casts' mask and the conversion's length mask, together.
        var mask: UInt64
        /// Sign bit of the conversion's length for `%d %i` (0: not signed).
        var signBit: UInt64
        /// `%u`: a value above 2^63 fits no slot.
        var unsigned: Bool
        /// `DatReader.loadMask` of the field (0: read by `DatReader.number`).
        var loadMask: UInt64
    }

    /// A text item printed straight from the record, without the printer (what
    /// `EventPrinter.printStrArg` prints for it, with no width, precision or `*`).
    enum DirectText {
        /// `%s` of a char array field: its bytes up to a NUL or its end (the record's end).
        case fixedString(offset: Int, size: Int)
        /// `%s` of `__get_str(f)`: the string at the field's data location, up to a NUL; nothing
        /// when its length is 0.
        case dynamicString(offset: Int, size: Int, relative: Bool)
        /// `__print_symbolic(x, …)` of a plain read: the name of the first entry of x's value,
        /// else the value as `0x` hex.
        case symbols(offset: Int, size: Int, mask: UInt64, names: [(value: Int64, str: [UInt8])])
        /// `__print_symbolic(x, …)` of any other expression (`(REC->dm >> 8 & 0x7)`): x evaluated by
        /// the printer, then as `symbols`.
        case symbolsOf(PExpr, names: [(value: Int64, str: [UInt8])])
        /// `cond ? "a" : "b"` of a plain read: the text of the branch its value picks
        /// (print_str_arg of the branch, an atom's text).
        case conditional(offset: Int, size: Int, mask: UInt64, yes: [UInt8], no: [UInt8])
        /// Printed by the printer.
        case printed
    }

    let ops: [Op]
    /// By text index (`Op.index` of a `.text` op).
    let directTexts: [DirectText]
    /// Set when the format is all literals and plain numbers: `fill` is then one loop over them.
    let plainNumbers: [PlainNumber]?
    let literalBytes: [UInt8]
    let numbers: [Number]
    let exprs: [PExpr]
    let texts: [PrintItem]
    let big: Bool

    /// `longSize`: the file's kernel long size (`EventPrinter.longSize`).
    init?(_ e: DatEvent, bigEndian: Bool, longSize: Int) {
        e.ensurePrintFormat()
        guard e.plugin == .none, !e.failed, !e.isBprint else { return nil }
        big = bigEndian
        var ops: [Op] = [], lits: [UInt8] = [], nums: [Number] = [], exprs: [PExpr] = [], texts: [PrintItem] = []
        for (k, item) in e.items.enumerated() {
            let last = k == e.items.count - 1
            switch item {
            case .literal(var b):
                // The report drops the line's final newline.
                if last, b.last == 0x0A { b.removeLast() }
                guard !b.isEmpty else { continue }
                ops.append(Op(kind: .literal, index: lits.count, end: lits.count + b.count))
                lits += b
            case .number(let spec, let arg, let lenArg, let ls):
                let simple = lenArg == nil && !spec.widthStar && !spec.precisionStar && !spec.plus && !spec.space
                    && (spec.width ?? 0) < 200 && (spec.precision ?? 0) < 200
                guard simple, [0x64, 0x69, 0x75, 0x78, 0x58].contains(spec.conv) else {
                    ops.append(Op(kind: .text, index: texts.count, end: last ? 1 : 0))
                    texts.append(item)
                    continue
                }
                let bits = ls <= -2 ? 8 : ls == -1 ? 16 : ls == 0 ? 32 : 64
                var offset = 0, size = 0, castMask = UInt64.max
                if let read = Self.plainRead(arg) { (offset, size, castMask) = read }
                ops.append(Op(kind: .number, index: nums.count, end: 0))
                nums.append(Number(fieldOffset: offset, fieldSize: size, castMask: castMask, expr: exprs.count,
                                   mask: bits == 64 ? .max : (1 << UInt64(bits)) - 1, bits: bits, conv: spec.conv,
                                   width: spec.width ?? 0, minus: spec.minus, zero: spec.zero, hash: spec.hash,
                                   precision: spec.precision ?? -1))
                exprs.append(arg)
            case .pointer, .string:
                ops.append(Op(kind: .text, index: texts.count, end: last ? 1 : 0))
                texts.append(item)
            }
        }
        self.ops = ops
        directTexts = texts.map { Self.directText($0, longSize: longSize) }
        var plain: [PlainNumber]? = []
        if ops.contains(where: { $0.kind == .text }) || nums.count > RecordShape.valueCapacity { plain = nil }
        for n in nums where plain != nil {
            guard n.fieldSize != 0, n.width == 0, n.precision < 0, !(n.hash && (n.conv == 0x78 || n.conv == 0x58)) else { plain = nil; break }
            let signed = n.conv == 0x64 || n.conv == 0x69
            plain!.append(PlainNumber(offset: n.fieldOffset, size: n.fieldSize, mask: n.castMask & n.mask,
                                      signBit: signed && n.bits < 64 ? 1 << UInt64(n.bits - 1) : 0, unsigned: n.conv == 0x75,
                                      loadMask: DatReader.loadMask(n.fieldSize, big: bigEndian)))
        }
        plainNumbers = plain
        literalBytes = lits
        numbers = nums
        self.exprs = exprs
        self.texts = texts
    }

    /// The direct form of a text item, when it has one.
    static func directText(_ item: PrintItem, longSize: Int) -> DirectText {
        guard case .string(let spec, let arg, let lenArg) = item, lenArg == nil, spec.width == nil, spec.precision == nil,
              !spec.widthStar, !spec.precisionStar else { return .printed }
        switch arg {
        case .field(let f):
            // A long-sized scalar is a trace_printk string address (print_str_arg): printed.
            guard f.size > 0, f.isArray || f.size != longSize else { return .printed }
            return .fixedString(offset: f.offset, size: f.size)
        case .string(let f):
            guard let f else { return .printed }
            return .dynamicString(offset: f.offset, size: f.size, relative: f.isRelative)
        case .symbols(let x, let names):
            guard let read = plainRead(x) else { return .symbolsOf(x, names: names) }
            return .symbols(offset: read.offset, size: read.size, mask: read.castMask, names: names)
        case .cond(let c, let x, let y):
            guard let read = plainRead(c), let yes = literalText(x), let no = literalText(y) else { return .printed }
            return .conditional(offset: read.offset, size: read.size, mask: read.castMask, yes: yes, no: no)
        default:
            return .printed
        }
    }

    /// What `EventPrinter.printStrArg` prints for a literal branch of a conditional (no width).
    static func literalText(_ x: PExpr) -> [UInt8]? {
        switch x {
        case .atom(let t), .num(_, let t): return Array(t.utf8)
        case .bstring(let b): return b
        default: return nil
        }
    }

    /// Appends what `EventPrinter.printItem` prints for text item `k`; false when it has no direct form.
    @inline(__always)
    func appendDirectText(_ k: Int, _ d: UnsafeRawBufferPointer, printer: EventPrinter, event e: DatEvent,
                          _ s: inout [UInt8]) -> Bool {
        switch directTexts[k] {
        case .printed:
            return false
        case .fixedString(let offset, let size):
            guard offset <= d.count else { return true }
            let end = min(d.count, offset + size)
            var k = offset
            while k < end, d[k] != 0 { k += 1 }
            if k > offset { s.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[offset..<k])) }
        case .dynamicString(let offset, let size, let relative):
            let (at, len) = EventPrinter.dynamicOffset(offset: offset, size: size, relative: relative, big: big, d)
            guard len > 0 else { return true }
            appendCString(d, at, &s)
        case .symbols(let offset, let size, let mask, let names):
            let val = Int64(bitPattern: offset + size <= d.count ? DatReader.number(d, offset, size, big) & mask : 0)
            for (v, str) in names where v == val {
                s.append(contentsOf: str)
                return true
            }
            s.append(ascii: "0x"); appendHex(UInt64(bitPattern: val), upper: false, &s)
        case .symbolsOf(let x, let names):
            let val = Int64(bitPattern: printer.evalNum(x, e, d))
            for (v, str) in names where v == val {
                s.append(contentsOf: str)
                return true
            }
            s.append(ascii: "0x"); appendHex(UInt64(bitPattern: val), upper: false, &s)
        case .conditional(let offset, let size, let mask, let yes, let no):
            let val = offset + size <= d.count ? DatReader.number(d, offset, size, big) & mask : 0
            s.append(contentsOf: val != 0 ? yes : no)
        }
        return true
    }

    /// An argument that reads one number at a fixed place of the record: a plain field, an element
    /// of a fixed array at a constant index, either under casts. Offset, size (1, 2, 4 or 8), and the
    /// casts' mask: libtraceevent's eval_type of a non-pointer cast only masks (`(u8)`, `(unsigned
    /// int)`, … ; others keep the value), so a chain of casts is the AND of their masks.
    static func plainRead(_ arg: PExpr) -> (offset: Int, size: Int, castMask: UInt64)? {
        switch arg {
        case .field(let f):
            guard !f.isArray, !f.isDynamic, f.size >= 1, f.size <= 8 else { return nil }
            return (f.offset, f.size, .max)
        case .cast(let t, let inner):
            guard let r = plainRead(inner) else { return nil }
            return (r.offset, r.size, r.castMask & PrintFmtParser.evalType(.max, t, pointer: false))
        default:
            return constantElement(arg).map { ($0.offset, $0.size, .max) }
        }
    }

    /// `REC->args[2]`: an element of a fixed array at a constant index, read like a plain field.
    /// (libtraceevent eval_num_arg on PRINT_OP "[": offset = field offset + index × element size,
    /// read with tep_read_number; past the record it reads 0, as a plain field does here.)
    static func constantElement(_ arg: PExpr) -> (offset: Int, size: Int)? {
        guard case .index(let arr, let idx) = arg, case .field(let f) = arr, f.isArray, !f.isDynamic,
              [1, 2, 4, 8].contains(f.elementSize) else { return nil }
        let k: UInt64
        switch idx {
        case .num(let v, _): k = v
        default: return nil
        }
        guard k < 4096 else { return nil }
        return (f.offset + Int(k) * f.elementSize, f.elementSize)
    }

    /// A number conversion's raw value: its plain field read from the record (0 past the record's
    /// end), or its expression evaluated by the printer.
    @inline(__always)
    func number(_ n: Number, _ d: UnsafeRawBufferPointer, printer: EventPrinter, event e: DatEvent) -> UInt64 {
        if n.fieldSize != 0 {
            return n.fieldOffset + n.fieldSize <= d.count ? DatReader.number(d, n.fieldOffset, n.fieldSize, big) & n.castMask : 0
        }
        return printer.evalNum(exprs[n.expr], e, d)
    }

    /// Writes the slot values of record `d` and its shape (see `TemplateMemo`): per number with a
    /// width, the padding its digits leave; per `#` number, whether the prefix is printed; per text
    /// item, its text. Literals are the same for every record of the event and are not written.
    /// The values are those ``append(_:printer:event:skeleton:values:scratch:)`` gives; false when it
    /// would not build the body (a value no slot holds) or the shape does not fit.
    func fill(_ d: UnsafeRawBufferPointer, printer: EventPrinter, event e: DatEvent, into out: inout RecordShape,
              scratch: inout [UInt8]) -> Bool {
        if let plain = plainNumbers {
            // fillNumber with no width, precision or prefix: the value alone (room checked once).
            var held = true
            let room = out.withRoom(values: plain.count, bytes: 0) { c in
                plain.withUnsafeBufferPointer { plain in
                    for n in plain {
                        let u = DatReader.field(d, n.offset, n.size, loadMask: n.loadMask, big) & n.mask
                        if n.signBit != 0 {
                            c.value(u & n.signBit != 0 ? Int64(bitPattern: u | ~(n.signBit << 1 &- 1)) : Int64(u))
                        } else {
                            if n.unsigned && u > UInt64(Int64.max) { held = false; return }
                            c.value(Int64(bitPattern: u))
                        }
                    }
                }
            }
            return room && held
        }
        return ops.withUnsafeBufferPointer { ops in
            numbers.withUnsafeBufferPointer { numbers in
                for op in ops {
                    switch op.kind {
                    case .literal:
                        continue
                    case .number:
                        let n = numbers[op.index]
                        let raw = number(n, d, printer: printer, event: e)
                        guard Self.fillNumber(raw, n, &out) else { return false }
                    case .text:
                        scratch.removeAll(keepingCapacity: true)
                        if !appendDirectText(op.index, d, printer: printer, event: e, &scratch) {
                            // Borrowed from the array: no copy of the item (and its retains) per record.
                            texts.withUnsafeBufferPointer { printer.printItem($0[op.index], e, d, &scratch) }
                        }
                        if op.end == 1, scratch.last == 0x0A { scratch.removeLast() }
                        scratch.withUnsafeBytes { out.text($0) }
                    }
                }
                return !out.overflow
            }
        }
    }

    /// ``appendNumber(_:_:_:_:)`` without the skeleton: the value, and what of the skeleton varies.
    @inline(__always)
    static func fillNumber(_ raw: UInt64, _ n: Number, _ out: inout RecordShape) -> Bool {
        let u = raw & n.mask
        if n.precision == 0 && u == 0 { return false }         // prints no digits at all
        var digits = 0
        var negative = false
        var prefix = false
        switch n.conv {
        case 0x64, 0x69:
            let v: Int64 = n.bits == 64 ? Int64(bitPattern: u)
                : (u & (1 << UInt64(n.bits - 1)) != 0 ? Int64(bitPattern: u | ~n.mask) : Int64(u))
            out.value(v)
            guard n.width > 0 else { return true }
            negative = v < 0
            var m = v.magnitude
            repeat { digits += 1; m /= 10 } while m != 0
        case 0x75:
            guard u <= UInt64(Int64.max) else { return false }
            out.value(Int64(u))
            guard n.width > 0 else { return true }
            var m = u
            repeat { digits += 1; m /= 10 } while m != 0
        default:
            out.value(Int64(bitPattern: u))
            digits = u == 0 ? 1 : (67 - u.leadingZeroBitCount) / 4
            prefix = n.hash && u != 0
            if n.hash { out.byte(prefix ? 1 : 0) }
        }
        if n.precision >= 0 { digits = max(digits, n.precision) }
        if n.width > 0 {
            let pad = n.width - ((negative ? 1 : 0) + (prefix ? 2 : 0) + digits)
            out.byte(UInt8(max(0, pad)))                       // width < 200
        }
        return true
    }

    /// Appends the body of record `d` to `skeleton` and `values`. False when a value cannot be held
    /// by a number slot (the caller prints the body instead).
    func append(_ d: UnsafeRawBufferPointer, printer: EventPrinter, event e: DatEvent,
                skeleton: inout SkeletonBuilder, values: inout [Int64], scratch: inout [UInt8]) -> Bool {
        ops.withUnsafeBufferPointer { ops in
            numbers.withUnsafeBufferPointer { numbers in
                literalBytes.withUnsafeBytes { lits in
                    for op in ops {
                        switch op.kind {
                        case .literal:
                            skeleton.appendLiteral(UnsafeRawBufferPointer(rebasing: lits[op.index..<op.end]))
                        case .number:
                            let n = numbers[op.index]
                            let raw = number(n, d, printer: printer, event: e)
                            guard Self.appendNumber(raw, n, &skeleton, &values) else { return false }
                        case .text:
                            scratch.removeAll(keepingCapacity: true)
                            printer.printItem(texts[op.index], e, d, &scratch)
                            if op.end == 1, scratch.last == 0x0A { scratch.removeLast() }
                            scratch.withUnsafeBytes { skeleton.appendLiteral($0) }
                        }
                    }
                    return true
                }
            }
        }
    }

    /// libtraceevent's integer printing (EventPrinter.formatInt) as literal text around a slot.
    @inline(__always)
    static func appendNumber(_ raw: UInt64, _ n: Number, _ skeleton: inout SkeletonBuilder, _ values: inout [Int64]) -> Bool {
        let u = raw & n.mask
        let value: Int64
        let style: NumberStyle
        var digits = 0
        var negative = false
        var prefix: UInt8 = 0       // 'x' or 'X' for a "0x"/"0X" prefix
        switch n.conv {
        case 0x64, 0x69:
            let v: Int64 = n.bits == 64 ? Int64(bitPattern: u)
                : (u & (1 << UInt64(n.bits - 1)) != 0 ? Int64(bitPattern: u | ~n.mask) : Int64(u))
            value = v
            style = .decimal
            negative = v < 0
            var m = v.magnitude
            repeat { digits += 1; m /= 10 } while m != 0
        case 0x75:
            guard u <= UInt64(Int64.max) else { return false }
            value = Int64(u)
            style = .decimal
            var m = u
            repeat { digits += 1; m /= 10 } while m != 0
        default:
            value = Int64(bitPattern: u)
            style = n.conv == 0x78 ? .hexLower : .hexUpper
            digits = u == 0 ? 1 : (67 - u.leadingZeroBitCount) / 4
            if n.hash && u != 0 { prefix = n.conv }
        }
        var slotWidth = 0
        let hasPrecision = n.precision >= 0
        if hasPrecision {
            let p = n.precision
            if p == 0 && u == 0 { return false }     // prints no digits at all
            slotWidth = p
            digits = max(digits, p)
        }
        let total = (negative ? 1 : 0) + (prefix != 0 ? 2 : 0) + digits
        let pad = n.width - total
        if n.minus {
            appendPrefix(prefix, &skeleton)
            appendSlot(style, slotWidth, value, &skeleton, &values)
            if pad > 0 { appendSpaces(pad, &skeleton) }
        } else if n.zero && !hasPrecision {
            appendPrefix(prefix, &skeleton)
            if pad > 0 { slotWidth = digits + pad }
            appendSlot(style, slotWidth, value, &skeleton, &values)
        } else {
            if pad > 0 { appendSpaces(pad, &skeleton) }
            appendPrefix(prefix, &skeleton)
            appendSlot(style, slotWidth, value, &skeleton, &values)
        }
        return true
    }

    @inline(__always)
    static func appendSlot(_ style: NumberStyle, _ width: Int, _ value: Int64, _ skeleton: inout SkeletonBuilder, _ values: inout [Int64]) {
        skeleton.appendNumber(style, width: UInt8(min(width, 255)))
        values.append(value)
    }

    @inline(__always)
    static func appendPrefix(_ p: UInt8, _ skeleton: inout SkeletonBuilder) {
        if p != 0 { skeleton.appendLiteral(0x30); skeleton.appendLiteral(p) }
    }

    @inline(__always)
    static func appendSpaces(_ n: Int, _ skeleton: inout SkeletonBuilder) {
        for _ in 0..<n { skeleton.appendLiteral(0x20) }
    }
}
