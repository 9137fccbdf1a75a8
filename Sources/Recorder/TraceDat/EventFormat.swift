import Foundation

/// Event format files (`events/<system>/<event>/format`) as libtraceevent parses them: fields with
/// their flags, and the `print fmt:` string compiled into print items and argument expressions.
///
/// The parsing and evaluation rules follow libtraceevent's event-parse.c: numbers are unsigned 64-bit,
/// casts only mask to the cast width, unknown helper functions make the event "failed" (printed as
/// `[FAILED TO PARSE]` followed by its fields), `__print_flags`/`__print_symbolic` values are kept
/// as text and resolved with `eval_flag` at print time.
final class DatField {
    let name: String
    let type: String
    let offset: Int
    let size: Int
    let isArray: Bool
    let isPointer: Bool
    let isSigned: Bool
    let isDynamic: Bool
    let isRelative: Bool
    let isLong: Bool
    /// Cleared the first time a "string" field turns out not to be printable (libtraceevent does this).
    var isString: Bool
    let arrayLen: Int
    let elementSize: Int
    let dynamicElementSize: Int

    init(name: String, type: String, offset: Int, size: Int, isArray: Bool, isPointer: Bool, isSigned: Bool,
         arrayLen: Int, dynamicElementSize: Int, longSize: Int) {
        self.name = name
        self.type = type
        self.offset = offset
        self.size = size
        self.isArray = isArray
        self.isPointer = isPointer
        self.isSigned = isSigned
        self.isString = isArray && (type.contains("char") || type.contains("u8") || type.contains("s8"))
        let dyn = type.hasPrefix("__data_loc")
        let rel = type.hasPrefix("__rel_loc")
        self.isDynamic = dyn || rel
        self.isRelative = rel
        self.isLong = type.contains("long")
        self.arrayLen = arrayLen
        self.dynamicElementSize = dynamicElementSize
        if isArray {
            if arrayLen > 0 { elementSize = size / arrayLen }
            else if dyn || rel { elementSize = dynamicElementSize }
            else if isString { elementSize = 1 }
            else if type.contains("long") { elementSize = longSize }
            else { elementSize = 0 }
        } else {
            elementSize = size
        }
    }
}

/// A print-format argument (libtraceevent `struct tep_print_arg`).
indirect enum PExpr {
    case null
    case atom(String)
    case field(DatField)
    case missingField(String)
    case op(String, PExpr, PExpr)
    case cond(PExpr, PExpr, PExpr)
    case index(PExpr, PExpr)
    case cast(String, PExpr)
    case flags(PExpr, delim: [UInt8]?, [(value: Int64, str: [UInt8])])
    case symbols(PExpr, [(value: Int64, str: [UInt8])])
    case hex(PExpr, PExpr, spaced: Bool)
    case intArray(PExpr, PExpr, PExpr)
    case string(DatField?)
    case bitmask(DatField?)
    case cpumask(DatField?)
    case dynArray(DatField)
    case dynArrayLen(DatField)
    case function(String, [PExpr])
    /// A string taken from a trace_printk buffer (bprint).
    case bstring([UInt8])
    /// A numeric atom with its value precomputed (text kept for `%s`).
    case num(UInt64, String)

    /// Precomputes numeric atoms (`strtoull` at parse time instead of per record).
    func compiled() -> PExpr {
        switch self {
        case .atom(let t):
            if let c = t.utf8.first, c >= 0x30 && c <= 0x39 { return .num(cStrtoull(t), t) }
            let v = cStrtoull(t)
            return v != 0 ? .num(v, t) : self
        case .op(let o, let l, let r): return .op(o, l.compiled(), r.compiled())
        case .cond(let c, let a, let b): return .cond(c.compiled(), a.compiled(), b.compiled())
        case .index(let a, let b): return .index(a.compiled(), b.compiled())
        case .cast(let t, let x): return .cast(t, x.compiled())
        case .flags(let x, let d, let l): return .flags(x.compiled(), delim: d, l)
        case .symbols(let x, let l): return .symbols(x.compiled(), l)
        case .hex(let a, let b, let sp): return .hex(a.compiled(), b.compiled(), spaced: sp)
        case .intArray(let a, let b, let c): return .intArray(a.compiled(), b.compiled(), c.compiled())
        case .function(let n, let a): return .function(n, a.map { $0.compiled() })
        default: return self
        }
    }
}

/// A parsed printf conversion (`%-16s`, `%#llx`, `%.*s`).
struct CSpec {
    var minus = false, plus = false, space = false, zero = false, hash = false
    var width: Int? = nil
    var widthStar = false
    var precision: Int? = nil
    var precisionStar = false
    var conv: UInt8 = 0
    /// The conversion text as written, for pointer extensions (`%pS`).
    var text: [UInt8] = []
}

enum PrintItem {
    case literal([UInt8])
    case number(CSpec, PExpr, lenArg: PExpr?, ls: Int)
    case pointer(CSpec, PExpr, lenArg: PExpr?)
    case string(CSpec, PExpr, lenArg: PExpr?)
}

enum Plugin {
    case none
    case schedSwitch, schedWakeup
    case kvmExit, kvmEntry, kvmEmulateInsn, kvmNestedVmexit, kvmNestedVmexitInject, kvmMmuGetPage, kvmMmuRole
    case hrtimerExpireEntry, hrtimerStart
    case ftraceFunction, ftraceKernelStack
    case kmemCallSite, tlbFlush, futex
}

final class DatEvent {
    let system: String
    let name: String
    let id: Int
    let commonFields: [DatField]
    let fields: [DatField]
    let format: String
    private var _args: [PExpr] = []
    private var _items: [PrintItem] = []
    private var _failed = false
    // Compiled on first read (see `ensurePrintFormat`).
    var args: [PExpr] { get { ensurePrintFormat(); return _args } set { _args = newValue } }
    var items: [PrintItem] { get { ensurePrintFormat(); return _items } set { _items = newValue } }
    var failed: Bool { get { ensurePrintFormat(); return _failed } set { _failed = newValue } }
    /// Why the print format could not be used (diagnostics).
    var failReason: String?
    let isBprint: Bool
    var plugin: Plugin = .none
    let nameBytes: [UInt8]
    /// Records seen in the current pass.
    var seen = 0
    /// The print format text (for bprint: the format is taken from each record instead).
    var formatText: String = ""

    init(system: String, name: String, id: Int, commonFields: [DatField], fields: [DatField], format: String) {
        self.system = system
        self.name = name
        self.id = id
        self.commonFields = commonFields
        self.fields = fields
        self.format = format
        self.isBprint = system == "ftrace" && name == "bprint"
        self.nameBytes = Array(name.utf8)
    }

    /// Fields by name (plugins look fields up for every record).
    private lazy var fieldIndex: [String: DatField] = {
        var m: [String: DatField] = [:]
        for f in fields where m[f.name] == nil { m[f.name] = f }
        return m
    }()
    func field(_ name: String) -> DatField? { fieldIndex[name] }

    /// The print format and helper functions, until compiled (`ensurePrintFormat`).
    var pendingPrintFormat: (String?, Set<String>)?
    /// Compiles the print format on first use: `items`, `args`, `failed` are valid after it.
    @inline(__always)
    func ensurePrintFormat() {
        guard let (text, functions) = pendingPrintFormat else { return }
        pendingPrintFormat = nil
        EventFormatParser.compilePrintFormat(self, text, functions: functions)
    }
    /// Plugins' look-ups by literal name, remembered by the literal's address (no string hashing).
    private var literalFields: [(UnsafeRawPointer, DatField?)] = []
    private var literalAnyFields: [(UnsafeRawPointer, DatField?)] = []
    /// Offset and size of a plain numeric field by literal name (-1: missing; size 0: not 1/2/4/8
    /// bytes), for the plugins' per-record reads without retaining field objects.
    private var literalSlots: [(key: UnsafeRawPointer, offset: Int32, size: Int32)] = []
    @inline(__always)
    func numericField(_ name: StaticString) -> (offset: Int, size: Int) {
        let key = UnsafeRawPointer(name.utf8Start)
        for k in literalSlots.indices where literalSlots[k].key == key {
            return (Int(literalSlots[k].offset), Int(literalSlots[k].size))
        }
        let f = fieldNamed(name)
        let entry: (UnsafeRawPointer, Int32, Int32) = f.map { (key, Int32($0.offset), [1, 2, 4, 8].contains($0.size) ? Int32($0.size) : 0) } ?? (key, -1, 0)
        literalSlots.append((key: entry.0, offset: entry.1, size: entry.2))
        return (Int(entry.1), Int(entry.2))
    }
    func fieldNamed(_ name: StaticString) -> DatField? { Self.remembered(name, in: &literalFields, field) }
    func commonField(_ name: String) -> DatField? { commonFields.first { $0.name == name } }
    func anyField(_ name: String) -> DatField? { commonField(name) ?? field(name) }
    /// `anyField` of a literal name, looked up once per event (plugins print per record).
    func anyFieldNamed(_ name: StaticString) -> DatField? { Self.remembered(name, in: &literalAnyFields, anyField) }
    /// The look-up of a literal name, remembered in `cache` by the literal's address.
    @inline(__always)
    private static func remembered(_ name: StaticString, in cache: inout [(UnsafeRawPointer, DatField?)],
                                   _ lookUp: (String) -> DatField?) -> DatField? {
        let key = UnsafeRawPointer(name.utf8Start)
        for (k, f) in cache where k == key { return f }
        let f = lookUp(name.description)
        cache.append((key, f))
        return f
    }
}

// MARK: - Format file parsing

struct FormatParseError: Error { var message: String }

enum EventFormatParser {
    /// Parses one format file. Returns nil where libtraceevent would drop the event (no name, no ID,
    /// unreadable fields); a bad `print fmt` keeps the event but marks it failed.
    static func parse(_ text: String, system: String, longSize: Int, symbols: Kallsyms?, functions: Set<String>) -> DatEvent? {
        var name: String?
        var id: Int?
        var common: [DatField] = []
        var fields: [DatField] = []
        var inFormat = false
        var sawBlank = false
        var printFmt: String?
        var fieldError = false
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var i = 0
        while i < lines.count {
            let raw = lines[i]
            let line = raw.trimmedTD()
            if !inFormat {
                if line.hasPrefix("name:") { name = line.dropFirst(5).trimmedTD() }
                else if line.hasPrefix("ID:") { id = Int(line.dropFirst(3).trimmedTD()) }
                else if line.hasPrefix("format:") { inFormat = true }
                i += 1
                continue
            }
            if line.hasPrefix("print fmt:") {
                // The rest of the file is the print format (may in theory span lines).
                var rest = String(line.dropFirst("print fmt:".count))
                var j = i + 1
                while j < lines.count { rest += "\n" + lines[j]; j += 1 }
                printFmt = rest
                break
            }
            if line.isEmpty {
                if !common.isEmpty || !fields.isEmpty { sawBlank = true }
                i += 1
                continue
            }
            if line.hasPrefix("field:") || line.hasPrefix("field ") {
                if let f = parseField(line, longSize: longSize) {
                    if sawBlank { fields.append(f) } else { common.append(f) }
                } else {
                    fieldError = true
                }
            }
            i += 1
        }
        guard let n = name, !n.isEmpty, let eid = id, !fieldError else { return nil }
        let event = DatEvent(system: system, name: n, id: eid, commonFields: common, fields: fields, format: printFmt ?? "")
        // The print format is compiled on the event's first record (a file describes every event of
        // the kernel; a trace uses a few of them).
        event.pendingPrintFormat = (printFmt, functions)
        return event
    }

    /// Compiles an event's `print fmt:` into print items (libtraceevent's process_event).
    static func compilePrintFormat(_ event: DatEvent, _ printFmt: String?, functions: Set<String>) {
        if let pf = printFmt {
            var p = PrintFmtParser(text: pf, event: event, functions: functions)
            do {
                let (fmt, args) = try p.parseTop()
                event.args = args
                if args.isEmpty && event.system == "ftrace" {
                    // "old ftrace had no args": the fields become the arguments.
                    event.args = event.fields.map { PExpr.field($0) }
                }
                event.args = event.args.map { $0.compiled() }
                if !event.isBprint {
                    let (items, ok) = PrintFmtParser.parseArgs(format: fmt, args: event.args)
                    event.items = items
                    if !ok { event.failed = true; event.failReason = "format/argument mismatch" }
                }
                event.formatText = fmt
            } catch {
                event.failed = true
                event.failReason = "\(error.message) at token \(p.i): \(p.peek)"
            }
        } else {
            event.failed = true
        }
    }

    /// `field:TYPE NAME[N];\toffset:O;\tsize:S;\tsigned:X;`
    static func parseField(_ line: String, longSize: Int) -> DatField? {
        var parts = line.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmedTD() }
        guard parts.count >= 3 else { return nil }
        var decl = parts.removeFirst()
        if decl.hasPrefix("field:") { decl = String(decl.dropFirst(6)) } else { decl = String(decl.dropFirst(5)) }
        var offset: Int?, size: Int?, signed = false
        for p in parts {
            if p.hasPrefix("offset:") { offset = Int(p.dropFirst(7).trimmedTD()) }
            else if p.hasPrefix("size:") { size = Int(p.dropFirst(5).trimmedTD()) }
            else if p.hasPrefix("signed:") { signed = (UInt64(p.dropFirst(7).trimmedTD()) ?? 0) != 0 }
        }
        guard let off = offset, let sz = size, off >= 0, sz >= 0 else { return nil }
        // Tokenize the declaration: identifiers, '*', '[', ']' and what is inside brackets.
        var toks: [String] = []
        var cur = ""
        var bracket: String? = nil
        for ch in decl {
            if var b = bracket {
                b.append(ch)
                if ch == "]" { toks.append(b); bracket = nil } else { bracket = b }
                continue
            }
            if ch == "[" {
                if !cur.isEmpty { toks.append(cur); cur = "" }
                bracket = "["
            } else if ch == "*" {
                if !cur.isEmpty { toks.append(cur); cur = "" }
                toks.append("*")
            } else if ch == " " || ch == "\t" {
                if !cur.isEmpty { toks.append(cur); cur = "" }
            } else {
                cur.append(ch)
            }
        }
        if !cur.isEmpty { toks.append(cur) }
        if bracket != nil { return nil }
        // Drop __attribute__((...)) style tokens? (rare); keep simple.
        guard let bi = toks.firstIndex(where: { $0.hasPrefix("[") }) else {
            guard toks.count >= 2, let nameTok = toks.last, nameTok != "*" else { return nil }
            let typeToks = toks.dropLast()
            let type = typeToks.joined(separator: " ")
            return DatField(name: nameTok, type: type, offset: off, size: sz, isArray: false,
                            isPointer: typeToks.contains("*"), isSigned: signed, arrayLen: 0, dynamicElementSize: 0, longSize: longSize)
        }
        let before = Array(toks[..<bi])
        let brackets = toks[bi]
        let after = Array(toks[(bi + 1)...])
        guard before.count >= 1 else { return nil }
        let inner = brackets.dropFirst().dropLast().trimmedTD()
        let arrayLen = Int(cStrtoull(inner) & 0x7fff_ffff)
        var type: String
        var fname: String
        var dynSize = 0
        if let itemAfter = after.first(where: { $0 != "*" }) {
            // "type [] item" form: __data_loc char[] name
            let elem = before.last!
            dynSize = typeSize(elem)
            type = before.joined(separator: " ") + brackets
            fname = itemAfter
        } else {
            guard before.count >= 2 else { return nil }
            fname = before.last!
            type = before.dropLast().joined(separator: " ") + brackets
        }
        return DatField(name: fname, type: type, offset: off, size: sz, isArray: true,
                        isPointer: before.contains("*"), isSigned: signed,
                        arrayLen: inner.isEmpty ? 0 : arrayLen, dynamicElementSize: dynSize, longSize: longSize)
    }

    static func typeSize(_ name: String) -> Int {
        switch name {
        case "u8", "s8", "char": return 1
        case "u16", "s16": return 2
        case "u32", "s32": return 4
        case "u64", "s64": return 8
        default: return 0
        }
    }
}

/// `strtoull(s, NULL, 0)`: leading blanks, optional sign, 0x / 0 prefixes, stops at the first
/// invalid character; overflow gives UINT64_MAX.
func cStrtoull(_ s: some StringProtocol) -> UInt64 {
    var it = Array(s.utf8)[...]
    while let c = it.first, c == 0x20 || c == 0x09 || c == 0x0A { it = it.dropFirst() }
    var neg = false
    if let c = it.first, c == 0x2D || c == 0x2B { neg = c == 0x2D; it = it.dropFirst() }
    var base: UInt64 = 10
    if it.first == 0x30 {
        let second = it.dropFirst().first
        if second == 0x78 || second == 0x58, let third = it.dropFirst(2).first, hexValue(third) != nil {
            base = 16; it = it.dropFirst(2)
        } else {
            base = 8
        }
    }
    var v: UInt64 = 0
    var overflow = false
    for c in it {
        guard let d = hexValue(c), UInt64(d) < base else { break }
        let (m, o1) = v.multipliedReportingOverflow(by: base)
        let (a, o2) = m.addingReportingOverflow(UInt64(d))
        if o1 || o2 { overflow = true }
        v = a
    }
    if overflow { return UInt64.max }
    return neg ? 0 &- v : v
}

@inline(__always) func hexValue(_ c: UInt8) -> Int? {
    switch c {
    case 0x30...0x39: return Int(c - 0x30)
    case 0x61...0x66: return Int(c - 0x61 + 10)
    case 0x41...0x46: return Int(c - 0x41 + 10)
    default: return nil
    }
}

// MARK: - Print fmt tokens and parser

enum FmtToken: Equatable {
    case item(String)      // identifiers and numbers
    case str(String)       // "..." (escapes kept)
    case char(UInt8)       // 'c'
    case op(String)
    case delim(String)     // ( ) , { }
    case end
}

struct PrintFmtParser {
    var toks: [FmtToken] = []
    var i = 0
    let event: DatEvent
    let functions: Set<String>

    init(text: String, event: DatEvent, functions: Set<String>) {
        self.event = event
        self.functions = functions
        self.toks = PrintFmtParser.tokenize(text)
    }

    static func tokenize(_ text: String) -> [FmtToken] {
        let b = Array(text.utf8)
        var out: [FmtToken] = []
        var p = 0
        func isIdent(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A || c == 0x5F || (c >= 0x30 && c <= 0x39) }
        var lastWasString = false
        var hasTab = false
        while p < b.count {
            let c = b[p]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { p += 1; continue }
            if c != 0x22 { lastWasString = false }
            if isIdent(c) {
                var e = p
                while e < b.count, isIdent(b[e]) { e += 1 }
                out.append(.item(String(decoding: b[p..<e], as: UTF8.self)))
                p = e
                continue
            }
            if c == 0x22 || c == 0x27 { // " or '
                var e = p + 1
                var s: [UInt8] = []
                while e < b.count, b[e] != c {
                    if b[e] == 0x5C, e + 1 < b.count { s.append(b[e]); s.append(b[e + 1]); e += 2; continue }
                    if b[e] == 0x09 { hasTab = true }
                    s.append(b[e]); e += 1
                }
                if c == 0x22 {
                    // Adjacent string literals are one token (libtraceevent __read_token).
                    if case .str(let prev)? = out.last, lastWasString {
                        out[out.count - 1] = .str(prev + String(decoding: s, as: UTF8.self))
                    } else {
                        out.append(.str(String(decoding: s, as: UTF8.self)))
                    }
                    lastWasString = true
                    p = min(e + 1, b.count)
                    continue
                }
                else { out.append(.char(s.first ?? 0)) }
                p = min(e + 1, b.count)
                continue
            }
            if c == 0x28 || c == 0x29 || c == 0x2C || c == 0x7B || c == 0x7D {
                out.append(.delim(String(UnicodeScalar(c))))
                p += 1
                continue
            }
            if p + 1 < b.count {
                let two = String(decoding: b[p...(p + 1)], as: UTF8.self)
                if ["->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||"].contains(two) {
                    out.append(.op(two)); p += 2; continue
                }
            }
            out.append(.op(String(UnicodeScalar(c))))
            p += 1
        }
        // libtraceevent rejects print formats with a literal tab inside a string.
        if hasTab { return [.op("<tab>"), .end] }
        out.append(.end)
        return out
    }

    var peek: FmtToken { toks[min(i, toks.count - 1)] }
    func peek(_ k: Int) -> FmtToken { toks[min(i + k, toks.count - 1)] }
    mutating func next() -> FmtToken { let t = peek; if i < toks.count { i += 1 }; return t }
    mutating func expect(_ t: FmtToken) throws(FormatParseError) {
        guard next() == t else { throw FormatParseError(message: "expected \(t)") }
    }

    /// `"format" [, arg, ...]` — libtraceevent `event_read_print` / `event_read_print_args`.
    mutating func parseTop() throws(FormatParseError) -> (String, [PExpr]) {
        guard case .str(let fmt) = next() else { throw FormatParseError(message: "no format string") }
        if peek == .end { return (fmt, []) }
        try expect(.delim(","))
        var args: [PExpr] = []
        while true {
            let arg = LNode()
            var tok = try processArg(arg)
            if case .op = tok {
                tok = try processOp(arg, tok)
                args.append(fold(try arg.expr(self)))
            } else {
                args.append(try arg.expr(self))
            }
            switch tok {
            case .delim(","): continue
            case .end: return (fmt, args)
            default: throw FormatParseError(message: "unexpected token after argument")
            }
        }
    }

    // MARK: libtraceevent's argument parser (process_arg / process_op), node for node

    /// Reads the next token and parses one argument from it; returns the token after it.
    mutating func processArg(_ arg: LNode) throws(FormatParseError) -> FmtToken {
        let t = next()
        return try processArgToken(arg, t)
    }

    mutating func processArgToken(_ arg: LNode, _ t: FmtToken) throws(FormatParseError) -> FmtToken {
        switch t {
        case .item(let s):
            if s == "REC" {
                // REC->field (or "(REC)" handled by the caller's paren)
                let n = next()
                if n == .delim(")") { arg.kind = .atom; arg.text = "REC"; return n }
                guard n == .op("->") else { throw FormatParseError(message: "expected -> after REC") }
                guard case .item(let f) = next() else { throw FormatParseError(message: "field name expected") }
                arg.kind = .field; arg.text = f
                return next()
            }
            var atom = s
            var n = next()
            if n == .delim("(") { return try processFunction(arg, s) }
            while case .item(let more) = n { atom += " " + more; n = next() }
            arg.kind = .atom; arg.text = atom
            return n
        case .char(let c):
            arg.kind = .atom; arg.text = String(Int8(bitPattern: c))
            return next()
        case .str(let s):
            arg.kind = .atom; arg.text = s
            return next()
        case .delim("("):
            return try processParen(arg)
        case .op(let o), .delim(let o):
            arg.kind = .op; arg.text = o; arg.left = nil; arg.right = nil
            return try processOp(arg, t)
        case .end:
            throw FormatParseError(message: "unexpected end")
        }
    }

    mutating func processParen(_ arg: LNode) throws(FormatParseError) -> FmtToken {
        // "(REC)->field" is a field reference.
        if peek == .item("REC"), peek(1) == .delim(")"), peek(2) == .op("->"), case .item(let f) = peek(3) {
            i += 4
            arg.kind = .field; arg.text = f
            return next()
        }
        var t = try processArg(arg)
        if case .op = t { t = try processOp(arg, t) }
        guard t == .delim(")") else { throw FormatParseError(message: "expected )") }
        let n = next()
        var isItem = false
        switch n {
        case .item, .str, .char, .delim("("): isItem = true
        default: break
        }
        if isItem {
            guard arg.kind == .atom else { throw FormatParseError(message: "previous needed to be an atom for a typecast") }
            let item = LNode()
            arg.kind = .type
            arg.item = item
            return try processArgToken(item, n)
        }
        return n
    }

    static func opPrio(_ op: String) -> Int? {
        switch op {
        case "~", "!": return 4
        case "*", "/", "%": return 6
        case "+", "-": return 7
        case "<", ">": return 9
        case "&": return 11
        case "^": return 12
        case "|": return 13
        case "?": return 16
        case "++", "--": return 3
        case ">>", "<<": return 8
        case ">=", "<=": return 9
        case "==", "!=": return 10
        case "&&": return 14
        case "||": return 15
        default: return nil
        }
    }

    static let binaryOps: Set<String> = [">>", "<<", "&", "|", "&&", "||", "-", "+", "*", "^", "/", "%", "<", ">", "<=", ">=", "==", "!="]

    /// libtraceevent `process_op`; `t` is the operator token.
    mutating func processOp(_ arg: LNode, _ t: FmtToken) throws(FormatParseError) -> FmtToken {
        guard case .op(let token) = t else {
            throw FormatParseError(message: "operator expected")
        }
        var right: LNode? = nil
        var type: FmtToken
        if arg.kind == .op && arg.left == nil {
            // single op
            guard ["~", "!", "+", "-"].contains(token) else { throw FormatParseError(message: "bad op token \(token)") }
            let left = LNode(); left.kind = .null
            arg.left = left
            let r = LNode()
            arg.right = r
            right = r
            type = try processArg(r)
        } else if token == "?" {
            let left = LNode(); left.copy(from: arg)
            arg.kind = .op; arg.text = "?"; arg.left = left; arg.right = nil; arg.prio = 0
            type = try processCond(arg)
        } else if PrintFmtParser.binaryOps.contains(token) {
            let left = LNode(); left.copy(from: arg)
            arg.kind = .op; arg.text = token; arg.left = left; arg.right = nil
            arg.prio = left.kind == .null ? 0 : (PrintFmtParser.opPrio(token) ?? -1)
            type = next()
            if token == "*" && type == .delim(")") {
                guard left.kind == .atom else { throw FormatParseError(message: "bad pointer type") }
                left.text += " *"
                arg.copy(from: left)
                return type
            }
            let r = LNode()
            type = try processArgToken(r, type)
            if r.kind == .op, let pa = PrintFmtParser.opPrio(token), let pr = PrintFmtParser.opPrio(r.text), pa < pr {
                // rotate ops according to the priority (also across parentheses: libtraceevent does)
                arg.right = r.left
                let tmp = LNode(); tmp.copy(from: arg)
                arg.copy(from: r)
                r.copy(from: tmp)
                arg.left = r
            } else {
                arg.right = r
            }
            right = r
        } else if token == "[" {
            let left = LNode(); left.copy(from: arg)
            arg.kind = .op; arg.text = "["; arg.left = left; arg.right = nil; arg.prio = 0
            let idx = LNode()
            let tt = try processArg(idx)
            guard tt == .op("]") else { throw FormatParseError(message: "expected ]") }
            arg.right = idx
            type = next()
        } else {
            throw FormatParseError(message: "unknown op '\(token)'")
        }
        if case .op(let nextOp) = type, nextOp != ":" {
            guard let prio = PrintFmtParser.opPrio(nextOp) else { throw FormatParseError(message: "unknown op '\(nextOp)'") }
            if prio > arg.prio { return try processOp(arg, type) }
            guard let r = right else { throw FormatParseError(message: "operator without right side") }
            return try processOp(r, type)
        }
        return type
    }

    mutating func processCond(_ top: LNode) throws(FormatParseError) -> FmtToken {
        let arg = LNode(), left = LNode(), right = LNode()
        arg.kind = .op; arg.left = left; arg.right = right
        var t = try processArg(left)
        while case .op(let o) = t, o != ":" { t = try processOp(left, t) }
        guard t == .op(":") else { throw FormatParseError(message: "expected :") }
        arg.text = ":"
        t = try processArg(right)
        top.right = arg
        return t
    }

    /// process_field_arg: an argument with operators.
    mutating func fieldArg(_ arg: LNode) throws(FormatParseError) -> FmtToken {
        var t = try processArg(arg)
        while case .op = t { t = try processOp(arg, t) }
        return t
    }

    /// alloc_and_process_delim: an argument (operators allowed, constants folded) then `delim`.
    mutating func delimArg(_ delim: FmtToken) throws(FormatParseError) -> PExpr {
        let a = LNode()
        var t = try processArg(a)
        var e: PExpr
        if case .op = t { t = try processOp(a, t); e = fold(try a.expr(self)) } else { e = try a.expr(self) }
        guard t == delim else { throw FormatParseError(message: "expected \(delim)") }
        return e
    }

    mutating func processFunction(_ arg: LNode, _ name: String) throws(FormatParseError) -> FmtToken {
        arg.kind = .leaf
        switch name {
        case "__print_flags", "__print_flags_u64", "__print_symbolic", "__print_symbolic_u64":
            let field = LNode()
            let t = try fieldArg(field)
            guard t == .delim(",") else { throw FormatParseError(message: "expected , in \(name)") }
            var delim: [UInt8]? = nil
            if name.hasPrefix("__print_flags") {
                var n = next()
                switch n {
                case .item(let d), .str(let d): delim = Array(d.utf8); n = next()
                case .char(let c): delim = [c]; n = next()
                default: break
                }
                guard n == .delim(",") else { throw FormatParseError(message: "expected , after flags delimiter") }
            }
            let list = try processFields()
            let fe = try field.expr(self)
            arg.leaf = name.hasPrefix("__print_flags") ? .flags(fe, delim: delim, list) : .symbols(fe, list)
            return next()
        case "__print_hex", "__print_hex_str":
            let f = try delimArg(.delim(","))
            let n = try delimArg(.delim(")"))
            arg.leaf = .hex(f, n, spaced: name == "__print_hex")
            return next()
        case "__print_array":
            let f = try delimArg(.delim(","))
            let c = try delimArg(.delim(","))
            let z = try delimArg(.delim(")"))
            arg.leaf = .intArray(f, c, z)
            return next()
        case "__get_str", "__get_rel_str", "__get_bitmask", "__get_rel_bitmask", "__get_cpumask", "__get_rel_cpumask":
            guard case .item(let fname) = next() else { throw FormatParseError(message: "field name expected") }
            guard next() == .delim(")") else { throw FormatParseError(message: "expected )") }
            let f = event.anyField(fname)
            if name.contains("str") { arg.leaf = .string(f) }
            else if name.contains("bitmask") { arg.leaf = .bitmask(f) }
            else { arg.leaf = .cpumask(f) }
            return next()
        case "__get_dynamic_array", "__get_rel_dynamic_array", "__get_dynamic_array_len", "__get_rel_dynamic_array_len":
            guard case .item(let fname) = next() else { throw FormatParseError(message: "field name expected") }
            guard let f = event.field(fname) else { throw FormatParseError(message: "no field \(fname)") }
            guard next() == .delim(")") else { throw FormatParseError(message: "expected )") }
            arg.leaf = name.hasSuffix("_len") ? .dynArrayLen(f) : .dynArray(f)
            return next()
        case "__builtin_expect":
            let a = LNode()
            let t = try processArg(a)
            guard t == .delim(",") else { throw FormatParseError(message: "expected , in __builtin_expect") }
            guard case .item = next() else { throw FormatParseError(message: "expected value in __builtin_expect") }
            guard next() == .delim(")") else { throw FormatParseError(message: "expected ) in __builtin_expect") }
            arg.copy(from: a)
            return next()
        default:
            guard functions.contains(name) else { throw FormatParseError(message: "function \(name) not defined") }
            // all registered helpers take one argument: a single primary
            let a = LNode()
            let t = try processArg(a)
            guard t == .delim(")") else { throw FormatParseError(message: "function \(name) expects 1 argument") }
            arg.leaf = .function(name, [try a.expr(self)])
            return next()
        }
    }

    /// process_fields: `{ value, "str" }, ...` up to the closing ')' (which it returns).
    mutating func processFields() throws(FormatParseError) -> [(value: Int64, str: [UInt8])] {
        var list: [(value: Int64, str: [UInt8])] = []
        var t: FmtToken
        repeat {
            t = next()
            guard t == .delim("{") else { break }
            let v = LNode()
            var vt = try processArg(v)
            if case .op = vt { vt = try processOp(v, vt) }
            guard vt == .delim(",") else { throw FormatParseError(message: "expected , in flag entry") }
            let value = try PrintFmtParser.argEval(try v.expr(self))
            let sv = LNode()
            let st = try processArg(sv)
            guard st == .delim("}") else { throw FormatParseError(message: "expected } in flag entry") }
            let str = try PrintFmtParser.argEval(try sv.expr(self))
            list.append((value: PrintFmtParser.evalFlag(value), str: Array(str.utf8)))
            t = next()
        } while t == .delim(",")
        guard t == .delim(")") else { throw FormatParseError(message: "expected ) after flag list") }
        return list
    }

    /// libtraceevent `eval_flag`: flag values are text resolved when printing.
    static func evalFlag(_ v: String) -> Int64 {
        if let c = v.utf8.first, c >= 0x30 && c <= 0x39 { return Int64(bitPattern: cStrtoull(v)) }
        switch v {
        case "HI_SOFTIRQ", "HRTIMER_NORESTART": return 0
        case "TIMER_SOFTIRQ", "HRTIMER_RESTART": return 1
        case "NET_TX_SOFTIRQ": return 2
        case "NET_RX_SOFTIRQ": return 3
        case "BLOCK_SOFTIRQ": return 4
        case "IRQ_POLL_SOFTIRQ": return 5
        case "TASKLET_SOFTIRQ": return 6
        case "SCHED_SOFTIRQ": return 7
        case "HRTIMER_SOFTIRQ": return 8
        case "RCU_SOFTIRQ": return 9
        default: return -1
        }
    }

    /// libtraceevent `arg_eval`: atoms keep their text, other constant expressions become "%lld".
    static func argEval(_ e: PExpr) throws(FormatParseError) -> String {
        switch e {
        case .atom(let s): return s
        case .cast(_, let item): return try argEval(item)   // no masking at this level
        case .op, .cond: return String(try constEval(e))
        default: throw FormatParseError(message: "invalid eval type")
        }
    }

    static func constEval(_ e: PExpr) throws(FormatParseError) -> Int64 {
        switch e {
        case .atom(let s): return Int64(bitPattern: cStrtoull(s))
        case .null: return 0
        case .cast(let t, let x): return Int64(bitPattern: evalType(UInt64(bitPattern: try constEval(x)), t, pointer: false))
        case .op(let o, let l, let r):
            let a = try constEval(l), b = try constEval(r)
            switch o {
            case "|": return a | b
            case "||": return (a != 0 || b != 0) ? 1 : 0
            case "&": return a & b
            case "&&": return (a != 0 && b != 0) ? 1 : 0
            case "<": return a < b ? 1 : 0
            case "<<": return a << (b & 63)
            case "<=": return a <= b ? 1 : 0
            case ">": return a > b ? 1 : 0
            case ">>": return a >> (b & 63)
            case ">=": return a >= b ? 1 : 0
            case "==": return a == b ? 1 : 0
            case "!=": return a != b ? 1 : 0
            case "-": return a &- b
            case "+": return a &+ b
            case "*": return a &* b
            case "/": guard b != 0 else { throw FormatParseError(message: "div by 0") }; return a / b
            case "%": guard b != 0 else { throw FormatParseError(message: "mod by 0") }; return a % b
            case "!": return b == 0 ? 1 : 0
            case "~": return ~b
            case "^": return a ^ b
            default: throw FormatParseError(message: "unknown op")
            }
        case .cond(let c, let a, let b): return try constEval(c) != 0 ? constEval(a) : constEval(b)
        default: throw FormatParseError(message: "not constant")
        }
    }

    /// Constant folding of operations on two atoms (libtraceevent `consolidate_op_arg`).
    func fold(_ e: PExpr) -> PExpr {
        switch e {
        case .op(let o, let l, let r):
            let fl = fold(l), fr = fold(r)
            if case .atom(let a) = fl, case .atom(let b) = fr {
                let x = cStrtoull(a), y = cStrtoull(b)
                var v: UInt64? = nil
                switch o {
                case ">>": v = x >> (y & 63)
                case ">=": v = x >= y ? 1 : 0
                case ">": v = x > y ? 1 : 0
                case "<<": v = x << (y & 63)
                case "<=": v = x <= y ? 1 : 0
                case "<": v = x < y ? 1 : 0
                case "&&": v = (x != 0 && y != 0) ? 1 : 0
                case "&": v = x & y
                case "||": v = (x != 0 || y != 0) ? 1 : 0
                case "|": v = x | y
                case "-": v = x &- y
                case "+": v = x &+ y
                case "*": v = x &* y
                case "^": v = x ^ y
                case "/": v = y == 0 ? nil : x / y
                case "%": v = y == 0 ? nil : x % y
                case "==": v = x == y ? 1 : 0
                case "!=": v = x != y ? 1 : 0
                default: v = nil
                }
                if let v { return .atom(String(Int64(bitPattern: v))) }
            }
            return .op(o, fl, fr)
        case .cond(let c, let a, let b): return .cond(fold(c), fold(a), fold(b))
        case .cast(let t, let x): return .cast(t, fold(x))
        case .index(let a, let b): return .index(fold(a), fold(b))
        default: return e
        }
    }

    /// libtraceevent `eval_type_str`: casts only mask (the `sign` flag is never set there).
    static func evalType(_ val: UInt64, _ type: String, pointer: Bool) -> UInt64 {
        var t = Substring(type)
        if t.count < 2 { return val }
        if pointer {
            guard t.last == "*" else { return val }
            return evalType(val, String(t.dropLast(2)), pointer: false)
        }
        if t.last == "*" { return val }
        if t.hasPrefix("struct") { return val }
        switch t {
        case "u8": return val & 0xff
        case "u16": return val & 0xffff
        case "u32": return val & 0xffff_ffff
        case "u64", "s64": return val
        case "s8": return val & 0xff
        case "s16": return val & 0xffff
        case "s32": return val & 0xffff_ffff
        default: break
        }
        if t.hasPrefix("unsigned ") { t = t.dropFirst(9) }
        switch t {
        case "char": return val & 0xff
        case "short": return val & 0xffff
        case "int": return val & 0xffff_ffff
        default: return val
        }
    }

    // MARK: parse_args: the format string split into literal text and conversions

    static func parseArgs(format: String, args: [PExpr]) -> ([PrintItem], Bool) {
        let f = Array(format.utf8)
        var items: [PrintItem] = []
        var argi = 0
        var ok = true
        var p = 0
        var lit: [UInt8] = []
        func flush() { if !lit.isEmpty { items.append(.literal(lit)); lit = [] } }
        while p < f.count {
            let c = f[p]
            if c == 0x5C, p + 1 < f.count { // backslash escapes
                let e = f[p + 1]
                switch e {
                case 0x6E: lit.append(0x0A)
                case 0x74: lit.append(0x09)
                case 0x72: lit.append(0x0D)
                default: lit.append(e)
                }
                p += 2
                continue
            }
            if c == 0x25 {
                if p + 1 < f.count, f[p + 1] == 0x25 { lit.append(0x25); p += 2; continue }
                flush()
                // conversion
                let start = p
                var q = p + 1
                var spec = CSpec()
                var ls = 0
                var lenArg: PExpr? = nil
                var seenDot = false
                var done = false
                while q < f.count && !done {
                    let ch = f[q]
                    switch ch {
                    case 0x23: spec.hash = true; q += 1                  // '#'
                    case 0x68: ls -= 1; q += 1                            // 'h'
                    case 0x6C: ls += 1; q += 1                            // 'l'
                    case 0x4C: ls = 2; q += 1                             // 'L'
                    case 0x7A, 0x5A: ls = 1; q += 1                       // 'z' 'Z'
                    case 0x2E: seenDot = true; spec.precision = 0; q += 1 // '.'
                    case 0x30...0x39:
                        if ch == 0x30 && !seenDot && spec.width == nil { spec.zero = true; q += 1; break }
                        var v = 0
                        while q < f.count, f[q] >= 0x30, f[q] <= 0x39 { v = v * 10 + Int(f[q] - 0x30); q += 1 }
                        if seenDot { spec.precision = v } else { spec.width = v }
                    case 0x2D: spec.minus = true; q += 1                  // '-'
                    case 0x2B: spec.plus = true; q += 1                   // '+'
                    case 0x2A:                                            // '*'
                        guard argi < args.count, lenArg == nil else { ok = false; done = true; break }
                        lenArg = args[argi]; argi += 1
                        if seenDot { spec.precisionStar = true } else { spec.widthStar = true }
                        q += 1
                    case 0x70:                                            // 'p'
                        guard argi < args.count else { ok = false; done = true; break }
                        spec.conv = ch
                        q += 1
                        q += pointerExtension(f, q)
                        spec.text = Array(f[start..<q])
                        items.append(.pointer(spec, args[argi], lenArg: lenArg)); argi += 1
                        done = true
                    case 0x63, 0x64, 0x75, 0x69, 0x78, 0x58, 0x6F:        // c d u i x X o
                        guard argi < args.count else { ok = false; done = true; break }
                        spec.conv = ch
                        q += 1
                        spec.text = Array(f[start..<q])
                        if ls < -2 || ls > 2 { ok = false }
                        items.append(.number(spec, args[argi], lenArg: lenArg, ls: ls)); argi += 1
                        done = true
                    case 0x73:                                            // 's'
                        guard argi < args.count else { ok = false; done = true; break }
                        spec.conv = ch
                        q += 1
                        spec.text = Array(f[start..<q])
                        items.append(.string(spec, args[argi], lenArg: lenArg)); argi += 1
                        done = true
                    default:
                        items.append(.literal([0x3E, ch, 0x3C])) // ">%c<"
                        q += 1
                        done = true
                    }
                }
                if !ok { return (items, false) }
                p = q
                continue
            }
            lit.append(c)
            p += 1
        }
        flush()
        return (items, ok)
    }

    /// Extra characters after `%p` that libtraceevent consumes (parse_arg_format_pointer).
    static func pointerExtension(_ f: [UInt8], _ q: Int) -> Int {
        func at(_ k: Int) -> UInt8 { q + k < f.count ? f[q + k] : 0 }
        var ret = 0
        switch at(0) {
        case 0x46, 0x53, 0x66, 0x73: ret = 1                          // F S f s
        case 0x4D, 0x6D: ret = (at(1) == 0x52 || at(1) == 0x46) ? 2 : 1 // M m [R F]
        case 0x49, 0x69:                                              // I i
            var index = 2
            switch at(1) {
            case 0x53: // S
                while [0x70, 0x66, 0x73].contains(at(index)) { ret += 1; index += 1 }
                if [0x68, 0x6E, 0x6C, 0x62].contains(at(index)) { ret += 1; index += 1 }
                if at(index) == 0x63 { ret += 1 }
                ret += 1
            case 0x34: // 4
                if [0x68, 0x6E, 0x6C, 0x62].contains(at(index)) { ret += 1; index += 1 }
                ret += 1
            case 0x36: // 6
                if at(index) == 0x63 { ret += 1 }
                ret += 1
            default: break
            }
            ret += 1
        case 0x55: ret = [0x4C, 0x6C, 0x42, 0x62].contains(at(1)) ? 2 : 1 // U
        case 0x68: ret = [0x43, 0x44, 0x4E].contains(at(1)) ? 2 : 1       // h
        default: ret = 0
        }
        return ret
    }
}

// MARK: - Kallsyms

/// /proc/kallsyms, sorted by address; lookups follow libtraceevent's `find_func` (the last symbol
/// never matches, an address matches the symbol whose range [addr, next addr) contains it).
/// Names stay in the section's text (ranges, no array per symbol); the by-name table is built on
/// its first use (print formats rarely name a symbol).
final class Kallsyms {
    private(set) var addrs: [UInt64] = []
    private let text: [UInt8]
    /// Start and end of each name in `text`, in address order.
    private var ranges: [(start: Int32, end: Int32)] = []

    init() { text = [] }

    init(text: [UInt8]) {
        self.text = text
        var entries: [(addr: UInt64, start: Int32, end: Int32, order: Int32)] = []
        text.withUnsafeBufferPointer { text in
            var p = 0
            let n = text.count
            while p < n {
                // The line's end by memchr: kallsyms is megabytes, parsed once per file.
                let nl = memchr(text.baseAddress! + p, 0x0A, n - p)
                let e = nl.map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - text.baseAddress! } ?? n
                // "addr type name[\t[module]]"
                var q = p
                var addr: UInt64 = 0
                var digits = 0
                while q < e, let d = hexValue(text[q]) { addr = addr &* 16 &+ UInt64(d); q += 1; digits += 1 }
                if digits > 0, q < e, text[q] == 0x20 {
                    q += 1
                    if q < e { q += 1 } // type char
                    if q < e, text[q] == 0x20 {
                        q += 1
                        var ne = q
                        while ne < e, text[ne] != 0x20, text[ne] != 0x09 { ne += 1 }
                        if ne > q, text[q] != 0x24 { // skip ARM '$a' symbols
                            entries.append((addr, Int32(q), Int32(ne), Int32(entries.count)))
                        }
                    }
                }
                p = e + 1
            }
        }
        entries.sort { $0.addr != $1.addr ? $0.addr < $1.addr : $0.order < $1.order }
        addrs = entries.map { $0.addr }
        ranges = entries.map { ($0.start, $0.end) }
    }

    var count: Int { addrs.count }

    /// The name of symbol `i` (in address order).
    func name(_ i: Int) -> ArraySlice<UInt8> { text[Int(ranges[i].start)..<Int(ranges[i].end)] }

    /// Address by name, the first in address order for a name listed twice.
    lazy var byName: [String: UInt64] = {
        var m: [String: UInt64] = [:]
        for i in addrs.indices {
            let n = String(decoding: name(i), as: UTF8.self)
            if m[n] == nil { m[n] = addrs[i] }
        }
        return m
    }()

    /// Index of the symbol containing `addr`, or nil.
    func find(_ addr: UInt64) -> Int? {
        let count = addrs.count
        guard count >= 2 else { return nil }
        // largest i with addrs[i] <= addr
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if addrs[mid] <= addr { lo = mid + 1 } else { hi = mid }
        }
        let i = lo - 1
        guard i >= 0, i + 1 < count else { return nil }
        return i
    }
}

extension StringProtocol {
    /// Trims spaces, tabs and CRs (no Foundation needed).
    func trimmedTD() -> String {
        let u = Array(self.utf8)
        var a = 0, b = u.count
        func blank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A }
        while a < b, blank(u[a]) { a += 1 }
        while b > a, blank(u[b - 1]) { b -= 1 }
        return String(decoding: u[a..<b], as: UTF8.self)
    }
}

/// A mutable parse node mirroring libtraceevent's `struct tep_print_arg` while parsing (the
/// operator rotation copies nodes in place).
final class LNode {
    enum Kind { case null, atom, field, op, type, leaf }
    var kind: Kind = .null
    var text = ""
    var left: LNode?
    var right: LNode?
    var item: LNode?
    var prio = 0
    var leaf: PExpr?

    func copy(from o: LNode) {
        kind = o.kind; text = o.text; left = o.left; right = o.right; item = o.item; prio = o.prio; leaf = o.leaf
    }

    func expr(_ p: PrintFmtParser) throws(FormatParseError) -> PExpr {
        switch kind {
        case .null: return .null
        case .atom: return .atom(text)
        case .field: return p.event.anyField(text).map { .field($0) } ?? .missingField(text)
        case .type:
            guard let i = item else { throw FormatParseError(message: "typecast without item") }
            return .cast(text, try i.expr(p))
        case .leaf:
            guard let l = leaf else { throw FormatParseError(message: "empty node") }
            return l
        case .op:
            let l = try left?.expr(p) ?? .null
            let r = try right?.expr(p) ?? .null
            switch text {
            case "?":
                guard let rr = right, rr.kind == .op, rr.text == ":" else { throw FormatParseError(message: "? without :") }
                return .cond(l, try rr.left?.expr(p) ?? .null, try rr.right?.expr(p) ?? .null)
            case "[": return .index(l, r)
            default: return .op(text, l, r)
            }
        }
    }
}
