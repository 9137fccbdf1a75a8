import TraceFormat

/// An adapter's field names: an enum whose cases are schema field names, numbered 0, 1, 2, …
protocol FieldKey: RawRepresentable, CaseIterable where RawValue == Int {}

/// The schema fields an adapter reads in one template, resolved once per template (by name) into
/// plain data indexed by the adapter's own field enum; ``TemplateHandlers`` keeps them flat.
struct FieldTable<Field: FieldKey> {
    let sources: [FieldSource?]
    /// Plain data for the hot path (no enum payloads to retain): per field, the slot to read
    /// (-1: none), whether its decimal digits are to be read as hex, or a constant.
    private let slots: [Int]
    private let hexDigits: [Bool]
    private let constants: [Int64?]
    /// Fields that are fixed text of the template (a `__print_symbolic` name, "read"/"write"):
    /// returned without touching the template or the event.
    private let constantTexts: [String?]

    /// The schema field name of each case, by raw value (`String(describing:)` goes through
    /// reflection: made once per adapter, not once per field of every template).
    static var names: [String] { Field.allCases.map { String(describing: $0) } }

    init(_ template: EventTemplate, names: [String]) {
        var byName: [String: FieldSource] = [:]
        if let b = template.binding {
            for (f, src) in zip(b.schema.fields, b.sources) { byName[f.name] = src }
        }
        sources = Field.allCases.map { byName[names[$0.rawValue]] }
        var slots: [Int] = [], hex: [Bool] = [], constants: [Int64?] = []
        constantTexts = sources.map { if case .text(let t)? = $0 { t } else { nil } }
        for s in sources {
            switch s {
            case .slot(let k)?: slots.append(k); hex.append(false); constants.append(nil)
            case .hexDigitsSlot(let k)?: slots.append(k); hex.append(true); constants.append(nil)
            case .constant(let v)?: slots.append(-1); hex.append(false); constants.append(v)
            default: slots.append(-1); hex.append(false); constants.append(nil)
            }
        }
        self.slots = slots
        self.hexDigits = hex
        self.constants = constants
    }

    /// The field's slot (-1: none), hex-digits flag, constant and fixed text.
    func plain(_ field: Field) -> (Int, Bool, Int64?, String?) {
        let k = field.rawValue
        return (slots[k], hexDigits[k], constants[k], constantTexts[k])
    }
}

/// Per-thread state for the few threads of a trace: linear search, no hashing.
struct ThreadTable<Value> {
    private var keys: [Int32] = []
    private var values: [Value] = []
    private var last = 0
    let make: () -> Value

    init(_ make: @escaping () -> Value) { self.make = make }

    /// Mutates the value of `thread` in place (created on first use).
    @inline(__always)
    mutating func with<R>(_ thread: Int32, _ body: (inout Value) -> R) -> R {
        if last < keys.count && keys[last] == thread { return body(&values[last]) }
        if let k = keys.firstIndex(of: thread) { last = k; return body(&values[k]) }
        keys.append(thread)
        values.append(make())
        last = keys.count - 1
        return body(&values[last])
    }

    var all: [(Int32, Value)] { Array(zip(keys, values)) }

    /// A table holding `entries` in this order (a restored replay snapshot).
    init(_ entries: [(Int32, Value)], make: @escaping () -> Value) {
        self.make = make
        keys = entries.map { $0.0 }
        values = entries.map { $0.1 }
    }
}

/// A template's fields in ``TemplateHandlers``' flat tables (plain data: nothing to retain per event).
struct FieldRef { let base: Int }

/// What an adapter does with each template, resolved the first time the template is seen: the
/// event kind it handles (nil: not an event of its) and the schema fields it reads, kept in flat
/// arrays (template base + field) so that the per-event path copies no array and retains nothing.
struct TemplateHandlers<Kind, Field: FieldKey> {
    private var kinds: [Kind?] = []
    private var bases: [Int] = []
    private var sources: [FieldSource?] = []
    private var slots: [Int] = []
    private var hexDigits: [Bool] = []
    private var constants: [Int64?] = []
    private var constantTexts: [String?] = []
    /// Memoized `code` results for fields that are fixed template text (-1: not computed yet).
    private var codes: [Int16] = []
    /// ``textKey`` of fields that are fixed template text (nil: not computed yet).
    private var textKeys: [Int64?] = []
    let classify: (String) -> Kind?
    private lazy var fieldNames = FieldTable<Field>.names

    init(_ classify: @escaping (String) -> Kind?) { self.classify = classify }

    /// The kind and fields of catalog template `id`; nil for templates the adapter ignores or that
    /// match no schema.
    @inline(__always)
    mutating func resolve(_ id: UInt32, in catalog: TemplateCatalog) -> (kind: Kind, fields: FieldRef)? {
        let k = Int(id)
        if k >= kinds.count { learn(upTo: k, catalog) }
        // (Unchecked: `learn` made entries up to k. A FieldRef is made only here, for a template whose
        // fields `learn` all appended, so base + field is within the field tables below.)
        guard let kind = kinds.unchecked(k) else { return nil }
        return (kind, FieldRef(base: bases.unchecked(k)))
    }

    private mutating func learn(upTo k: Int, _ catalog: TemplateCatalog) {
        while kinds.count <= k {
            let t = catalog[UInt32(kinds.count)]
            let kind = t.binding == nil ? nil : classify(t.name)
            kinds.append(kind)
            bases.append(slots.count)
            guard kind != nil else { continue }
            let table = FieldTable<Field>(t, names: fieldNames)
            for field in Field.allCases {
                let r = field.rawValue
                sources.append(table.sources[r])
                let (slot, hex, constant, text) = table.plain(field)
                slots.append(slot); hexDigits.append(hex); constants.append(constant); constantTexts.append(text); codes.append(-1); textKeys.append(nil)
            }
        }
    }

    @inline(__always)
    func number(_ r: FieldRef, _ field: Field, _ batch: EventBatch, _ i: Int) -> Int64? {
        number(r, field, batch, row: batch.row(i))
    }

    /// The field's number for the event at `row` (``EventBatch/row(_:)``, computed once per event).
    @inline(__always)
    func number(_ r: FieldRef, _ field: Field, _ batch: EventBatch, row: EventRow) -> Int64? {
        let k = r.base &+ field.rawValue
        let slot = slots.unchecked(k)
        if slot >= 0 {
            let v = batch.value(row, slot: slot)
            return hexDigits.unchecked(k) ? EventBatch.decimalDigitsAsHex(v) : v
        }
        return constants.unchecked(k)
    }

    /// The field as text; the template is fetched only for fields that are not fixed text.
    @inline(__always)
    func text(_ r: FieldRef, _ field: Field, _ batch: EventBatch, _ i: Int, _ template: @autoclosure () -> EventTemplate) -> String? {
        let k = r.base &+ field.rawValue
        if let c = constantTexts[k] { return c }
        return sources[k].map { batch.text(i, $0, template: template()) }
    }

    /// A small code (0...0x7FFF) that `classify` gives the field's text. When the text is fixed
    /// template text the result is kept, so an adapter must classify a field of a given event kind
    /// always the same way (one classifier per call site's field).
    @inline(__always)
    mutating func code(_ r: FieldRef, _ field: Field, _ batch: EventBatch, _ i: Int, _ template: @autoclosure () -> EventTemplate,
                       _ classify: (String) -> Int16) -> Int16 {
        let k = r.base &+ field.rawValue
        let c = codes.unchecked(k)
        if c >= 0 { return c }
        if let t = constantTexts[k] { let v = classify(t); codes[k] = v; return v }
        return classify(sources[k].map { batch.text(i, $0, template: template()) } ?? "")
    }

    /// A number naming the field's text (FNV-1a over its bytes and numbers), made without a String:
    /// equal texts give equal keys whichever template they come from, for telling apart the few
    /// devices a trace names (`vfio_*`'s "0000:01:00.0", printed with numbers in it). Memoized when
    /// the text is fixed template text.
    @inline(__always)
    mutating func textKey(_ r: FieldRef, _ field: Field, _ batch: EventBatch, _ i: Int) -> Int64 {
        let k = r.base &+ field.rawValue
        if let t = constantTexts[k] {
            if let key = textKeys[k] { return key }
            let key = Self.fold(Self.fnvBasis, t.utf8)
            textKeys[k] = key
            return key
        }
        var h = Self.fnvBasis
        switch sources[k] {
        case .composite(let parts)?:
            for p in parts {
                switch p {
                case .literal(let bytes): h = Self.fold(h, bytes)
                case .number(let s, _, _): h = Self.fold(h, value: batch.value(i, slot: s))
                case .string(let s):
                    let v = batch.value(i, slot: s)
                    if v >= 0, Int(v) < batch.strings.count { h = Self.fold(h, batch.strings[Int(v)]) }
                }
            }
        case .slot(let s)?, .hexDigitsSlot(let s)?: h = Self.fold(h, value: batch.value(i, slot: s))
        case .constant(let v)?: h = Self.fold(h, value: v)
        default: break
        }
        return h
    }

    static var fnvBasis: Int64 { Int64(bitPattern: 0xCBF2_9CE4_8422_2325) }
    @inline(__always)
    static func fold<S: Sequence>(_ h: Int64, _ bytes: S) -> Int64 where S.Element == UInt8 {
        var h = UInt64(bitPattern: h)
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return Int64(bitPattern: h)
    }
    @inline(__always)
    static func fold(_ h: Int64, value: Int64) -> Int64 {
        // A separator byte first, so "1:23" and "12:3" differ.
        var h = UInt64(bitPattern: fold(h, CollectionOfOne(0xFF)))
        h = (h ^ UInt64(bitPattern: value)) &* 0x100_0000_01B3
        return Int64(bitPattern: h)
    }
}

extension Array {
    /// Element `i` without a bounds check, for ``TemplateHandlers``' tables, whose indices are valid
    /// by construction (see ``TemplateHandlers/resolve(_:in:)``); each is an array bounds check per
    /// field read otherwise.
    @inline(__always)
    fileprivate func unchecked(_ i: Int) -> Element { withUnsafeBufferPointer { $0[i] } }
}
