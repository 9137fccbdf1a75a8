import Recorder
import TraceFormat

/// A simulated thread: how its lines' headers print.
public struct SimThread: Sendable, Equatable {
    /// ftrace: the task name (`CPU 0/KVM`); QEMU logs print only the thread id.
    public var comm: String
    public var pid: Int32
    /// The host CPU whose ring buffer the thread's events go to (ftrace's `[NNN]`).
    public var cpu: Int32
    public init(comm: String, pid: Int32, cpu: Int32) {
        self.comm = comm
        self.pid = pid
        self.cpu = cpu
    }
}

/// One event's line shape: its name and a body with placeholders for the values, in the order they
/// print: `{d}` signed decimal, `{x}` lower-case hex digits (write `0x{x}` where the source prints
/// the prefix), `{x8}` / `{x16}` zero-padded hex.
public struct LineFormat: Sendable {
    public let name: String
    public let body: String
    public init(_ name: String, _ body: String) {
        self.name = name
        self.body = body
    }
}

/// Writes simulated events in a real source's vocabulary. Each (thread, format) pair becomes a
/// template the first time it is used, by tokenizing a prototype line with the *real* source's
/// tokenizer (`FtraceLineTokenizer` or `QEMULogTokenizer`): so a simulated trace has exactly the
/// templates, schema bindings and field roles an import of the same text would have, and every
/// downstream reader treats it as that source. After that an event is its template id and its
/// values: no text is made per event.
public final class LineWriter {
    public enum Style: Sendable { case ftrace, qemu }
    public let style: Style
    public let writer: TraceWriter
    public let formats: [LineFormat]
    @exclusivity(unchecked) public private(set) var threads: [SimThread] = []
    /// What an event of one (thread, format) needs: its template and value count, and the thread's
    /// ring-buffer CPU and pid (apart from its name, a String).
    struct Slot {
        /// Template id + 1 (0: not made yet).
        var id: UInt32 = 0
        var count: UInt32 = 0
        var cpu: Int32
        var pid: Int32
    }
    /// [thread × formats.count + format]. Raw memory rather than arrays: an array read from a class
    /// property retains and releases its buffer around the access, twice per event for two arrays
    /// (~3 % of a qemu-x86 run); this pointer is replaced only by ``addThread(_:)``.
    private var slots: UnsafeMutablePointer<Slot>
    private var slotCount = 0
    /// `formats.count`, as a plain number for the per-event slot index.
    private let formatCount: Int
    /// Events emitted (the writer's count, kept here: the simulations test it after every action,
    /// and reading `TraceWriter.eventCount` from this module is a dynamic exclusivity check, whose
    /// `swift_beginAccess` was ~4 % of a qemu-x86 run: `@exclusivity(unchecked)` is not honoured
    /// across modules).
    @exclusivity(unchecked) public private(set) var eventCount = 0
    /// `writer`, unretained, for the per-event append (`writer` keeps it alive as long as this
    /// object): a call through a plain reference loaded there retains and releases it per event.
    private let sink: Unmanaged<TraceWriter>
    /// Simulated time: one clock for every thread and CPU.
    private let clock = ClockDomain.simulated
    private let values: UnsafeMutablePointer<Int64>
    private var parsed = ParsedLine()

    public init(style: Style, writer: TraceWriter, formats: [LineFormat]) {
        self.style = style
        self.writer = writer
        self.sink = .passUnretained(writer)
        self.formats = formats
        formatCount = formats.count
        values = .allocate(capacity: 16)
        values.initialize(repeating: 0, count: 16)
        slots = .allocate(capacity: 0)
    }

    deinit {
        values.deallocate()
        slots.deallocate()
    }

    /// Adds a thread; returns its index for ``emit(_:thread:time:_:_:_:_:_:_:)``.
    public func addThread(_ t: SimThread) -> Int {
        threads.append(t)
        let grown = UnsafeMutablePointer<Slot>.allocate(capacity: slotCount + formats.count)
        grown.moveInitialize(from: slots, count: slotCount)
        (grown + slotCount).initialize(repeating: Slot(cpu: t.cpu, pid: t.pid), count: formats.count)
        slots.deallocate()
        slots = grown
        slotCount += formats.count
        return threads.count - 1
    }

    /// Number of placeholders in each format (the values an event of it takes).
    public func placeholderCount(_ format: Int) -> Int { Self.placeholders(formats[format].body).count }

    static func placeholders(_ body: String) -> [Substring] {
        var out: [Substring] = []
        var rest = body[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out.append(rest[rest.index(after: open)..<close])
            rest = rest[rest.index(after: close)...]
        }
        return out
    }

    /// The text line the source would print for this event (used to make templates, and by tests).
    public func render(_ format: Int, thread: Int, time: Int64, values v: [Int64]) -> String {
        let t = threads[thread]
        var body = ""
        var rest = formats[format].body[...]
        var k = 0
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            body += rest[..<open]
            let spec = rest[rest.index(after: open)..<close]
            let value = k < v.count ? v[k] : 0
            k += 1
            switch spec {
            case "d": body += String(value)
            case "x": body += String(UInt64(bitPattern: value), radix: 16)
            default:
                let width = Int(spec.dropFirst()) ?? 0
                let hex = String(UInt64(bitPattern: value), radix: 16)
                body += String(repeating: "0", count: max(0, width - hex.count)) + hex
            }
            rest = rest[rest.index(after: close)...]
        }
        body += rest
        let seconds = time / 1_000_000_000, micros = (time % 1_000_000_000) / 1000
        let frac = String(micros)
        let fraction = String(repeating: "0", count: 6 - frac.count) + frac
        switch style {
        case .ftrace:
            let comm = String(repeating: " ", count: max(0, 16 - t.comm.count)) + t.comm
            let pid = String(t.pid)
            let cpu = String(t.cpu)
            let secs = String(seconds)
            return comm + "-" + pid + String(repeating: " ", count: max(0, 7 - pid.count)) + " ["
                + String(repeating: "0", count: max(0, 3 - cpu.count)) + cpu + "] ..... "
                + String(repeating: " ", count: max(0, 5 - secs.count)) + secs + "." + fraction + ": "
                + formats[format].name + ": " + body
        case .qemu:
            return "\(t.pid)@\(seconds).\(fraction):" + formats[format].name + " " + body
        }
    }

    /// Makes the template of (thread, format) from a prototype line.
    private func makeTemplate(_ format: Int, thread: Int) throws -> UInt32 {
        let count = placeholderCount(format)
        let sample = (0..<count).map { Int64($0 % 9 + 1) }
        let line = Array(render(format, thread: thread, time: 100_000_000_000, values: sample).utf8)
        parsed.reset()
        let outcome: LineOutcome = line.withUnsafeBytes { raw in
            switch style {
            case .ftrace:
                var t = FtraceLineTokenizer()
                return t.tokenize(raw, into: &parsed)
            case .qemu:
                var t = QEMULogTokenizer()
                return t.tokenize(raw, into: &parsed)
            }
        }
        guard outcome == .event, parsed.values == sample else {
            throw IrqtraceError("simulator line format \(formats[format].name) \"\(formats[format].body)\" does not tokenize into its \(count) values",
                                hint: "a bug in irqtrace's simulator output formats")
        }
        let name = Array(line[parsed.nameStart..<parsed.nameEnd])
        let id = try name.withUnsafeBytes { n in
            try parsed.skeleton.bytes.withUnsafeBytes { s in try writer.catalog.intern(name: n, skeleton: s) }
        }
        slots[thread * formats.count + format].id = id + 1
        slots[thread * formats.count + format].count = UInt32(writer.catalog.valueCount(id))
        return id
    }

    /// Appends one event of `format` on `thread` at `time` (ns) with up to eight values.
    @inline(__always)
    public func emit(_ format: Int, thread: Int, time: Int64, _ a: Int64 = 0, _ b: Int64 = 0, _ c: Int64 = 0,
                     _ d: Int64 = 0, _ e: Int64 = 0, _ f: Int64 = 0, _ g: Int64 = 0, _ h: Int64 = 0) throws {
        let slot = slots + (thread * formatCount + format)
        if slot.pointee.id == 0 { _ = try makeTemplate(format, thread: thread) }
        values[0] = a; values[1] = b; values[2] = c; values[3] = d; values[4] = e; values[5] = f; values[6] = g; values[7] = h
        eventCount += 1
        let values = UnsafeBufferPointer(start: self.values, count: Int(slot.pointee.count))
        let (clock, cpu, pid, id) = (clock, slot.pointee.cpu, slot.pointee.pid, slot.pointee.id - 1)
        try sink._withUnsafeGuaranteedRef {
            try $0.append(time: time, cpu: cpu, thread: pid, domain: clock, template: id, values: values)
        }
    }
}

extension Unmanaged where Instance == LineWriter {
    /// ``LineWriter/emit(_:thread:time:_:_:_:_:_:_:_:_:)`` without retaining the writer: what the
    /// simulations call per event. Their `LineWriter` is a `let` of a struct they mutate, so a call
    /// through it retained and released it around every event (~3 % of a qemu-x86 run); the
    /// simulation's own reference keeps it alive.
    @inline(__always)
    func emit(_ format: Int, thread: Int, time: Int64, _ a: Int64 = 0, _ b: Int64 = 0, _ c: Int64 = 0,
              _ d: Int64 = 0, _ e: Int64 = 0, _ f: Int64 = 0, _ g: Int64 = 0, _ h: Int64 = 0) throws {
        try _withUnsafeGuaranteedRef { try $0.emit(format, thread: thread, time: time, a, b, c, d, e, f, g, h) }
    }
}
