/// Body forms of the hot plugin-printed events: the slot values and shape (see `TemplateMemo`) of a
/// record computed from its fields, instead of printing the plugin's text and tokenizing it.
///
/// Each form knows the text its plugin prints (`EventPrinter.runPlugin`, after libtraceevent's
/// plugin_kvm.c and plugin_sched_switch.c) and how `BodyTokenizer` splits that text into literal text
/// and number slots, so it gives the same values and — through the shape — the same template. The
/// importer checks that claim: the first record of every shape (every record under `--verify-all`)
/// also goes the printed way, and an event whose form disagrees once is printed from then on; a
/// sampled record of a known shape must reprint its report line from the memo's template.
enum PluginForm {
    /// No form (a placeholder in tables by event id).
    case none
    case emulateInsn(EmulateInsnForm)
    case schedSwitch(SchedSwitchForm)
    case schedWakeup(SchedWakeupForm)

    /// The form of event `e`, when its plugin has one and the fields it reads are there (when a field
    /// is missing the plugin prints an error text instead: left to the printed way).
    init?(_ e: DatEvent, bigEndian: Bool) {
        switch e.plugin {
        case .kvmEmulateInsn:
            guard let f = EmulateInsnForm(e, bigEndian: bigEndian) else { return nil }
            self = .emulateInsn(f)
        case .schedSwitch:
            guard let f = SchedSwitchForm(e, bigEndian: bigEndian) else { return nil }
            self = .schedSwitch(f)
        case .schedWakeup:
            guard let f = SchedWakeupForm(e, bigEndian: bigEndian) else { return nil }
            self = .schedWakeup(f)
        default:
            return nil
        }
    }

    @inline(__always)
    func fill(_ d: UnsafeRawBufferPointer, _ sched: inout SchedFormContext, into out: inout RecordShape) -> Bool {
        switch self {
        case .none: return false
        case .emulateInsn(let f): return f.fill(d, into: &out)
        case .schedSwitch(let f): return f.fill(d, &sched, into: &out)
        case .schedWakeup(let f): return f.fill(d, &sched, into: &out)
        }
    }

    /// A number printed as lower-case hex (`%llx`, `%02x`) that stands as a word of its own, as the
    /// tokenizer reads it (`BodyTokenizer.lowerHexWord`): its value when it is a slot; in the shape,
    /// which way it went (and the text itself when it stays literal).
    @inline(__always)
    static func hexWord(_ v: UInt64, minDigits: Int, _ out: inout ShapeCursor) {
        switch BodyTokenizer.lowerHexWord(v, minDigits: minDigits) {
        case .decimal(let x, let width):
            out.value(x); out.byte(width == 0 ? 0 : 1)
        case .hex(let width):
            out.value(Int64(bitPattern: v)); out.byte(width == 0 ? 2 : 3)
        case .literal:
            if v < 256 { out.byte(4); out.byte(UInt8(v)) } else { out.byte(5); out.word(v) }
        }
    }
}

/// A plain numeric field of a record: offset and size (1, 2, 4 or 8 bytes).
struct NumericField {
    // 32-bit offset and size (a record's fields are within its 64 KiB), so the field with its load
    // mask takes the 16 bytes it took before: the forms are copied per record and a larger
    // `PluginForm` is copied by a memcpy call.
    private let offset32: Int32
    private let size32: Int32
    var offset: Int { Int(offset32) }
    var size: Int { Int(size32) }
    /// `DatReader.loadMask` of the field in a little-endian file (`read` uses it only in one).
    let loadMask: UInt64

    /// `EventPrinter.fieldVal`'s field: nil when missing or not 1/2/4/8 bytes wide.
    init?(_ e: DatEvent, _ name: StaticString) {
        let (o, s) = e.numericField(name)
        guard o >= 0, s != 0 else { return nil }
        offset32 = Int32(o)      // numericField keeps offsets as Int32
        size32 = Int32(s)
        loadMask = DatReader.loadMask(s, big: false)
    }

    /// The value, 0 past the end of the record (`fieldVal`).
    @inline(__always)
    func read(_ d: UnsafeRawBufferPointer, _ big: Bool) -> UInt64 {
        DatReader.field(d, offset, size, loadMask: big ? 0 : loadMask, big)
    }
}

/// `kvm_emulate_insn` (plugin_kvm.c kvm_emulate_insn_handler; here without libopcodes, as Debian's
/// trace-cmd prints it): `%llx:%llx: ` csbase and rip, then the `len` (at most 15) instruction bytes
/// as `%02x` separated by spaces, then ` FAIL` when `failed`. For the tokenizer every one of these
/// numbers is a word of its own (after ' ' or ':', before ':', ' ' or the end).
struct EmulateInsnForm {
    let rip: NumericField
    let csbase: NumericField
    let len: NumericField
    let failed: NumericField
    let insnOffset: Int
    let big: Bool

    init?(_ e: DatEvent, bigEndian: Bool) {
        // The plugin reads rip, csbase, len, flags and failed, and finds insn; any missing: error text.
        guard let rip = NumericField(e, "rip"), let csbase = NumericField(e, "csbase"), let len = NumericField(e, "len"),
              NumericField(e, "flags") != nil, let failed = NumericField(e, "failed"),
              let insn = e.fieldNamed("insn") else { return nil }
        self.rip = rip
        self.csbase = csbase
        self.len = len
        self.failed = failed
        self.insnOffset = insn.offset
        self.big = bigEndian
    }

    @inline(__always)
    func fill(_ d: UnsafeRawBufferPointer, into shape: inout RecordShape) -> Bool {
        let n = Int(min(len.read(d, big), 15))
        let failed = self.failed.read(d, big) != 0
        let csbase = self.csbase.read(d, big), rip = self.rip.read(d, big)
        // At most 2 + n values; 2 + 2 × 9 (a literal word: code and 8 bytes) + 2n shape bytes.
        return shape.withRoom(values: 2 + n, bytes: 20 + 2 * n) { out in
            out.byte(UInt8(n))
            out.byte(failed ? 1 : 0)
            PluginForm.hexWord(csbase, minDigits: 1, &out)
            PluginForm.hexWord(rip, minDigits: 1, &out)
            Self.byteWords.withUnsafeBufferPointer { words in
                for k in 0..<n {
                    let at = insnOffset &+ k
                    let w = words[Int(at < d.count ? d[at] : 0)]
                    if w.code < 4 { out.value(w.value) }
                    out.byte(w.code)
                    if w.code == 4 { out.byte(UInt8(truncatingIfNeeded: w.value)) }
                }
            }
        }
    }

    /// `PluginForm.hexWord(b, minDigits: 2)` of every byte: the value and shape code it gives.
    static let byteWords: [(code: UInt8, value: Int64)] = (0..<256).map { b in
        switch BodyTokenizer.lowerHexWord(UInt64(b), minDigits: 2) {
        case .decimal(let x, let width): return (width == 0 ? 0 : 1, x)
        case .hex(let width): return (width == 0 ? 2 : 3, Int64(b))
        case .literal: return (4, Int64(b))
        }
    }
}
