import Foundation
import TraceFormat

extension TraceDatReader {
    /// What an import of the records did.
    struct ImportCounts {
        var records = 0
        /// Records stored from their binary form (the rest went through their text line).
        var direct = 0
        /// Records whose binary form did not reprint their line (stored as text instead).
        var mismatches = 0
        /// Records whose body form (`TemplateMemo` way) disagreed with the printed way (tests: 0).
        var formDisagreements = 0
        /// Records stored as a byte-identical record before them was (`RecordMemo`).
        var repeats = 0
        var clock: ClockDomain = .none
    }

    /// Imports every record into `writer` (see ``TraceDatImport``). Throws `TraceDatError` on damage,
    /// after the records before it are in the writer; `counts` then says how far it got.
    func importRecords(writer: TraceWriter, clock: ClockDomain, strict: Bool, verifyAll: Bool, path: String,
                       counts: inout ImportCounts, diagnostics: inout ImportDiagnostics,
                       observe: (EventTemplate, UInt32) -> Void) throws {
        defer { eventCounts = file.seenCounts() }
        do {
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws in
                let run = try ReportRun(file: file, raw: raw)
                var importer = TraceDatImport(run: run, writer: writer, clock: clock, strict: strict, verifyAll: verifyAll)
                defer {
                    counts.records = importer.records
                    counts.direct = importer.direct
                    counts.mismatches = importer.mismatches
                    counts.formDisagreements = importer.formDisagreements
                    counts.repeats = importer.recordMemoHits
                    counts.clock = importer.clock
                }
                try importer.importAll(path: path, diagnostics: &diagnostics, observe: observe)
            }
        } catch let f as DatFault {
            throw TraceDatError(path: path, offset: f.offset, message: f.message)
        }
    }
}


/// Imports trace.dat records into a trace without going through text: each record's template
/// (header pieces + body pieces) and slot values are built straight from the binary record, so the
/// trace reprints the line `trace-cmd report` prints, byte for byte.
///
/// Three ways, per record:
/// - **compiled** (most events): the event's print format is a list of literals, integer
///   conversions and string-like conversions. Integer conversions become number slots filled from
///   the record's fields; string-like ones (`%s`, `__print_symbolic`, `%pS`, …) are printed and kept
///   as template text. No text line is made.
/// - **printed body**: events printed by a plugin, with a failed or `bprint` format, or a value the
///   compiled form cannot hold (`%u` above 2^63, `%.0x` of zero): the body is printed as
///   libtraceevent would and tokenized like ftrace text; the header is still built directly.
/// - **text line**: missed-events markers and records of unknown events go through the ftrace text
///   importer as whole lines.
///
/// Records of known shape skip all of that: a body form (`CompiledFormat.fill`, `PluginForm`) writes
/// the record's slot values and its shape, and the `TemplateMemo` gives the template id stored for
/// (header key, shape) — no skeleton is built, hashed or compared. A shape enters the memo only when
/// its first record, built the way above, gave the same values; under `verifyAll` every record is
/// built that way too and compared with its form; an event whose form disagrees loses it.
///
/// Every new template, every 64th record (every record under `verifyAll`) is proved: the record's
/// report line is printed and compared with the reprint of what is stored — for a sampled record of
/// a known shape, the memo's template with the form's values (`reprintsStored`); one that does not
/// reprint goes the general way. A record that does not reprint from that either is stored as its
/// text line instead (nothing is ever lost) and its event leaves the compiled way.
struct TraceDatImport {
    var run: ReportRun
    let printer: EventPrinter
    let writer: TraceWriter
    let clock: ClockDomain
    let verifyAll: Bool
    var text: TextImporter<FtraceLineTokenizer>

    private var skeleton = SkeletonBuilder()
    private var values: [Int64] = []
    private var scratch: [UInt8] = []
    private var line: [UInt8] = []
    private var rendered: [UInt8] = []
    /// How each event's records are stored, by event id (decided at its first record).
    enum Way {
        case compiled(CompiledFormat)
        case printedBody
        case textLine
    }
    /// What computes a record's values and shape for the memo way (kept in plain arrays by event id:
    /// no enum with a class payload copied per record).
    enum FormKind: UInt8 {
        case none
        /// `compiledForms[id]`: `CompiledFormat.fill`.
        case compiled
        /// `pluginForms[id]`.
        case plugin
        /// Any other printed-body event: the body is printed and tokenized (as the general way does);
        /// its body skeleton is the shape, so only the header and the catalog look-up are saved.
        case printed
    }
    private var wayByID: [Way?] = []
    private var wayOther: [Int: Way] = [:]
    /// A record's header is its task part (`%16s-%-5d [%03d] %5lu.%06lu`: instance prefix, task
    /// name, pid, CPU and time slots) and its event part (`: %s: `, fixed per event): the task part
    /// is built once per (buffer, pid, time digits) and interned by content; the memo keys records
    /// by (task part, event).
    /// Task parts by (buffer, pid, time digits); cleared when a name makes a cached one stale.
    private var headerIndex = HashIndex(capacity: 256)
    private var headerKeys: [UInt64] = []
    /// The task part id of each key in `headerKeys`.
    private var headerOfKey: [UInt32] = []
    /// Task parts interned by content (never cleared): tasks of the same name and pid width share
    /// one, so their records share memo entries.
    private var headerSkeletons: [[UInt8]] = []
    private var headerSkeletonIndex = HashIndex(capacity: 256)
    /// The event part of the header by event id (`": name: "` padded, then the body start).
    private var eventParts: [Int: [UInt8]] = [:]
    /// Direct-mapped cache in front of `headerIndex` (key → header id; key `.max` = empty): a CPU's
    /// records mostly come from one task.
    private var recentHeaderKeys = [UInt64](repeating: .max, count: 256)
    private var recentHeaderIDs = [UInt32](repeating: 0, count: 256)
    private var commsVersion = 0
    /// A cached header shows a task without a name (`<...>`): the only kind a registered name makes
    /// stale (a task's name, once known, never changes: `EventPrinter.registerComm`).
    private var headersOfUnnamedTasks = false
    /// Body forms by event id (`.none`: none yet, none, or dropped after a disagreement).
    private var formKinds: [FormKind] = []
    /// Unretained: `wayByID`/`wayOther` hold the plans for the import's length.
    private var compiledForms: [Unmanaged<CompiledFormat>?] = []
    /// The file's times are in ns (else counter ticks printed raw).
    private let inUsecs: Bool
    private var pluginForms: [PluginForm] = []
    /// The sched forms' printer and scratch.
    private var sched: SchedFormContext
    private var memo = TemplateMemo()
    /// Records stored before, byte for byte (not under `verifyAll`, which builds every record).
    private var recordMemo = RecordMemo()
    /// Records the record memo stored.
    var recordMemoHits: Int { recordMemo.hitCount }
    /// What the memo way found for the record the general way is called for next.
    private var memoOutcome = MemoOutcome.noValues
    private var shape = RecordShape()
    private(set) var formDisagreements = 0
    private var sinceVerified = 0
    private var lastTemplateCount = -1
    private(set) var records = 0
    /// Records the compiled or printed-body way stored (the rest went through text lines).
    private(set) var direct = 0
    private(set) var mismatches = 0

    init(run: ReportRun, writer: TraceWriter, clock: ClockDomain, strict: Bool, verifyAll: Bool) {
        self.run = run
        self.printer = run.printer
        self.sched = SchedFormContext(printer: run.printer)
        self.writer = writer
        self.clock = run.file.inUsecs || clock == .counter || clock == .x86TSC ? clock : .counter
        self.verifyAll = verifyAll
        self.inUsecs = run.file.inUsecs
        self.text = TextImporter(tokenizer: FtraceLineTokenizer(clock: clock), strict: strict, verifyAll: verifyAll)
        values.reserveCapacity(32)
        scratch.reserveCapacity(256)
        line.reserveCapacity(256)
        rendered.reserveCapacity(256)
    }

    mutating func importAll(path: String, diagnostics: inout ImportDiagnostics,
                            observe: (EventTemplate, UInt32) -> Void) throws {
        let maxID = run.file.events.maxID
        if maxID < 1 << 20 {
            wayByID = Array(repeating: nil, count: maxID + 1)
            formKinds = Array(repeating: .none, count: maxID + 1)
            compiledForms = Array(repeating: nil, count: maxID + 1)
            pluginForms = Array(repeating: .none, count: maxID + 1)
        }
        shape = RecordShape.allocate()
        defer { shape.deallocate() }
        if !verifyAll && maxID < 1 << 20 { recordMemo = RecordMemo.allocate(events: maxID + 1) }
        defer { recordMemo.deallocate() }
        lastTemplateCount = writer.catalog.count
        let run = self.run
        // The memo way first, on its own: it needs none of the general way's context (whose
        // references the compiler would retain and release around every record); what it found
        // for a record it did not store is in `memoOutcome` for the general way.
        try run.runRecords(first: { s, id, e, d, pid in
            memoOutcome = try memoRecord(s, id, e, d, pid)
            if case .stored = memoOutcome { return true }
            return false
        }, { s, event, d, pid in
            let memo = memoOutcome
            memoOutcome = .noValues
            try record(s, event, d, pid, memo: memo, path: path, diagnostics: &diagnostics, observe: observe)
        })
    }

    /// The memo way (`memoWay`) of a record that may take it: its event (id `id`) has a form (only
    /// once its way is decided, and never when it goes as text lines), no events were lost before
    /// it, and no task name was registered since the last record.
    @inline(__always)
    private mutating func memoRecord(_ s: CPUStream, _ id: Int, _ e: Unmanaged<DatEvent>, _ d: UnsafeRawBufferPointer,
                                     _ pid: Int32) throws -> MemoOutcome {
        guard id < formKinds.count, formKinds.withUnsafeBufferPointer({ $0[id] }) != .none, s.recMissed == 0, s.buffer < 64,
              printer.commsVersion == commsVersion else { return .noValues }
        let outcome = try memoWay(s, id, e, d, pid, time: Int64(bitPattern: s.recTS))
        if case .stored = outcome { records &+= 1 }
        return outcome
    }

    /// A record the memo way did not store (`memo`: what it found) goes the general way.
    private mutating func record(_ s: CPUStream, _ event: DatEvent?, _ d: UnsafeRawBufferPointer, _ pid: Int32, memo: MemoOutcome,
                                 path: String, diagnostics: inout ImportDiagnostics, observe: (EventTemplate, UInt32) -> Void) throws {
        if s.recMissed != 0 {
            records += 1
            line.removeAll(keepingCapacity: true)
            run.appendMissedLine(s, &line)
            // The marker prints no time: it takes the time of the record after the gap.
            try textLine(path: path, exactTime: Int64(bitPattern: s.recTS), diagnostics: &diagnostics, observe: observe)
        }
        records += 1
        guard let e = event else {
            // A record whose event id the file does not describe (damaged data): kept as the line
            // trace-cmd prints for it ("[UNKNOWN EVENT]…"), whole, under the name `unknown_event`.
            line.removeAll(keepingCapacity: true)
            run.appendLine(s, nil, d, pid, &line)
            skeleton.reset()
            skeleton.appendString()
            values.removeAll(keepingCapacity: true)
            values.append(writer.internString(line))
            let id = try writer.catalog.intern(name: "unknown_event", skeleton: skeleton.bytes)
            try values.withUnsafeBufferPointer { v in
                try writer.append(time: Int64(bitPattern: s.recTS), cpu: s.cpu, thread: pid, domain: clock, template: id, values: v)
            }
            direct += 1
            if writer.catalog.count != lastTemplateCount {
                lastTemplateCount = writer.catalog.count
                observe(writer.catalog[id], id)
            }
            return
        }
        // A new shape (or one due for verification): `checkForm` compares the form with this way.
        var formKey: (header: UInt64, hash: UInt64)? = nil
        if case .newShape(let header, let hash) = memo { formKey = (header, hash) }
        let time = Int64(bitPattern: s.recTS)
        let way = self.way(e)
        if case .textLine = way {
            try wholeLine(s, e, d, pid, path: path, diagnostics: &diagnostics, observe: observe)
            return
        }
        skeleton.reset()
        values.removeAll(keepingCapacity: true)
        appendHeader(s, e, pid)
        var built = false
        if case .compiled(let plan) = way {
            let (headerBytes, headerSlots) = (skeleton.count, skeleton.valueCount)
            built = plan.append(d, printer: printer, event: e, skeleton: &skeleton, values: &values, scratch: &scratch)
            if !built {
                // Start the body again the printed way (the header stays).
                skeleton.truncate(to: headerBytes, valueCount: headerSlots)
                values.removeAll(keepingCapacity: true)
            }
        }
        if !built {
            scratch.removeAll(keepingCapacity: true)
            printer.printInfo(e, d, into: &scratch)
            if scratch.last == 0x0A { scratch.removeLast() }
            scratch.withUnsafeBytes { b in
                BodyTokenizer.tokenize(b, from: 0, to: b.count, into: &skeleton, values: &values)
            }
        }
        let commsChanged = printer.commsVersion != commsVersion
        if commsChanged { namesRegistered() }
        var id = e.nameBytes.withUnsafeBytes { name in
            skeleton.withUnsafeBytes { sk in writer.catalog.lookup(name: name, skeleton: sk) }
        }
        sinceVerified += 1
        if id == nil || verifyAll || sinceVerified >= 64 {
            sinceVerified = 0
            line.removeAll(keepingCapacity: true)
            run.appendLine(s, e, d, pid, &line)
            let exact = line.withUnsafeBytes { l in
                SkeletonRenderer.reprints(l, skeleton: skeleton.bytes, values: values, time: time, cpu: s.cpu, thread: pid, scratch: &rendered)
            }
            if !exact {
                mismatches += 1
                setWay(.textLine, for: e)
                try textLine(path: path, exactTime: time, diagnostics: &diagnostics, observe: observe)
                return
            }
            if id == nil {
                id = try e.nameBytes.withUnsafeBytes { name in
                    try skeleton.withUnsafeBytes { sk in try writer.catalog.intern(name: name, skeleton: sk) }
                }
            }
        }
        try values.withUnsafeBufferPointer { v in
            try writer.append(time: time, cpu: s.cpu, thread: pid, domain: clock, template: id!, values: v)
        }
        direct += 1
        if writer.catalog.count != lastTemplateCount {
            lastTemplateCount = writer.catalog.count
            let tid = UInt32(lastTemplateCount - 1)
            observe(writer.catalog[tid], tid)
        }
        // Not while task names changed in this record: its header predates them (the memo was cleared).
        if let k = formKey, !commsChanged { checkForm(e, header: k.header, hash: k.hash, id: id!) }
    }

    enum MemoOutcome {
        /// Stored by the memo.
        case stored
        /// Not stored: the shape is new or the record is due for verification (`checkForm` after
        /// the general way uses the key).
        case newShape(header: UInt64, hash: UInt64)
        /// The form could not give the record's values (the general way alone).
        case noValues
    }

    /// Stores the record by its form and the memo when its shape is known and it is not due for
    /// verification.
    @inline(__always)
    private mutating func memoWay(_ s: CPUStream, _ eventID: Int, _ e: Unmanaged<DatEvent>, _ d: UnsafeRawBufferPointer,
                                  _ pid: Int32, time: Int64) throws -> MemoOutcome {
        // The header first, as libtraceevent prints it before the body (whose printing may
        // register task names); the general way finds it cached if it runs after.
        // Memo key: header skeleton and event (events of one name may have different forms).
        let hid = cachedHeaderID(s, pid) ?? headerID(s, pid)
        let header = UInt64(hid) << 20 | UInt64(eventID)
        // (`eventID` is below the tables' count: `memoRecord` checked it.)
        let kind = formKinds.withUnsafeBufferPointer { $0[eventID] }
        // A record stored before, byte for byte, under this header: the same template and values,
        // without the form (compiled and plugin forms: their output is the record's bytes' alone — a
        // sched form registers task names only when first seen, so never on a repeat). Not when
        // due for verification (the form's way proves the record) nor under `verifyAll` (off).
        var memoSlot = -1
        if kind == .compiled || kind == .plugin, sinceVerified &+ 1 < 64, recordMemo.isOn(eventID) {
            memoSlot = recordMemo.slot(header: header, d)
            if memoSlot >= 0, let (id, v, size) = recordMemo.find(slot: memoSlot, header: header, d, event: eventID) {
                sinceVerified &+= 1
                try writer.append(time: time, cpu: s.cpu, thread: pid, domain: clock, template: id, values: v, valueBytes: size)
                direct &+= 1
                return .stored
            }
        }
        shape.reset()
        let filled: Bool
        switch kind {
        case .compiled:
            filled = compiledForms.withUnsafeBufferPointer { $0[eventID] }!._withUnsafeGuaranteedRef { plan in
                e._withUnsafeGuaranteedRef { e in plan.fill(d, printer: printer, event: e, into: &shape, scratch: &scratch) }
            }
        case .plugin: filled = pluginForms[eventID].fill(d, &sched, into: &shape)
        case .printed: filled = e._withUnsafeGuaranteedRef { fillPrinted(s, $0, d, pid) }
        case .none: filled = false
        }
        guard filled else { return .noValues }
        let h = TemplateMemo.hash(header, shape)
        // Under `verifyAll` every record is built the general way too, and its form checked against it.
        if !verifyAll, let id = memo.find(header: header, shape: shape.shapeBytes, hash: h) {
            if sinceVerified &+ 1 >= 64 {
                // Due for verification: the record's report line must be what the memo's template
                // and the form's values reprint; if not, the general way builds and checks it.
                guard e._withUnsafeGuaranteedRef({ reprintsStored(s, $0, d, pid, template: id, time: time) }) else {
                    return .newShape(header: header, hash: h)
                }
                sinceVerified = 0
            } else {
                sinceVerified &+= 1
            }
            try writer.append(time: time, cpu: s.cpu, thread: pid, domain: clock, template: id, values: shape.valueBuffer)
            direct &+= 1
            // Task names the print registered: later headers change (as in the general way).
            if printer.commsVersion != commsVersion {
                namesRegistered()
            } else if memoSlot >= 0 {
                // (The template's slot values: the form may have written more, which `append` ignores.)
                let v = UnsafeBufferPointer(rebasing: shape.valueBuffer.prefix(writer.catalog.valueCount(id)))
                recordMemo.store(slot: memoSlot, header: header, d, template: id, values: v, valueBytes: TraceWriter.encodedSize(v))
            }
            return .stored
        }
        return .newShape(header: header, hash: h)
    }

    /// Whether the report line of a record the memo way found prints as `template` with the form's
    /// values (`shape`). The proof the general way gives a verified record, without building its
    /// skeleton again: what is stored is what the line reprints from.
    private mutating func reprintsStored(_ s: CPUStream, _ e: DatEvent, _ d: UnsafeRawBufferPointer, _ pid: Int32,
                                         template: UInt32, time: Int64) -> Bool {
        line.removeAll(keepingCapacity: true)
        run.appendLine(s, e, d, pid, &line)
        let values = shape.valueBuffer
        return line.withUnsafeBytes { l in
            writer.catalog.withSkeleton(template) { sk in
                SkeletonRenderer.reprints(l, skeleton: sk, values: values, time: time, cpu: s.cpu, thread: pid, scratch: &rendered)
            }
        }
    }

    /// The `.printed` form: the body printed and tokenized as the general way does, its body
    /// skeleton as the shape. (Printing may register task names — the sched plugins do,
    /// libtraceevent's tep_register_comm — which changes later headers: `memoWay` took this record's
    /// header before.)
    private mutating func fillPrinted(_ s: CPUStream, _ e: DatEvent, _ d: UnsafeRawBufferPointer, _ pid: Int32) -> Bool {
        skeleton.reset()
        values.removeAll(keepingCapacity: true)
        scratch.removeAll(keepingCapacity: true)
        printer.printInfo(e, d, into: &scratch)
        if scratch.last == 0x0A { scratch.removeLast() }
        scratch.withUnsafeBytes { b in
            BodyTokenizer.tokenize(b, from: 0, to: b.count, into: &skeleton, values: &values)
        }
        for v in values { shape.value(v) }
        skeleton.withUnsafeBytes { shape.text($0) }
        return !shape.overflow
    }

    /// The record just stored the general way had a form: the form must have given the same values
    /// (and, for a known shape, the same template). Agreeing, the shape enters the memo; otherwise the
    /// event loses its form.
    private mutating func checkForm(_ e: DatEvent, header: UInt64, hash: UInt64, id: UInt32) {
        let same = values.count == shape.valueCount && values.withUnsafeBufferPointer { v in
            v.isEmpty || memcmp(v.baseAddress!, shape.values!, v.count * MemoryLayout<Int64>.stride) == 0
        }
        let known = memo.lookup(header: header, shape: shape.shapeBytes, hash: hash)
        if same && (known == nil || known == id) {
            if known == nil { memo.insert(header: header, shape: shape.shapeBytes, hash: hash, template: id) }
        } else {
            formDisagreements += 1
            formKinds[e.id] = .none
        }
    }

    private mutating func way(_ e: DatEvent) -> Way {
        if e.id >= 0 && e.id < wayByID.count, let w = wayByID[e.id] { return w }
        if let w = wayOther[e.id] { return w }
        let w: Way = CompiledFormat(e, bigEndian: run.file.bigEndian, longSize: printer.longSize).map { .compiled($0) } ?? .printedBody
        setWay(w, for: e)
        if e.id >= 0 && e.id < formKinds.count {
            switch w {
            case .compiled(let plan):
                compiledForms[e.id] = Unmanaged.passUnretained(plan)
                formKinds[e.id] = .compiled
            case .printedBody:
                if let f = PluginForm(e, bigEndian: run.file.bigEndian) {
                    pluginForms[e.id] = f
                    formKinds[e.id] = .plugin
                } else {
                    formKinds[e.id] = .printed
                }
            case .textLine: break
            }
        }
        return w
    }

    private mutating func setWay(_ w: Way, for e: DatEvent) {
        if e.id >= 0 && e.id < wayByID.count { wayByID[e.id] = w } else { wayOther[e.id] = w }
        if case .textLine = w, e.id >= 0 && e.id < formKinds.count { formKinds[e.id] = .none }
    }

    /// (pid, buffer, time digits) packed exactly: what the task part of a record's header depends on
    /// (the task name by pid, as long as no name is registered). Callers check `buffer < 64`.
    @inline(__always)
    private func headerKey(_ s: CPUStream, _ pid: Int32) -> UInt64 {
        var digits: Int32 = 0
        if !inUsecs { var t = s.recTS; repeat { digits += 1; t /= 10 } while t != 0 }
        return UInt64(UInt32(bitPattern: pid)) | UInt64(s.buffer & 63) << 52 | UInt64(digits & 63) << 58
    }

    /// `headerID` when the record's key is in the direct-mapped cache (callers check what
    /// `headerKey` needs, and `recMissed == 0`).
    @inline(__always)
    private func cachedHeaderID(_ s: CPUStream, _ pid: Int32) -> UInt32? {
        let key = headerKey(s, pid)
        let slot = Self.recentSlot(Self.headerHash(key))
        return recentHeaderKeys.withUnsafeBufferPointer { $0[slot] == key } ? recentHeaderIDs.withUnsafeBufferPointer { $0[slot] } : nil
    }

    /// `%16s-%-5d [%03d] %5lu.%06lu: %s: ` as pieces (ReportRun.formatLine).
    private mutating func appendHeader(_ s: CPUStream, _ e: DatEvent, _ pid: Int32) {
        let id = headerID(s, pid)
        skeleton.appendSkeleton(headerSkeletons[Int(id)])
        if let part = eventParts[e.id] {
            skeleton.appendSkeleton(part)
        } else {
            // print_event_name: ": name: " padded to 20.
            var b = SkeletonBuilder()
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: [0x3A, 0x20])
            scratch.append(contentsOf: e.nameBytes)
            scratch.append(contentsOf: [0x3A, 0x20])
            if e.nameBytes.count < 20 { scratch.append(contentsOf: ReportRun.spaces20[0..<(20 - e.nameBytes.count)]) }
            scratch.withUnsafeBytes { b.appendLiteral($0) }
            b.appendBodyStart()
            eventParts[e.id] = b.bytes
            skeleton.appendSkeleton(b.bytes)
        }
    }

    /// The id of the task part of the record's header: cached by (pid, buffer, time digits) until a
    /// name makes it stale, built from the current task names otherwise.
    private mutating func headerID(_ s: CPUStream, _ pid: Int32) -> UInt32 {
        // Not cached when the key's parts do not fit.
        let cacheable = s.buffer < 64 && s.recMissed == 0
        let key = headerKey(s, pid)
        let digits = Int32(key >> 58)
        let hash = Self.headerHash(key)
        let slot = Self.recentSlot(hash)
        if cacheable {
            if recentHeaderKeys[slot] == key { return recentHeaderIDs[slot] }
            if let k = headerIndex.first(hash, where: { headerKeys[Int($0)] == key }) {
                recentHeaderKeys[slot] = key
                recentHeaderIDs[slot] = headerOfKey[Int(k)]
                return headerOfKey[Int(k)]
            }
        }
        var b = SkeletonBuilder()
        scratch.removeAll(keepingCapacity: true)
        if s.recMissed == 0 { scratch.append(contentsOf: run.prefixes[s.buffer]) }
        let named = pid == 0 ? ReportRun.idle : printer.comms[pid]
        let comm = named ?? ReportRun.unknownComm
        if comm.count < 16 { scratch.append(contentsOf: ReportRun.spaces20[0..<(16 - comm.count)]) }
        scratch.append(contentsOf: comm)
        scratch.append(0x2D)
        scratch.withUnsafeBytes { b.appendLiteral($0) }
        b.appendThread()
        scratch.removeAll(keepingCapacity: true)
        var pw = pid < 0 ? 1 : 0
        var p = pid.magnitude
        repeat { pw += 1; p /= 10 } while p != 0
        if pw < 5 { scratch.append(contentsOf: ReportRun.spaces20[0..<(5 - pw)]) }
        scratch.append(contentsOf: [0x20, 0x5B])
        scratch.withUnsafeBytes { b.appendLiteral($0) }
        b.appendCPU(width: 3, zeroPad: true)
        scratch.removeAll(keepingCapacity: true)
        scratch.append(0x5D)
        if inUsecs {
            scratch.append(0x20)
            scratch.withUnsafeBytes { b.appendLiteral($0) }
            b.appendTime(fractionDigits: 6, secondsWidth: 5, rounded: true)
        } else {
            if digits < 12 { scratch.append(contentsOf: ReportRun.spaces20[0..<(12 - Int(digits))]) }
            scratch.withUnsafeBytes { b.appendLiteral($0) }
            b.appendRawTime()
        }
        let contentHash = b.withUnsafeBytes { TemplateMemo.hash(0, $0) }
        let id: UInt32
        let found = b.withUnsafeBytes { built in
            headerSkeletonIndex.first(contentHash) { k in
                headerSkeletons[Int(k)].withUnsafeBytes { $0.count == built.count && memcmp($0.baseAddress!, built.baseAddress!, built.count) == 0 }
            }
        }
        if let known = found {
            id = known
        } else {
            id = UInt32(headerSkeletons.count)
            headerSkeletonIndex.insert(contentHash, id)
            headerSkeletons.append(b.bytes)
        }
        if cacheable {
            if named == nil { headersOfUnnamedTasks = true }
            headerIndex.insert(hash, UInt32(headerKeys.count))
            headerKeys.append(key)
            headerOfKey.append(id)
            recentHeaderKeys[slot] = key
            recentHeaderIDs[slot] = id
        }
        return id
    }

    /// Task names were registered since `commsVersion`: headers that showed a task without a name
    /// are built again (the others are what they were; the memo is keyed by header content and stays).
    private mutating func namesRegistered() {
        commsVersion = printer.commsVersion
        guard headersOfUnnamedTasks else { return }
        headersOfUnnamedTasks = false
        headerIndex.removeAll()
        headerKeys.removeAll(keepingCapacity: true)
        headerOfKey.removeAll(keepingCapacity: true)
        for k in recentHeaderKeys.indices { recentHeaderKeys[k] = .max }
    }

    @inline(__always)
    private static func headerHash(_ key: UInt64) -> UInt64 { (key &* 0x9E37_79B9_7F4A_7C15) ^ (key >> 29) }

    @inline(__always)
    private static func recentSlot(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash >> 56) }

    private mutating func wholeLine(_ s: CPUStream, _ e: DatEvent?, _ d: UnsafeRawBufferPointer, _ pid: Int32, path: String,
                                    diagnostics: inout ImportDiagnostics, observe: (EventTemplate, UInt32) -> Void) throws {
        line.removeAll(keepingCapacity: true)
        run.appendLine(s, e, d, pid, &line)
        try textLine(path: path, exactTime: Int64(bitPattern: s.recTS), diagnostics: &diagnostics, observe: observe)
    }

    private mutating func textLine(path: String, exactTime: Int64?, diagnostics: inout ImportDiagnostics,
                                   observe: (EventTemplate, UInt32) -> Void) throws {
        let n = records
        try line.withUnsafeBytes { l in
            try text.importLine(l, path: path, lineNumber: n, exactTime: exactTime, writer: writer, diagnostics: &diagnostics, observe: observe)
        }
        lastTemplateCount = writer.catalog.count
    }
}
