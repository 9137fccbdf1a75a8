import TraceFormat

/// Body forms of the sched plugin's events (`EventPrinter.runPlugin`, after libtraceevent's
/// plugin_sched_switch.c): `sched_switch` and `sched_wakeup`/`sched_wakeup_new`, whose task names
/// (`%s` of a comm field) are the only free text.
///
/// How `BodyTokenizer` reads such a body, piece by piece: a task name starts the body or follows
/// "==> " (the tokenizer's state there is its start state, a space before) and is followed by ':',
/// which is no word, hex or digit byte — so the name tokenizes exactly as it does on its own, and
/// after the ':' the tokenizer is in the same state whatever the name was. The name's bytes go in the
/// shape (they fix its skeleton) and, when it has a decimal digit, the values the tokenizer reads in
/// it; a name without digits has no slot (every slot needs one: decimal, `0x…`, bare hex). The
/// numbers between are decimal words of their own (after ':', '[', '=', ' '; before ' ', ']', the
/// end): a decimal slot each, width 0 (no leading zero but "0" itself), the sign in the value; a
/// number of 18 digits or more the tokenizer would leave as text, so such a record takes the printed
/// way. Printing registers task names (tep_register_comm): the forms register them too, in the same
/// order.
struct SchedSwitchForm {
    let prevPid: NumericField
    let prevPrio: NumericField
    let prevState: NumericField
    let nextPid: NumericField
    let nextPrio: NumericField
    let prevComm: (offset: Int, size: Int)
    let nextComm: (offset: Int, size: Int)
    let big: Bool

    /// Nil when a field the plugin reads is missing or not a plain number (it prints an error text).
    init?(_ e: DatEvent, bigEndian: Bool) {
        guard let prevPid = NumericField(e, "prev_pid"), let prevPrio = NumericField(e, "prev_prio"),
              let prevState = NumericField(e, "prev_state"), let nextPid = NumericField(e, "next_pid"),
              let nextPrio = NumericField(e, "next_prio"),
              let prevComm = e.fieldNamed("prev_comm"), let nextComm = e.fieldNamed("next_comm") else { return nil }
        self.prevPid = prevPid
        self.prevPrio = prevPrio
        self.prevState = prevState
        self.nextPid = nextPid
        self.nextPrio = nextPrio
        self.prevComm = (prevComm.offset, prevComm.size)
        self.nextComm = (nextComm.offset, nextComm.size)
        self.big = bigEndian
    }

    /// `comm:pid [prio] STATE ==> comm:pid [prio]`.
    func fill(_ d: UnsafeRawBufferPointer, _ context: inout SchedFormContext, into out: inout RecordShape) -> Bool {
        let pp = prevPid.read(d, big), np = nextPid.read(d, big)
        let prevPid = Int64(bitPattern: pp), nextPid = Int64(bitPattern: np)
        let prevPrio = Int64(Int32(truncatingIfNeeded: prevPrio.read(d, big)))
        let nextPrio = Int64(Int32(truncatingIfNeeded: nextPrio.read(d, big)))
        guard SchedFormContext.isWord(prevPid), SchedFormContext.isWord(nextPid) else { return false }
        // write_state: the low 8 bits of the state pick the letters ("R" when none).
        let state = UInt8(truncatingIfNeeded: prevState.read(d, big))
        context.comm(d, prevComm, pid: Int32(truncatingIfNeeded: pp), into: &out)
        out.value(prevPid)
        out.value(prevPrio)
        out.byte(state)
        context.comm(d, nextComm, pid: Int32(truncatingIfNeeded: np), into: &out)
        out.value(nextPid)
        out.value(nextPrio)
        return !out.overflow
    }
}

/// `sched_wakeup`, `sched_wakeup_new`: `comm:pid [prio] success=N CPU:%03d` (" success=N" only
/// when the event has the field).
struct SchedWakeupForm {
    let pid: NumericField
    let prio: NumericField
    let success: NumericField?
    let targetCPU: NumericField
    let comm: (offset: Int, size: Int)
    let big: Bool

    init?(_ e: DatEvent, bigEndian: Bool) {
        guard let pid = NumericField(e, "pid"), let prio = NumericField(e, "prio"),
              let targetCPU = NumericField(e, "target_cpu"), let comm = e.anyFieldNamed("comm") else { return nil }
        // `success` is read without an error text: absent or not a plain number, nothing prints.
        self.success = NumericField(e, "success")
        self.pid = pid
        self.prio = prio
        self.targetCPU = targetCPU
        self.comm = (comm.offset, comm.size)
        self.big = bigEndian
    }

    func fill(_ d: UnsafeRawBufferPointer, _ context: inout SchedFormContext, into out: inout RecordShape) -> Bool {
        let p = pid.read(d, big)
        let pid = Int64(bitPattern: p), prio = Int64(bitPattern: prio.read(d, big))
        let success = self.success.map { Int64(bitPattern: $0.read(d, big)) } ?? 0
        let cpu = targetCPU.read(d, big)
        guard SchedFormContext.isWord(pid), SchedFormContext.isWord(prio), SchedFormContext.isWord(success),
              cpu < SchedFormContext.wordLimit else { return false }
        context.comm(d, comm, pid: Int32(truncatingIfNeeded: p), into: &out)
        out.value(pid)
        out.value(prio)
        if self.success != nil { out.value(success) }
        // "%03d"-style: below 100 it starts with '0', a zero-padded slot of width 3.
        out.byte(cpu < 100 ? 1 : 0)
        out.value(Int64(cpu))
        return !out.overflow
    }
}

/// What the sched forms share: the printer whose task names they register, and scratch to tokenize
/// a name in.
struct SchedFormContext {
    let printer: EventPrinter
    var skeleton = SkeletonBuilder()
    var values: [Int64] = []

    init(printer: EventPrinter) {
        self.printer = printer
        values.reserveCapacity(16)
    }

    /// Magnitudes below 10^17 print in at most 17 digits: the tokenizer reads them whole (it stops
    /// at 18) as a decimal slot.
    static let wordLimit: UInt64 = 100_000_000_000_000_000

    @inline(__always)
    static func isWord(_ v: Int64) -> Bool { v.magnitude < wordLimit }

    /// A comm field as `EventPrinter.writeAndSaveComm` prints it (to its NUL, within the record):
    /// its text in the shape, the tokenizer's values of it, the name registered for `pid`.
    @inline(__always)
    mutating func comm(_ d: UnsafeRawBufferPointer, _ f: (offset: Int, size: Int), pid: Int32, into out: inout RecordShape) {
        var k = f.offset
        let end = min(d.count, f.offset + f.size)
        var digits = false
        while k < end, d[k] != 0 { digits = digits || BodyTokenizer.isDigit(d[k]); k += 1 }
        let name = k > f.offset ? UnsafeRawBufferPointer(rebasing: d[f.offset..<k]) : UnsafeRawBufferPointer(start: nil, count: 0)
        out.text(name)
        if digits {
            skeleton.reset()
            values.removeAll(keepingCapacity: true)
            BodyTokenizer.tokenize(name, from: 0, to: name.count, into: &skeleton, values: &values)
            for v in values { out.value(v) }
        }
        if pid != 0 && printer.comms[pid] == nil { printer.registerComm(Array(name), pid) }
    }
}
