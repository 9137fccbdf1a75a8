/// All schemas irqtrace knows, by event name, and the matcher that binds a template to one.
public final class SchemaRegistry: Sendable {
    public static let shared = SchemaRegistry(QEMUSchemas.all + KVMSchemas.all)

    /// Schemas by event name; several variants of one event (kernel or QEMU versions) are tried in order.
    public let byName: [String: [EventSchema]]

    public init(_ schemas: [EventSchema]) {
        var m: [String: [EventSchema]] = [:]
        for s in schemas { m[s.name, default: []].append(s) }
        byName = m
    }

    public func schemas(named name: String) -> [EventSchema] { byName[name] ?? [] }

    /// Matches a template's body against the schemas registered for `name`; nil when none fits
    /// (the event then keeps generic fields `arg0`, `arg1`, …).
    public func bind(name: String, pieces: [TemplatePiece]) -> SchemaBinding? {
        guard let candidates = byName[name] else { return nil }
        let elements = TemplateMatcher.flattenBody(pieces)
        for schema in candidates {
            var matcher = TemplateMatcher(elements: elements, tokens: schema.tokens)
            if let sources = matcher.match() {
                return SchemaBinding(schema: schema, sources: sources)
            }
        }
        return nil
    }
}

/// Backtracking matcher of a template body (literal bytes and value slots) against format tokens.
/// A numeric conversion matches a number slot or literal digits (then a constant); `%s` matches a
/// string slot or a run of literal bytes (then fixed text).
struct TemplateMatcher {
    enum Element: Equatable {
        case byte(UInt8)
        case number(slot: Int, style: NumberStyle, width: UInt8)
        case string(slot: Int)
    }

    let elements: [Element]
    let tokens: [FormatToken]
    private var failed = Set<Int>()
    /// The sources of the tokens matched so far. A text token's run of elements is kept as its
    /// bounds and made into a ``FieldSource`` only once the whole template matches: the search
    /// tries many runs (longest first) and most fail.
    private var sources: [Pending] = []
    private enum Pending {
        case source(FieldSource)
        case textRun(Range<Int>)
    }

    init(elements: [Element], tokens: [FormatToken]) {
        self.elements = elements
        self.tokens = tokens
    }

    static func flattenBody(_ pieces: [TemplatePiece]) -> [Element] {
        var out: [Element] = []
        var slot = 0
        var started = !pieces.contains(.bodyStart)
        for p in pieces {
            switch p {
            case .bodyStart: started = true
            case .literal(let bytes): if started { out += bytes.map { .byte($0) } }
            case .number(let style, let width): if started { out.append(.number(slot: slot, style: style, width: width)) }; slot += 1
            case .string: if started { out.append(.string(slot: slot)) }; slot += 1
            default: break
            }
        }
        return out
    }

    mutating func match() -> [FieldSource]? {
        sources = []
        guard step(0, 0) else { return nil }
        return sources.map {
            switch $0 {
            case .source(let s): s
            case .textRun(let r): Self.textSource(elements[r])
            }
        }
    }

    private mutating func step(_ e: Int, _ t: Int) -> Bool {
        if t == tokens.count { return e == elements.count }
        let key = e &* 4096 &+ t
        if failed.contains(key) { return false }
        defer { }
        switch tokens[t] {
        case .literal(let c):
            if e < elements.count, elements[e] == .byte(c), step(e + 1, t + 1) { return true }
        case .number(let hex):
            if e < elements.count {
                switch elements[e] {
                case .number(let slot, let style, _) where hex && style == .decimal:
                    sources.append(.source(.hexDigitsSlot(slot)))
                    if step(e + 1, t + 1) { return true }
                    sources.removeLast()
                case .number(let slot, _, _), .string(let slot):
                    sources.append(.source(.slot(slot)))
                    if step(e + 1, t + 1) { return true }
                    sources.removeLast()
                case .byte:
                    // Literal digits: longest first.
                    var end = e
                    while end < elements.count, case .byte(let b) = elements[end], Self.isNumberByte(b) { end += 1 }
                    var k = end
                    while k > e {
                        if let v = Self.parseConstant(elements[e..<k], hex: hex) {
                            sources.append(.source(.constant(v)))
                            if step(k, t + 1) { return true }
                            sources.removeLast()
                        }
                        k -= 1
                    }
                }
            }
        case .text:
            if e < elements.count, case .string(let slot) = elements[e] {
                sources.append(.source(.slot(slot)))
                if step(e + 1, t + 1) { return true }
                sources.removeLast()
            }
            // Text, longest first: literal bytes, possibly with numbers in it ("0x220" in kvm_apic's
            // register name). Text holds no '|' except as its first byte and closes no parenthesis it
            // did not open, so kvm flag lists split right: "(Fixed|physical|level|masked) (coalesced)"
            // against "(%s|%s|%s%s)%s" gives "level", "|masked" and " (coalesced)".
            var end = e
            var depth = 0
            scan: while end < elements.count {
                switch elements[end] {
                case .byte(let b):
                    if b == 0x7C && end > e { break scan }
                    if b == 0x28 { depth += 1 }
                    if b == 0x29 { if depth == 0 { break scan }; depth -= 1 }
                case .number: break
                case .string: break scan
                }
                end += 1
            }
            var k = end
            while k >= e {
                sources.append(.textRun(e..<k))
                if step(k, t + 1) { return true }
                sources.removeLast()
                k -= 1
            }
        }
        failed.insert(key)
        return false
    }

    /// Fixed text, or text with numbers in it.
    static func textSource(_ run: ArraySlice<Element>) -> FieldSource {
        var parts: [TextPart] = []
        var bytes: [UInt8] = []
        for x in run {
            switch x {
            case .byte(let b): bytes.append(b)
            case .number(let slot, let style, let width):
                if !bytes.isEmpty { parts.append(.literal(bytes)); bytes = [] }
                parts.append(.number(slot: slot, style: style, width: width))
            case .string(let slot):
                if !bytes.isEmpty { parts.append(.literal(bytes)); bytes = [] }
                parts.append(.string(slot: slot))
            }
        }
        if parts.isEmpty { return .text(String(decoding: bytes, as: UTF8.self)) }
        if !bytes.isEmpty { parts.append(.literal(bytes)) }
        return .composite(parts)
    }

    static func isNumberByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46) || b == 0x78 || b == 0x2D
    }

    static func parseConstant(_ s: ArraySlice<Element>, hex: Bool) -> Int64? {
        var bytes: [UInt8] = []
        for x in s { guard case .byte(let b) = x else { return nil }; bytes.append(b) }
        var text = String(decoding: bytes, as: UTF8.self)
        var negative = false
        if text.hasPrefix("-") { negative = true; text.removeFirst() }
        var radix = hex ? 16 : 10
        if text.hasPrefix("0x") { radix = 16; text.removeFirst(2) }
        guard !text.isEmpty, let v = UInt64(text, radix: radix) else { return nil }
        let signed = Int64(bitPattern: v)
        return negative ? -signed : signed
    }
}
