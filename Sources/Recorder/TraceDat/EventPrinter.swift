import TraceFormat
/// Formats one event record's payload the way libtraceevent's `tep_print_event(..., "%s",
/// TEP_PRINT_INFO)` does under `trace-cmd report` (3.1.x, default plugins loaded).
final class EventPrinter {
    let file: TraceDatFile
    let big: Bool
    let longSize: Int
    var comms: [Int32: [UInt8]]

    init(file: TraceDatFile) {
        self.file = file
        self.big = file.bigEndian
        self.longSize = file.longSize
        self.comms = file.comms
    }

    // MARK: comm lookup (find_cmdline / tep_register_comm)

    func comm(_ pid: Int32) -> [UInt8] {
        if pid == 0 { return Array("<idle>".utf8) }
        return comms[pid] ?? Array("<...>".utf8)
    }

    /// Counts task names registered while printing (importers cache header text by pid).
    @exclusivity(unchecked) private(set) var commsVersion = 0

    func registerComm(_ name: [UInt8], _ pid: Int32) {
        if pid == 0 || comms[pid] != nil { return }
        comms[pid] = name
        commsVersion += 1
    }

    // MARK: info

    func printInfo(_ e: DatEvent, _ d: UnsafeRawBufferPointer, into s: inout [UInt8]) {
        var pretty = true
        if e.plugin != .none {
            pretty = runPlugin(e, d, &s) != 0
        }
        if pretty { prettyPrint(e, d, &s) }
    }

    func prettyPrint(_ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) {
        e.ensurePrintFormat()
        if e.failed {
            s.append(ascii: "[FAILED TO PARSE]")
            printFields(e, d, &s)
            return
        }
        if e.isBprint {
            printBprint(e, d, &s)
            return
        }
        for item in e.items { printItem(item, e, d, &s) }
    }

    func printFields(_ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) {
        for f in e.fields {
            s.append(0x20)
            s.append(string: f.name)
            s.append(0x3D)
            printFieldRaw(f, d, &s)
        }
    }

    /// libtraceevent `print_field_raw`.
    func printFieldRaw(_ f: DatField, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) {
        if f.isArray {
            var off = f.offset, len = f.size
            if f.isDynamic { (off, len) = dynamicOffset(f, d) }
            guard off <= d.count else { return }
            len = max(0, min(len, d.count - off))
            if f.isString && isPrintableArray(d, off, len) {
                appendCString(d, off, &s)
            } else {
                s.append(ascii: "ARRAY[")
                for k in 0..<len {
                    if k > 0 { s.append(ascii: ", ") }
                    appendHex2(d[off + k], &s)
                }
                s.append(0x5D)
                f.isString = false
            }
        } else {
            let val = f.offset + f.size <= d.count ? DatReader.number(d, f.offset, f.size, big) : 0
            if f.isPointer {
                s.append(ascii: "0x"); appendHex(val, upper: false, &s)
            } else if f.isSigned {
                switch f.size {
                case 4:
                    if f.isLong { s.append(ascii: "0x"); appendHex(UInt64(UInt32(truncatingIfNeeded: val)), upper: false, &s) }
                    else { appendDec(Int64(Int32(truncatingIfNeeded: val)), &s) }
                case 2: appendPadded(String(Int16(truncatingIfNeeded: val)), width: 2, zero: false, &s) // "%2d"
                case 1: appendDec(Int64(Int8(truncatingIfNeeded: val)), &s)
                default: appendDec(Int64(bitPattern: val), &s)
                }
            } else {
                if f.isLong { s.append(ascii: "0x"); appendHex(val, upper: false, &s) }
                else { appendUDec(val, &s) }
            }
        }
    }

    func isPrintableArray(_ d: UnsafeRawBufferPointer, _ off: Int, _ len: Int) -> Bool {
        var k = 0
        while k < len, off + k < d.count {
            let c = d[off + k]
            if c == 0 { break }
            let printable = c >= 0x20 && c < 0x7F
            let space = c == 0x20 || (c >= 0x09 && c <= 0x0D)
            if !printable && !space { return false }
            k += 1
        }
        return true
    }

    // MARK: print items

    func printItem(_ item: PrintItem, _ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) {
        switch item {
        case .literal(let b):
            s.append(contentsOf: b)
        case .number(let spec, let arg, let lenArg, let ls):
            let plen = lenArg.map { Int(Int32(truncatingIfNeeded: evalNum($0, e, d))) }
            let val = evalNum(arg, e, d)
            formatInt(val, ls: ls, spec: spec, plen: plen, &s)
        case .pointer(let spec, let arg, let lenArg):
            let plen = lenArg.map { Int(Int32(truncatingIfNeeded: evalNum($0, e, d))) } ?? 1
            printPointer(spec, arg, plen, e, d, &s)
        case .string(let spec, let arg, let lenArg):
            let plen = lenArg.map { Int(Int32(truncatingIfNeeded: evalNum($0, e, d))) }
            printStrArg(arg, spec, plen, e, d, &s)
        }
    }

    // MARK: numeric evaluation (eval_num_arg)

    func evalNum(_ a: PExpr, _ e: DatEvent, _ d: UnsafeRawBufferPointer) -> UInt64 {
        switch a {
        case .null: return 0
        case .num(let v, _): return v
        case .atom(let t):
            let v = cStrtoull(t)
            if v != 0 { return v }
            if let c = t.utf8.first, c >= 0x30 && c <= 0x39 { return 0 }
            return file.kallsyms.byName[t] ?? 0
        case .field(let f):
            guard f.offset + f.size <= d.count else { return 0 }
            return DatReader.number(d, f.offset, f.size, big)
        case .missingField: return 0
        case .cast(let t, let x): return PrintFmtParser.evalType(evalNum(x, e, d), t, pointer: false)
        case .cond(let c, let x, let y): return evalNum(c, e, d) != 0 ? evalNum(x, e, d) : evalNum(y, e, d)
        case .index(let arr, let idx):
            let right = evalNum(idx, e, d)
            var larg = arr
            var typeArg: String? = nil
            while case .cast(let t, let inner) = larg { if typeArg == nil { typeArg = t }; larg = inner }
            var fieldSize = longSize
            var offset: Int
            switch larg {
            case .dynArray(let f):
                let (o, _) = dynamicOffset(f, d)
                offset = o &+ Int(truncatingIfNeeded: right)
                if f.elementSize != 0 { fieldSize = f.elementSize }
            case .field(let f):
                fieldSize = f.elementSize
                offset = f.offset &+ Int(truncatingIfNeeded: right) &* f.elementSize
            default:
                return evalOp("[", evalNum(arr, e, d), right)
            }
            guard offset >= 0, fieldSize >= 0, offset + fieldSize <= d.count else { return 0 }
            var v = DatReader.number(d, offset, fieldSize, big)
            if let t = typeArg { v = PrintFmtParser.evalType(v, t, pointer: true) }
            return v
        case .op(let o, let l, let r):
            return evalOp(o, evalNum(l, e, d), evalNum(r, e, d))
        case .dynArrayLen(let f):
            return UInt64(dynamicOffset(f, d).1)
        case .dynArray(let f):
            return UInt64(dynamicOffset(f, d).0)
        case .function(let name, let args):
            var scratch: [UInt8] = []
            return callFunction(name, args, e, d, &scratch)
        case .flags, .symbols, .hex, .intArray, .string, .bitmask, .cpumask, .bstring:
            return 0
        }
    }

    func evalOp(_ o: String, _ l: UInt64, _ r: UInt64) -> UInt64 {
        var u = o.utf8.makeIterator()
        let c0 = u.next() ?? 0
        let c1 = u.next() ?? 0
        switch c0 {
        case 0x21: return c1 == 0 ? (r == 0 ? 1 : 0) : c1 == 0x3D ? (l != r ? 1 : 0) : 0        // ! !=
        case 0x7E: return ~r                                                                   // ~
        case 0x7C: return c1 == 0 ? l | r : ((l != 0 || r != 0) ? 1 : 0)                      // | ||
        case 0x26: return c1 == 0 ? l & r : ((l != 0 && r != 0) ? 1 : 0)                      // & &&
        case 0x3C:                                                                             // < << <=
            if c1 == 0 { return l < r ? 1 : 0 }
            if c1 == 0x3C { return r >= 64 ? 0 : l << r }
            return l <= r ? 1 : 0
        case 0x3E:                                                                             // > >> >=
            if c1 == 0 { return l > r ? 1 : 0 }
            if c1 == 0x3E { return r >= 64 ? 0 : l >> r }
            return l >= r ? 1 : 0
        case 0x3D: return c1 == 0x3D ? (l == r ? 1 : 0) : 0                                   // ==
        case 0x2D: return l &- r
        case 0x2B: return l &+ r
        case 0x2F: return r == 0 ? 0 : l / r
        case 0x25: return r == 0 ? 0 : l % r
        case 0x2A: return l &* r
        default: return 0 // includes '^', which libtraceevent does not evaluate at run time
        }
    }

    /// `dynamic_offset_field`: (offset, length) of a __data_loc / __rel_loc field's data.
    func dynamicOffset(_ f: DatField, _ d: UnsafeRawBufferPointer) -> (Int, Int) {
        Self.dynamicOffset(offset: f.offset, size: f.size, relative: f.isRelative, big: big, d)
    }

    /// `dynamicOffset` from the field's parts (also `CompiledFormat`'s direct `__get_str`).
    @inline(__always)
    static func dynamicOffset(offset fieldOffset: Int, size: Int, relative: Bool, big: Bool, _ d: UnsafeRawBufferPointer) -> (Int, Int) {
        guard fieldOffset + size <= d.count else { return (0, 0) }
        let val = DatReader.number(d, fieldOffset, size, big)
        let o = Int(val & 0xffff)
        let l = size == 2 ? d.count - o : Int((val >> 16) & 0xffff)
        var offset = o > d.count ? 0 : o
        let len = o + l > d.count ? 0 : l
        if relative { offset += fieldOffset + size }
        return (offset, len)
    }

    // MARK: strings (print_str_arg)

    func printStrArg(_ a: PExpr, _ spec: CSpec, _ plen: Int?, _ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) {
        switch a {
        case .null: return
        case .atom(let t), .num(_, let t):
            formatStr(Array(t.utf8), spec: spec, plen: plen, &s)
        case .field(let f):
            if !f.isArray && f.size == longSize {
                guard f.offset + f.size <= d.count else { return }
                let addr = DatReader.number(d, f.offset, longSize, big)
                if let p = file.printk[addr] { s.append(contentsOf: p) }
                else { appendHex(addr, upper: false, &s) }
                return
            }
            let len = f.size != 0 ? f.size : d.count - f.offset
            guard f.offset <= d.count, len >= 0 else { return }
            let end = min(d.count, f.offset + len)
            var str: [UInt8] = []
            var k = f.offset
            while k < end, d[k] != 0 { str.append(d[k]); k += 1 }
            formatStr(str, spec: spec, plen: plen, &s)
        case .missingField:
            return
        case .bstring(let b):
            formatStr(b, spec: spec, plen: plen, &s)
        case .flags(let x, let delim, let list):
            var val = Int64(bitPattern: evalNum(x, e, d))
            var printed = false
            for (fval, str) in list {
                if val == 0 && fval < 0 {
                    formatStr(str, spec: spec, plen: plen, &s)
                    break
                }
                if fval > 0 && (val & fval) == fval {
                    if printed, let dl = delim { s.append(contentsOf: dl) }
                    formatStr(str, spec: spec, plen: plen, &s)
                    printed = true
                    val &= ~fval
                }
            }
            if val != 0 {
                if printed, let dl = delim { s.append(contentsOf: dl) }
                s.append(ascii: "0x"); appendHex(UInt64(bitPattern: val), upper: false, &s)
            }
        case .symbols(let x, let list):
            let val = Int64(bitPattern: evalNum(x, e, d))
            for (fval, str) in list where fval == val {
                formatStr(str, spec: spec, plen: plen, &s)
                return
            }
            s.append(ascii: "0x"); appendHex(UInt64(bitPattern: val), upper: false, &s)
        case .hex(let x, let n, let spaced):
            guard let start = bufferStart(x, d) else { return }
            let len = Int(truncatingIfNeeded: evalNum(n, e, d))
            guard len > 0 else { return }
            for k in 0..<len {
                guard start + k < d.count else { break }
                if k > 0 && spaced { s.append(0x20) }
                appendHex2(d[start + k], &s)
            }
        case .intArray(let x, let n, let sz):
            guard let start = bufferStart(x, d) else { return }
            let count = Int(truncatingIfNeeded: evalNum(n, e, d))
            var el = Int(truncatingIfNeeded: evalNum(sz, e, d))
            s.append(0x7B)
            var p = start
            if count > 0 {
                for k in 0..<count {
                    if k > 0 { s.append(0x2C) }
                    switch el {
                    case 1, 2, 4, 8:
                        guard p + el <= d.count else { break }
                        s.append(ascii: "0x"); appendHex(DatReader.number(d, p, el, big), upper: false, &s)
                    default:
                        s.append(ascii: "BAD SIZE:"); appendDec(Int64(el), &s); s.append(ascii: " 0x")
                        appendHex(p < d.count ? UInt64(d[p]) : 0, upper: false, &s)
                        el = 1
                    }
                    p += el
                }
            }
            s.append(0x7D)
        case .cast:
            return
        case .string(let f):
            guard let f else { return }
            let (off, len) = dynamicOffset(f, d)
            guard len > 0 else { return }
            if spec.width == nil && spec.precision == nil && plen == nil { appendCString(d, off, &s); return }
            var k = off
            while k < d.count, d[k] != 0 { k += 1 }
            formatStr(Array(UnsafeRawBufferPointer(rebasing: d[off..<k])), spec: spec, plen: plen, &s)
        case .bitmask(let f):
            guard let f else { return }
            let (off, len) = dynamicOffset(f, d)
            formatStr(bitmaskString(d, off, len), spec: spec, plen: plen, &s)
        case .cpumask(let f):
            guard let f else { return }
            let (off, len) = dynamicOffset(f, d)
            formatStr(cpumaskString(d, off, len), spec: spec, plen: plen, &s)
        case .op(let o, let l, let r):
            _ = (o, l, r)
            return
        case .cond(let c, let x, let y):
            printStrArg(evalNum(c, e, d) != 0 ? x : y, spec, plen, e, d, &s)
        case .function(let name, let args):
            _ = callFunction(name, args, e, d, &s)
        case .index, .dynArray, .dynArrayLen:
            return
        }
    }

    /// Print helpers registered by the libtraceevent plugins (kvm, jbd2).
    static let knownFunctions: Set<String> = ["is_writable_pte", "jiffies_to_msecs", "jbd2_dev_to_name"]

    func callFunction(_ name: String, _ args: [PExpr], _ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) -> UInt64 {
        let a0 = args.first.map { evalNum($0, e, d) } ?? 0
        switch name {
        case "is_writable_pte": return a0 & 2
        case "jiffies_to_msecs": appendDec(Int64(bitPattern: a0), &s); return a0
        case "jbd2_dev_to_name":
            let dev = UInt32(truncatingIfNeeded: a0)
            appendDec(Int64(Int32(bitPattern: dev >> 20)), &s); s.append(0x3A)
            appendDec(Int64(Int32(bitPattern: dev & 0xfffff)), &s)
            return 0
        default: return 0
        }
    }

    func bufferStart(_ x: PExpr, _ d: UnsafeRawBufferPointer) -> Int? {
        switch x {
        case .dynArray(let f): return dynamicOffset(f, d).0
        case .field(let f): return f.offset
        default: return nil
        }
    }

    func evalFlag(_ v: String) -> Int64 { PrintFmtParser.evalFlag(v) }

    func bitmaskString(_ d: UnsafeRawBufferPointer, _ off: Int, _ size: Int) -> [UInt8] {
        let nrBits = size * 8
        var strSize = (nrBits + 3) / 4
        strSize += nrBits > 0 ? (nrBits - 1) / 32 : 0
        guard strSize > 0 else { return [] }
        var str = [UInt8](repeating: 0, count: strSize)
        var len = 0
        var i = strSize - 2
        let hexd = Array("0123456789abcdef".utf8)
        while i >= 0 {
            let index = big ? size - (len + 1) : len
            let b: UInt8 = off + index < d.count && index >= 0 ? d[off + index] : 0
            str[i] = hexd[Int(b >> 4)]
            str[i + 1] = hexd[Int(b & 15)]
            len += 1
            if len & 3 == 0 && i > 0 { i -= 1; str[i] = 0x2C }
            i -= 2
        }
        return str
    }

    func cpumaskString(_ d: UnsafeRawBufferPointer, _ off: Int, _ size: Int) -> [UInt8] {
        var out: [UInt8] = []
        var firstOne = -1, firstZero = -1
        let nrBits = size * 8
        var first = true
        for i in 0..<size {
            let index = big ? size - (i + 1) : i
            var byte: Int = off + index < d.count ? Int(d[off + index]) : 0
            while true {
                if firstOne < 0 && byte != 0 {
                    firstOne = byte.trailingZeroBitCount
                    byte |= (1 << firstOne) - 1
                    firstOne += i * 8
                }
                if firstOne < 0 { break }
                if (~byte) & 0xFF != 0 {
                    firstZero = (~byte & 0xFF).trailingZeroBitCount
                    byte &= ~((1 << firstZero) - 1)
                    firstZero += i * 8
                } else if i == size - 1 {
                    firstZero = nrBits
                    byte = 0
                } else {
                    break
                }
                if !first { out.append(0x2C) }
                first = false
                out.append(string: String(firstOne))
                if firstZero > firstOne + 1 { out.append(0x2D); out.append(string: String(firstZero - 1)) }
                firstZero = -1; firstOne = -1
                if byte == 0 { break }
            }
        }
        return out
    }

    // MARK: pointers (print_arg_pointer)

    func printPointer(_ spec: CSpec, _ a: PExpr, _ plen: Int, _ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) {
        if case .bstring(let b) = a { s.append(contentsOf: b); return }
        let t = spec.text
        guard let pi = t.firstIndex(of: 0x70) else { return }
        let ext: UInt8 = pi + 1 < t.count ? t[pi + 1] : 0
        switch ext {
        case 0x46, 0x66, 0x53, 0x73: // F f S s
            let val = evalNum(a, e, d)
            if let i = file.kallsyms.find(val) {
                s.append(contentsOf: file.kallsyms.name(i))
                if ext == 0x46 || ext == 0x53 {
                    s.append(ascii: "+0x"); appendHex(val &- file.kallsyms.addrs[i], upper: false, &s)
                }
            } else {
                s.append(ascii: "0x"); appendHex(val, upper: false, &s)
            }
        case 0x4D, 0x6D: // M m
            guard case .field(let f) = unwrapCasts(a) else { return }
            guard f.size == 6, f.offset + 6 <= d.count else { s.append(ascii: "INVALIDMAC"); return }
            let rev = pi + 2 < t.count && t[pi + 2] == 0x52
            let sep: UInt8? = ext == 0x6D ? nil : (pi + 2 < t.count && t[pi + 2] == 0x46 ? 0x2D : 0x3A)
            for k in 0..<6 {
                if k > 0, let sp = sep { s.append(sp) }
                appendHex2(d[f.offset + (rev ? 5 - k : k)], &s)
            }
        case 0x49, 0x69: // I i
            printIP(t, pi + 1, a, d, &s)
        case 0x55: // U
            guard case .field(let f) = unwrapCasts(a) else { return }
            guard f.size == 16, f.offset + 16 <= d.count else { s.append(ascii: "INVALIDUUID"); return }
            let m: UInt8 = pi + 2 < t.count ? t[pi + 2] : 0
            let upper = m == 0x4C || m == 0x42
            let guid = m == 0x4C || m == 0x6C
            let index = guid ? [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15] : Array(0..<16)
            for k in 0..<16 {
                appendHex2(d[f.offset + index[k]], &s, upper: upper)
                if k == 3 || k == 5 || k == 7 || k == 9 { s.append(0x2D) }
            }
        case 0x68: // h
            guard case .dynArray(let f) = a else { return }
            let m: UInt8 = pi + 2 < t.count ? t[pi + 2] : 0
            let delim: [UInt8] = m == 0x43 ? [0x3A] : m == 0x44 ? [0x2D] : m == 0x4E ? [] : [0x20]
            let (off, len) = dynamicOffset(f, d)
            let n = min(len, plen)
            guard n >= 1 else { return }
            for k in 0..<n {
                guard off + k < d.count else { break }
                if k > 0 { s.append(contentsOf: delim) }
                appendHex2(d[off + k], &s)
            }
        default:
            let val = evalNum(a, e, d)
            if val == 0 { s.append(ascii: "(nil)") } else { s.append(ascii: "0x"); appendHex(val, upper: false, &s) }
        }
    }

    func unwrapCasts(_ a: PExpr) -> PExpr {
        var x = a
        while case .cast(_, let inner) = x { x = inner }
        return x
    }

    func printIP(_ t: [UInt8], _ k: Int, _ a: PExpr, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) {
        let i = t[k - 1 + 0] == 0x69 ? UInt8(0x69) : t[k]
        let kind: UInt8 = k + 1 < t.count ? t[k + 1] : 0
        guard case .field(let f) = unwrapCasts(a) else { return }
        let lead = t[k] == 0x69
        _ = i
        if kind == 0x34 {
            guard f.size == 4, f.offset + 4 <= d.count else { s.append(ascii: "INVALIDIPv4"); return }
            var bytes = (0..<4).map { d[f.offset + $0] }
            let mod: UInt8 = k + 2 < t.count ? t[k + 2] : 0
            if mod == 0x6C || (mod == 0x68 && !big) { bytes.reverse() }
            for (n, b) in bytes.enumerated() {
                if n > 0 { s.append(0x2E) }
                if lead {
                    let v = String(b); s.appendSpaces(0); s.append(string: String(repeating: "0", count: 3 - v.count) + v)
                } else { s.append(string: String(b)) }
            }
        } else if kind == 0x36 {
            guard f.size == 16, f.offset + 16 <= d.count else { s.append(ascii: "INVALIDIPv6"); return }
            let compressed = !lead && k + 2 < t.count && t[k + 2] == 0x63
            let addr = (0..<16).map { d[f.offset + $0] }
            if compressed { appendIPv6Compressed(addr, &s); return }
            for j in stride(from: 0, to: 16, by: 2) {
                appendHex2(addr[j], &s); appendHex2(addr[j + 1], &s)
                if !lead && j < 14 { s.append(0x3A) }
            }
        }
    }

    func appendIPv6Compressed(_ a: [UInt8], _ s: inout [UInt8]) {
        let words = (0..<8).map { UInt16(a[2 * $0]) << 8 | UInt16(a[2 * $0 + 1]) }
        let v4mapped = words[0] == 0 && words[1] == 0 && words[2] == 0 && words[3] == 0 && words[4] == 0 && words[5] == 0xffff
        let isatap = (words[4] | 0x0200) == 0x0200 && words[5] == 0x5EFE
        let useV4 = v4mapped || isatap
        let range = useV4 ? 6 : 8
        var zl = [Int](repeating: 0, count: 8)
        for i in 0..<range { for j in i..<range { if words[j] != 0 { break }; zl[i] += 1 } }
        var longest = 1, colon = -1
        for i in 0..<range where zl[i] > longest { longest = zl[i]; colon = i }
        if longest == 1 { colon = -1 }
        var need = false
        var i = 0
        while i < range {
            if i == colon {
                if need || i == 0 { s.append(0x3A) }
                s.append(0x3A); need = false; i += longest; continue
            }
            if need { s.append(0x3A); need = false }
            let w = words[i]
            let hi = UInt8(w >> 8), lo = UInt8(w & 0xff)
            if hi != 0 { appendHex(UInt64(hi), upper: false, &s); appendHex2(lo, &s) } else { appendHex(UInt64(lo), upper: false, &s) }
            need = true
            i += 1
        }
        if useV4 {
            if need { s.append(0x3A) }
            s.append(string: "\(a[12]).\(a[13]).\(a[14]).\(a[15])")
        }
    }

    // MARK: bprint (trace_printk)

    func printBprint(_ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) {
        guard let ff = e.fieldNamed("fmt"), let bf = e.fieldNamed("buf"), let ipf = e.fieldNamed("ip") else { return }
        guard ff.offset + ff.size <= d.count, ipf.offset + ipf.size <= d.count else { return }
        let addr = DatReader.number(d, ff.offset, ff.size, big)
        let ip = DatReader.number(d, ipf.offset, ipf.size, big)
        var fmt: String
        if let p = file.printk[addr] { fmt = "%ps: " + String(decoding: p, as: UTF8.self) }
        else { fmt = "%ps: (NO FORMAT FOUND at \(String(addr, radix: 16)))\n" }
        // Build the arguments from the binary buffer (make_bprint_args).
        var args: [PExpr] = [.atom(String(Int64(bitPattern: ip)))]
        let f = Array(fmt.utf8)
        var p = 5
        var bp = bf.offset
        while p < f.count && bp < d.count {
            if f[p] == 0x25 {
                var ls = 0
                p += 1
                scan: while p < f.count {
                    switch f[p] {
                    case 0x25: break scan
                    case 0x6C: ls += 1; p += 1
                    case 0x4C: ls = 2; p += 1
                    case 0x30...0x39, 0x2E, 0x23, 0x2B: p += 1
                    case 0x7A, 0x5A: ls = 1; p += 1
                    case 0x70, 0x64, 0x75, 0x69, 0x78, 0x58, 0x6F, 0x2A:
                        var isString = false
                        if f[p] == 0x70 {
                            ls = 1
                            if p + 1 < f.count, isAlnum(f[p + 1]) {
                                p += 1
                                switch f[p] {
                                case 0x73, 0x53, 0x78: break
                                case 0x66, 0x46: if p + 1 < f.count && f[p + 1] == 0x77, bp < d.count, isPrint(d[bp]) { isString = true }
                                default: if bp < d.count, isPrint(d[bp]) { isString = true }
                                }
                            }
                        }
                        if isString {
                            var str: [UInt8] = []
                            while bp < d.count, d[bp] != 0 { str.append(d[bp]); bp += 1 }
                            bp += 1
                            args.append(.bstring(str))
                            break scan
                        }
                        let vsize = f[p] == 0x2A ? 4 : (ls == 0 ? 4 : ls == 1 ? longSize : 8)
                        bp = (bp + 3) & ~3
                        let v = bp + vsize <= d.count ? DatReader.number(d, bp, vsize, big) : 0
                        bp += vsize
                        args.append(.atom(String(Int64(bitPattern: v))))
                        if f[p] == 0x2A { p += 1; continue scan }
                        break scan
                    case 0x73:
                        var str: [UInt8] = []
                        while bp < d.count, d[bp] != 0 { str.append(d[bp]); bp += 1 }
                        bp += 1
                        args.append(.bstring(str))
                        break scan
                    default: break scan
                    }
                }
            }
            p += 1
        }
        let (items, _) = PrintFmtParser.parseArgs(format: fmt, args: args)
        for item in items { printItem(item, e, d, &s) }
    }

    @inline(__always) func isAlnum(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A) }
    @inline(__always) func isPrint(_ c: UInt8) -> Bool { c >= 0x20 && c < 0x7F }

    // MARK: plugins (libtraceevent plugins shipped with Debian, trace-cmd's ftrace overrides)

    /// sched_switch's prev_state letters, by bit (plugin_sched_switch.c write_state).
    static let taskStates = Array("SDTtZXxW".utf8)

    /// Returns the handler's return value: 0 = done, non-zero = also pretty print.
    func runPlugin(_ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) -> Int {
        switch e.plugin {
        case .none: return 1
        case .schedSwitch:
            guard let prevPid = fieldVal(e, "prev_pid", d, &s, err: true) else { s.append(0x21); return 0 }
            if let f = e.fieldNamed("prev_comm") { writeAndSaveComm(f, d, Int32(truncatingIfNeeded: prevPid), &s); s.append(0x3A) }
            appendDec(Int64(bitPattern: prevPid), &s); s.append(0x20)
            if let v = fieldVal(e, "prev_prio", d, &s, err: true) {
                s.append(0x5B); appendDec(Int64(Int32(truncatingIfNeeded: v)), &s); s.append(ascii: "] ")
            }
            if let v = fieldVal(e, "prev_state", d, &s, err: true) {
                let states = Self.taskStates
                var found = false
                let iv = Int32(truncatingIfNeeded: v)
                for k in 0..<8 where iv & (1 << k) != 0 {
                    if found { s.append(0x7C) }
                    found = true
                    s.append(states[k])
                }
                if !found { s.append(0x52) }
            }
            s.append(ascii: " ==> ")
            guard let nextPid = fieldVal(e, "next_pid", d, &s, err: true) else { s.append(0x21); return 0 }
            if let f = e.fieldNamed("next_comm") { writeAndSaveComm(f, d, Int32(truncatingIfNeeded: nextPid), &s); s.append(0x3A) }
            appendDec(Int64(bitPattern: nextPid), &s)
            if let v = fieldVal(e, "next_prio", d, &s, err: true) {
                s.append(ascii: " ["); appendDec(Int64(Int32(truncatingIfNeeded: v)), &s); s.append(0x5D)
            }
            return 0
        case .schedWakeup:
            guard let pid = fieldVal(e, "pid", d, &s, err: true) else { s.append(0x21); return 0 }
            if let f = e.anyFieldNamed("comm") { writeAndSaveComm(f, d, Int32(truncatingIfNeeded: pid), &s); s.append(0x3A) }
            appendDec(Int64(bitPattern: pid), &s)
            if let v = fieldVal(e, "prio", d, &s, err: true) { s.append(ascii: " ["); appendDec(Int64(bitPattern: v), &s); s.append(0x5D) }
            if let v = fieldVal(e, "success", d, &s, err: false) { s.append(ascii: " success="); appendDec(Int64(bitPattern: v), &s) }
            if let v = fieldVal(e, "target_cpu", d, &s, err: true) {
                s.append(ascii: " CPU:"); appendZeroPadded(v, width: 3, &s)
            }
            return 0
        case .kvmExit:
            guard printExitReason(e, d, "exit_reason", &s) else { return -1 }
            guard let rip = fieldVal(e, "guest_rip", d, &s, err: true) else { return -1 }
            s.append(ascii: " rip 0x"); appendHex(rip, upper: false, &s)
            if let i1 = fieldVal(e, "info1", d, &s, err: false), let i2 = fieldVal(e, "info2", d, &s, err: false) {
                s.append(ascii: " info "); appendHex(i1, upper: false, &s); s.append(0x20); appendHex(i2, upper: false, &s)
            }
            return 0
        case .kvmEntry:
            printNumField(e, "vcpu_id", d, &s, prefix: " vcpu ", conv: .u32, err: true)
            guard let rip = fieldVal(e, "rip", d, &s, err: true) else { return -1 }
            s.append(ascii: " rip 0x"); appendHex(rip, upper: false, &s)
            return 0
        case .kvmEmulateInsn:
            guard let rip = fieldVal(e, "rip", d, &s, err: true),
                  let csbase = fieldVal(e, "csbase", d, &s, err: true),
                  let len = fieldVal(e, "len", d, &s, err: true),
                  fieldVal(e, "flags", d, &s, err: true) != nil,
                  let failed = fieldVal(e, "failed", d, &s, err: true) else { return -1 }
            guard let insn = e.fieldNamed("insn") else { s.append(ascii: "<CANT FIND FIELD insn>"); return -1 }
            appendHex(csbase, upper: false, &s); s.append(0x3A); appendHex(rip, upper: false, &s)
            s.append(ascii: ": ")
            let n = Int(min(len, 15))
            for k in 0..<n {
                if k > 0 { s.append(0x20) }
                let at = insn.offset + k
                appendHex2(at < d.count ? d[at] : 0, &s)
            }
            if failed != 0 { s.append(ascii: " FAIL") }
            return 0
        case .kvmNestedVmexit:
            guard let rip = fieldVal(e, "rip", d, &s, err: true) else { return -1 }
            s.append(ascii: " rip "); appendHex(rip, upper: false, &s)
            return nestedVmexitInject(e, d, &s)
        case .kvmNestedVmexitInject:
            return nestedVmexitInject(e, d, &s)
        case .kvmMmuGetPage:
            guard let created = fieldVal(e, "created", d, &s, err: true) else { return -1 }
            s.append(string: created != 0 ? "new " : "existing ")
            guard let gfn = fieldVal(e, "gfn", d, &s, err: true) else { return -1 }
            s.append(ascii: "sp gfn "); appendHex(gfn, upper: false, &s); s.append(0x20)
            return mmuRole(e, d, &s)
        case .kvmMmuRole:
            return mmuRole(e, d, &s)
        case .hrtimerExpireEntry:
            s.append(ascii: "hrtimer=")
            if !printNumField(e, "timer", d, &s, prefix: "0x", conv: .hex64, err: false) {
                printNumField(e, "hrtimer", d, &s, prefix: "0x", conv: .hex64, err: true)
            }
            s.append(ascii: " now=")
            printNumField(e, "now", d, &s, prefix: "", conv: .u64, err: true)
            printFuncField(e, "function", d, &s, prefix: " function=")
            return 0
        case .hrtimerStart:
            s.append(ascii: "hrtimer=")
            if !printNumField(e, "timer", d, &s, prefix: "0x", conv: .hex64, err: false) {
                printNumField(e, "hrtimer", d, &s, prefix: "0x", conv: .hex64, err: true)
            }
            printFuncField(e, "function", d, &s, prefix: " function=")
            s.append(ascii: " expires=")
            printNumField(e, "expires", d, &s, prefix: "", conv: .u64, err: true)
            s.append(ascii: " softexpires=")
            printNumField(e, "softexpires", d, &s, prefix: "", conv: .u64, err: true)
            return 0
        case .ftraceFunction:
            guard let ip = fieldVal(e, "ip", d, &s, err: true) else { s.append(0x21); return 0 }
            if let i = file.kallsyms.find(ip) { s.append(contentsOf: file.kallsyms.name(i)); s.append(ascii: " <-- ") }
            else { s.append(ascii: "0x"); appendHex(ip, upper: false, &s) }
            guard let pip = fieldVal(e, "parent_ip", d, &s, err: true) else { s.append(0x21); return 0 }
            if let i = file.kallsyms.find(pip) { s.append(contentsOf: file.kallsyms.name(i)) }
            else { s.append(ascii: "0x"); appendHex(pip, upper: false, &s) }
            return 0
        case .kmemCallSite:
            guard let f = e.fieldNamed("call_site"), [1, 2, 4, 8].contains(f.size), f.offset + f.size <= d.count else { return 1 }
            let val = DatReader.number(d, f.offset, f.size, big)
            guard let i = file.kallsyms.find(val) else { return 1 }
            s.append(0x28); s.append(contentsOf: file.kallsyms.name(i)); s.append(ascii: "+0x")
            appendHex(UInt64(UInt32(truncatingIfNeeded: val &- file.kallsyms.addrs[i])), upper: false, &s)
            s.append(ascii: ") ")
            return 1
        case .tlbFlush:
            s.append(ascii: "pages=")
            if let f = e.fieldNamed("pages"), [1, 2, 4, 8].contains(f.size) {
                let v = f.offset + f.size <= d.count ? DatReader.number(d, f.offset, f.size, big) : 0
                appendDec(Int64(bitPattern: v), &s)
            } else {
                s.append(ascii: "CAN'T FIND FIELD \"pages\"")
            }
            guard let val = fieldVal(e, "reason", d, &s, err: true) else { return -1 }
            s.append(ascii: " reason=")
            switch val {
            case 0: s.append(ascii: "flush on task switch")
            case 1: s.append(ascii: "remote shootdown")
            case 2: s.append(ascii: "local shootdown")
            case 3: s.append(ascii: "local mm shootdown")
            default: break
            }
            s.append(ascii: " ("); appendDec(Int64(bitPattern: val), &s); s.append(0x29)
            return 0
        case .futex:
            guard let uaddr = fieldVal(e, "uaddr", d, &s, err: true),
                  let op = fieldVal(e, "op", d, &s, err: true),
                  let val = fieldVal(e, "val", d, &s, err: true),
                  let utime = fieldVal(e, "utime", d, &s, err: true),
                  let uaddr2 = fieldVal(e, "uaddr2", d, &s, err: true),
                  let val3 = fieldVal(e, "val3", d, &s, err: true) else { return 1 }
            let cmd = op & ~UInt64(128 | 256)
            guard cmd < UInt64(EventPrinter.futexOps.count) else { return 1 }
            let fop = EventPrinter.futexOps[Int(cmd)]
            s.append(ascii: "op="); s.append(string: fop.0)
            if op & 128 != 0 { s.append(ascii: "|FUTEX_PRIVATE_FLAG") }
            if op & 256 != 0 { s.append(ascii: "|FUTEX_CLOCK_REALTIME") }
            s.append(ascii: " uaddr=0x"); appendHex(uaddr, upper: false, &s)
            futexField(fop.1, val, &s)
            futexField(fop.2, utime, &s)
            futexField(fop.3, uaddr2, &s)
            futexField(fop.4, val3, &s)
            return 0
        case .ftraceKernelStack:
            guard let f = e.anyFieldNamed("caller") else { s.append(ascii: "<CANT FIND FIELD caller>"); return 0 }
            s.append(ascii: "<stack trace>\n")
            var p = f.offset
            while p + longSize <= d.count {
                let addr = DatReader.number(d, p, longSize, big)
                if (longSize == 8 && addr == UInt64.max) || UInt32(truncatingIfNeeded: addr) == UInt32.max { break }
                if let i = file.kallsyms.find(addr) {
                    s.append(ascii: "=> "); s.append(contentsOf: file.kallsyms.name(i)); s.append(ascii: " (")
                    appendHex(addr, upper: false, &s); s.append(ascii: ")\n")
                } else {
                    s.append(ascii: "=> "); appendHex(addr, upper: false, &s); s.append(0x0A)
                }
                p += longSize
            }
            return 0
        }
    }

    static let futexOps: [(String, String?, String?, String?, String?)] = [
        ("FUTEX_WAIT", " val=0x%08llx", " utime=0x%08llx", nil, nil),
        ("FUTEX_WAKE", " val=%llu", nil, nil, nil),
        ("FUTEX_FD", " val=%llu", nil, nil, nil),
        ("FUTEX_REQUEUE", " val=%llu", " val2=%llu", " uaddr2=0x%08llx", nil),
        ("FUTEX_CMP_REQUEUE", " val=%llu", " val2=%llu", " uaddr2=0x%08llx", " val3=0x%08llx"),
        ("FUTEX_WAKE_OP", " val=%llu", " val2=%llu", " uaddr2=0x%08llx", " val3=0x%08llx"),
        ("FUTEX_LOCK_PI", nil, " utime=0x%08llx", nil, nil),
        ("FUTEX_UNLOCK_PI", nil, nil, nil, nil),
        ("FUTEX_TRYLOCK_PI", nil, nil, nil, nil),
        ("FUTEX_WAIT_BITSET", " val=0x%08llx", " utime=0x%08llx", nil, " val3=0x%08llx"),
        ("FUTEX_WAKE_BITSET", " val=%llu", nil, nil, " val3=0x%08llx"),
        ("FUTEX_WAIT_REQUEUE_PI", " val=0x%08llx", " utime=0x%08llx", " uaddr2=0x%08llx", " val3=0x%08llx"),
        ("FUTEX_CMP_REQUEUE_PI", " val=%llu", " val2=%llu", " uaddr2=0x%08llx", " val3=0x%08llx"),
        ("FUTEX_LOCK_PI2", nil, " utime=0x%08llx", nil, nil),
    ]

    /// " name=%llu" / " name=0x%08llx" formats of the futex plugin.
    func futexField(_ fmt: String?, _ v: UInt64, _ s: inout [UInt8]) {
        guard let fmt else { return }
        if fmt.hasSuffix("0x%08llx") {
            s.append(string: String(fmt.dropLast(6)))
            appendPadded(String(v, radix: 16), width: 8, zero: true, &s)
        } else {
            s.append(string: String(fmt.dropLast(4)))
            appendUDec(v, &s)
        }
    }

    func nestedVmexitInject(_ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) -> Int {
        guard printExitReason(e, d, "exit_code", &s) else { return -1 }
        printNumField(e, "exit_info1", d, &s, prefix: " info1 ", conv: .hex64, err: true)
        printNumField(e, "exit_info2", d, &s, prefix: " info2 ", conv: .hex64, err: true)
        printNumField(e, "exit_int_info", d, &s, prefix: " int_info ", conv: .hex64, err: true)
        printNumField(e, "exit_int_info_err", d, &s, prefix: " int_info_err ", conv: .hex64, err: true)
        return 0
    }

    func mmuRole(_ e: DatEvent, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8]) -> Int {
        guard let val = fieldVal(e, "role", d, &s, err: true) else { return -1 }
        let w = UInt32(truncatingIfNeeded: val)
        if !big {
            let access = ["---", "--x", "w--", "w-x", "-u-", "-ux", "wu-", "wux"]
            let level = w & 0xF, cr4pae = (w >> 4) & 1, quadrant = (w >> 5) & 3, direct = (w >> 7) & 1
            let acc = Int((w >> 8) & 7), invalid = (w >> 11) & 1, nxe = (w >> 12) & 1, wp = (w >> 13) & 1
            let smep = (w >> 14) & 1, smap = (w >> 15) & 1, smm = (w >> 24) & 0xFF
            s.append(string: "\(level) q\(quadrant)\(direct != 0 ? " direct" : "") \(access[acc])\(invalid != 0 ? " invalid" : "") \(cr4pae != 0 ? "" : "!")pae \(nxe != 0 ? "" : "!")nxe \(wp != 0 ? "" : "!")wp\(smep != 0 ? " smep" : "")\(smap != 0 ? " smap" : "")\(smm != 0 ? " smm" : "")")
        } else {
            s.append(ascii: "WORD: "); appendPadded(String(w, radix: 16), width: 8, zero: true, &s)
        }
        printNumField(e, "root_count", d, &s, prefix: " root ", suffix: " ", conv: .u32, err: true)
        guard let unsync = fieldVal(e, "unsync", d, &s, err: true) else { return -1 }
        s.append(string: unsync != 0 ? "unsync" : "sync")
        s.append(0) // the plugin prints "%s%c" with a NUL
        return 0
    }

    func printExitReason(_ e: DatEvent, _ d: UnsafeRawBufferPointer, _ field: StaticString, _ s: inout [UInt8]) -> Bool {
        guard let val = fieldVal(e, field, d, &s, err: true) else { return false }
        let isa = fieldVal(e, "isa", d, &s, err: false) ?? 1
        if let r = KVMExitReasons.find(isa: isa, Int32(truncatingIfNeeded: val)) {
            s.append(ascii: "reason "); s.append(string: r)
        } else if isa != 1 && isa != 2 {
            s.append(ascii: "reason UNKNOWN-ISA")
        } else {
            s.append(ascii: "reason UNKNOWN ("); appendUDec(val, &s); s.append(0x29)
        }
        return true
    }

    /// `tep_get_field_val` (non-common fields only).
    func fieldVal(_ e: DatEvent, _ name: StaticString, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8], err: Bool) -> UInt64? {
        let (offset, size) = e.numericField(name)
        guard offset >= 0 else {
            if err { s.append(ascii: "<CANT FIND FIELD "); s.append(string: name.description); s.append(0x3E) }
            return nil
        }
        guard size != 0 else {
            if err { s.append(0x20); s.append(string: name.description); s.append(ascii: "=INVALID") }
            return nil
        }
        guard offset + size <= d.count else { return 0 }
        return DatReader.number(d, offset, size, big)
    }

    enum NumConv { case u32, u64, hex64 }

    /// `tep_print_num_field` with the few formats the plugins use.
    @discardableResult
    func printNumField(_ e: DatEvent, _ name: StaticString, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8],
                       prefix: String, suffix: String = "", conv: NumConv, err: Bool) -> Bool {
        guard let f = e.fieldNamed(name), [1, 2, 4, 8].contains(f.size) else {
            if err { s.append(ascii: "CAN'T FIND FIELD \""); s.append(string: name.description); s.append(0x22) }
            return false
        }
        let v = f.offset + f.size <= d.count ? DatReader.number(d, f.offset, f.size, big) : 0
        s.append(string: prefix)
        switch conv {
        case .u32: appendUDec(UInt64(UInt32(truncatingIfNeeded: v)), &s)
        case .u64: appendUDec(v, &s)
        case .hex64: appendHex(v, upper: false, &s)
        }
        s.append(string: suffix)
        return true
    }

    /// `tep_print_func_field`.
    func printFuncField(_ e: DatEvent, _ name: String, _ d: UnsafeRawBufferPointer, _ s: inout [UInt8], prefix: String) {
        guard let f = e.field(name), [1, 2, 4, 8].contains(f.size) else { return }
        let v = f.offset + f.size <= d.count ? DatReader.number(d, f.offset, f.size, big) : 0
        s.append(string: prefix)
        if let i = file.kallsyms.find(v) {
            s.append(contentsOf: file.kallsyms.name(i)); s.append(ascii: "/0x")
            appendHex(file.kallsyms.addrs[i] &- v, upper: false, &s)
        } else {
            s.append(ascii: "0x"); appendPadded(String(v, radix: 16), width: 8, zero: true, &s)
        }
    }

    func writeAndSaveComm(_ f: DatField, _ d: UnsafeRawBufferPointer, _ pid: Int32, _ s: inout [UInt8]) {
        var k = f.offset
        let end = min(d.count, f.offset + f.size)
        while k < end, d[k] != 0 { k += 1 }
        let name = k > f.offset ? UnsafeRawBufferPointer(rebasing: d[f.offset..<k]) : UnsafeRawBufferPointer(start: nil, count: 0)
        s.append(contentsOf: name)
        // The name is copied only when it is registered (a pid's first).
        if pid != 0 && comms[pid] == nil { registerComm(Array(name), pid) }
    }

    // MARK: printf emulation

    func formatStr(_ str: [UInt8], spec: CSpec, plen: Int?, _ s: inout [UInt8]) {
        if spec.width == nil && spec.precision == nil && plen == nil { s.append(contentsOf: str); return }
        var width = spec.width ?? 0
        var minus = spec.minus
        var prec = spec.precision
        if spec.widthStar, let p = plen { width = p; if p < 0 { minus = true; width = -p } }
        if spec.precisionStar, let p = plen { prec = p < 0 ? nil : p }
        var body = str[...]
        if let p = prec, p < body.count { body = body.prefix(p) }
        let pad = width - body.count
        if !minus { s.appendSpaces(pad) }
        s.append(contentsOf: body)
        if minus { s.appendSpaces(pad) }
    }

    /// printf of an integer argument that went through libtraceevent's `(int)val`/`(long)val` cast.
    func formatInt(_ val: UInt64, ls: Int, spec: CSpec, plen: Int?, _ s: inout [UInt8]) {
        if spec.width == nil && spec.precision == nil && !spec.widthStar && !spec.precisionStar
            && !spec.hash && !spec.plus && !spec.space {
            let bits: Int = ls <= -2 ? 8 : ls == -1 ? 16 : ls == 0 ? 32 : 64
            let mask: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
            let u = val & mask
            switch spec.conv {
            case 0x64, 0x69:
                let v: Int64 = bits == 64 ? Int64(bitPattern: u) : (u & (1 << UInt64(bits - 1)) != 0 ? Int64(bitPattern: u | ~mask) : Int64(u))
                appendDec(v, &s); return
            case 0x75: appendUDec(u, &s); return
            case 0x78: appendHex(u, upper: false, &s); return
            case 0x58: appendHex(u, upper: true, &s); return
            default: break
            }
        }
        var width = spec.width ?? 0
        var minus = spec.minus
        var prec = spec.precision
        if spec.widthStar, let p = plen { width = p; if p < 0 { minus = true; width = -p } }
        if spec.precisionStar, let p = plen { prec = p < 0 ? nil : p }
        let bits: Int = ls <= -2 ? 8 : ls == -1 ? 16 : ls == 0 ? 32 : 64
        let mask: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        let u = val & mask
        var negative = false
        var digits: [UInt8]
        var prefix: [UInt8] = []
        switch spec.conv {
        case 0x64, 0x69: // d i
            let signedV: Int64 = bits == 64 ? Int64(bitPattern: u) : (u & (1 << UInt64(bits - 1)) != 0 ? Int64(bitPattern: u | ~mask) : Int64(u))
            negative = signedV < 0
            digits = Array(String(signedV.magnitude).utf8)
            if negative { prefix = [0x2D] } else if spec.plus { prefix = [0x2B] } else if spec.space { prefix = [0x20] }
        case 0x75: digits = Array(String(u).utf8)
        case 0x78: digits = Array(String(u, radix: 16).utf8); if spec.hash && u != 0 { prefix = Array("0x".utf8) }
        case 0x58: digits = Array(String(u, radix: 16, uppercase: true).utf8); if spec.hash && u != 0 { prefix = Array("0X".utf8) }
        case 0x6F: digits = Array(String(u, radix: 8).utf8); if spec.hash && u != 0 { digits.insert(0x30, at: 0) }
        case 0x63: // c
            let c = UInt8(truncatingIfNeeded: val)
            let pad = width - 1
            if !minus { s.appendSpaces(pad) }
            s.append(c)
            if minus { s.appendSpaces(pad) }
            return
        default: digits = Array(String(u).utf8)
        }
        if let p = prec {
            if p == 0 && u == 0 && spec.conv != 0x6F { digits = [] }
            if digits.count < p { digits = [UInt8](repeating: 0x30, count: p - digits.count) + digits }
        }
        let total = prefix.count + digits.count
        if minus {
            s.append(contentsOf: prefix); s.append(contentsOf: digits); s.appendSpaces(width - total)
        } else if spec.zero && prec == nil {
            s.append(contentsOf: prefix)
            if width > total { s.append(contentsOf: repeatElement(0x30, count: width - total)) }
            s.append(contentsOf: digits)
        } else {
            s.appendSpaces(width - total); s.append(contentsOf: prefix); s.append(contentsOf: digits)
        }
    }
}

// MARK: - small number writers

@inline(__always) func appendHex(_ v: UInt64, upper: Bool, _ s: inout [UInt8]) {
    if v < 16 { s.append(v < 10 ? 0x30 &+ UInt8(v) : (upper ? 0x37 : 0x57) &+ UInt8(v)); return }
    LinePrinter.appendDigits(v, radix: 16, upper: upper, width: 0, pad: 0x30, to: &s)   // (at once, from stack memory)
}


@inline(__always) func appendHex2(_ b: UInt8, _ s: inout [UInt8], upper: Bool = false) {
    let a: UInt8 = upper ? 0x37 : 0x57
    let hi = b >> 4, lo = b & 15
    s.append(hi < 10 ? 0x30 + hi : a + hi)
    s.append(lo < 10 ? 0x30 + lo : a + lo)
}

@inline(__always) func appendUDec(_ v: UInt64, _ s: inout [UInt8]) {
    if v < 10 { s.append(0x30 + UInt8(v)); return }
    var n = 0
    var x = v
    while x != 0 { n += 1; x /= 10 }
    let base = s.count
    s.append(contentsOf: repeatElement(0x30, count: n))
    x = v
    var i = base + n - 1
    while x != 0 { s[i] = 0x30 + UInt8(x % 10); x /= 10; i -= 1 }
}

@inline(__always) func appendDec(_ v: Int64, _ s: inout [UInt8]) {
    if v < 0 { s.append(0x2D); appendUDec(v.magnitude, &s) } else { appendUDec(UInt64(v), &s) }
}

/// `appendPadded(String(v), width:, zero: true)` without the String: `%0*llu`.
func appendZeroPadded(_ v: UInt64, width: Int, _ s: inout [UInt8]) {
    var n = 1
    var x = v / 10
    while x != 0 { n += 1; x /= 10 }
    if n < width { s.append(contentsOf: repeatElement(0x30, count: width - n)) }
    appendUDec(v, &s)
}

func appendPadded(_ str: String, width: Int, zero: Bool, _ s: inout [UInt8]) {
    let n = str.utf8.count
    if n < width { s.append(contentsOf: repeatElement(zero ? 0x30 : 0x20, count: width - n)) }
    s.append(string: str)
}


/// Exit reason names from libtraceevent's plugin_kvm.
enum KVMExitReasons {
    static let vmx: [Int32: String] = [
        0: "EXCEPTION_NMI", 1: "EXTERNAL_INTERRUPT", 2: "TRIPLE_FAULT", 7: "PENDING_INTERRUPT", 8: "NMI_WINDOW",
        9: "TASK_SWITCH", 10: "CPUID", 12: "HLT", 13: "INVD", 14: "INVLPG", 15: "RDPMC", 16: "RDTSC", 18: "VMCALL",
        19: "VMCLEAR", 20: "VMLAUNCH", 21: "VMPTRLD", 22: "VMPTRST", 23: "VMREAD", 24: "VMRESUME", 25: "VMWRITE",
        26: "VMOFF", 27: "VMON", 28: "CR_ACCESS", 29: "DR_ACCESS", 30: "IO_INSTRUCTION", 31: "MSR_READ",
        32: "MSR_WRITE", 36: "MWAIT_INSTRUCTION", 39: "MONITOR_INSTRUCTION", 40: "PAUSE_INSTRUCTION",
        41: "MCE_DURING_VMENTRY", 43: "TPR_BELOW_THRESHOLD", 44: "APIC_ACCESS", 45: "EOI_INDUCED",
        48: "EPT_VIOLATION", 49: "EPT_MISCONFIG", 50: "INVEPT", 52: "PREEMPTION_TIMER", 54: "WBINVD", 55: "XSETBV",
        56: "APIC_WRITE", 58: "INVPCID", 62: "PML_FULL", 63: "XSAVES", 64: "XRSTORS",
    ]
    static let svm: [Int32: String] = [
        0x000: "EXIT_READ_CR0", 0x003: "EXIT_READ_CR3", 0x004: "EXIT_READ_CR4", 0x008: "EXIT_READ_CR8",
        0x010: "EXIT_WRITE_CR0", 0x013: "EXIT_WRITE_CR3", 0x014: "EXIT_WRITE_CR4", 0x018: "EXIT_WRITE_CR8",
        0x020: "EXIT_READ_DR0", 0x021: "EXIT_READ_DR1", 0x022: "EXIT_READ_DR2", 0x023: "EXIT_READ_DR3",
        0x024: "EXIT_READ_DR4", 0x025: "EXIT_READ_DR5", 0x026: "EXIT_READ_DR6", 0x027: "EXIT_READ_DR7",
        0x030: "EXIT_WRITE_DR0", 0x031: "EXIT_WRITE_DR1", 0x032: "EXIT_WRITE_DR2", 0x033: "EXIT_WRITE_DR3",
        0x034: "EXIT_WRITE_DR4", 0x035: "EXIT_WRITE_DR5", 0x036: "EXIT_WRITE_DR6", 0x037: "EXIT_WRITE_DR7",
        0x040: "EXIT_EXCP_DE", 0x041: "EXIT_EXCP_DB", 0x043: "EXIT_EXCP_BP", 0x044: "EXIT_EXCP_OF",
        0x045: "EXIT_EXCP_BR", 0x046: "EXIT_EXCP_UD", 0x047: "EXIT_EXCP_NM", 0x048: "EXIT_EXCP_DF",
        0x04a: "EXIT_EXCP_TS", 0x04b: "EXIT_EXCP_NP", 0x04c: "EXIT_EXCP_SS", 0x04d: "EXIT_EXCP_GP",
        0x04e: "EXIT_EXCP_PF", 0x050: "EXIT_EXCP_MF", 0x051: "EXIT_EXCP_AC", 0x052: "EXIT_EXCP_MC",
        0x053: "EXIT_EXCP_XF", 0x060: "EXIT_INTR", 0x061: "EXIT_NMI", 0x062: "EXIT_SMI", 0x063: "EXIT_INIT",
        0x064: "EXIT_VINTR", 0x065: "EXIT_CR0_SEL_WRITE", 0x066: "EXIT_IDTR_READ", 0x067: "EXIT_GDTR_READ",
        0x068: "EXIT_LDTR_READ", 0x069: "EXIT_TR_READ", 0x06a: "EXIT_IDTR_WRITE", 0x06b: "EXIT_GDTR_WRITE",
        0x06c: "EXIT_LDTR_WRITE", 0x06d: "EXIT_TR_WRITE", 0x06e: "EXIT_RDTSC", 0x06f: "EXIT_RDPMC",
        0x070: "EXIT_PUSHF", 0x071: "EXIT_POPF", 0x072: "EXIT_CPUID", 0x073: "EXIT_RSM", 0x074: "EXIT_IRET",
        0x075: "EXIT_SWINT", 0x076: "EXIT_INVD", 0x077: "EXIT_PAUSE", 0x078: "EXIT_HLT", 0x079: "EXIT_INVLPG",
        0x07a: "EXIT_INVLPGA", 0x07b: "EXIT_IOIO", 0x07c: "EXIT_MSR", 0x07d: "EXIT_TASK_SWITCH",
        0x07e: "EXIT_FERR_FREEZE", 0x07f: "EXIT_SHUTDOWN", 0x080: "EXIT_VMRUN", 0x081: "EXIT_VMMCALL",
        0x082: "EXIT_VMLOAD", 0x083: "EXIT_VMSAVE", 0x084: "EXIT_STGI", 0x085: "EXIT_CLGI", 0x086: "EXIT_SKINIT",
        0x087: "EXIT_RDTSCP", 0x088: "EXIT_ICEBP", 0x089: "EXIT_WBINVD", 0x08a: "EXIT_MONITOR", 0x08b: "EXIT_MWAIT",
        0x08c: "EXIT_MWAIT_COND", 0x08d: "EXIT_XSETBV", 0x400: "EXIT_NPF", 0x401: "EXIT_AVIC_INCOMPLETE_IPI",
        0x402: "EXIT_AVIC_UNACCELERATED_ACCESS", -1: "EXIT_ERR",
    ]

    static func find(isa: UInt64, _ v: Int32) -> String? {
        switch isa {
        case 1: return vmx[v]
        case 2: return svm[v]
        default: return nil
        }
    }
}
