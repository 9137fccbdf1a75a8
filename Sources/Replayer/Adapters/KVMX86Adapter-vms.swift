import TraceFormat

/// VMs one after another in one host trace: KVM selftests, a harness booting guest after guest, a VM
/// restarted. KVM's tracepoints name a vCPU ("vcpu N", the APIC ID) but not its VM; each VM's vCPUs
/// run on that VM's own threads (a VMM runs a vCPU on one thread: QEMU, kvmtool, Firecracker,
/// crosvm). The first pass, which learns each thread's vCPU, also notes the span of each thread's
/// KVM events; ``plan(binding:spans:)`` then reads the VMs off them: a thread that runs a vCPU whose thread
/// so far stopped before it began starts the next VM, together with the threads that began after
/// that one stopped (a vCPU thread of the next VM may show before the one that gives it away, and a
/// vCPU thread with no binding event, none). Each VM's models start from reset (as KVM creates them:
/// `kvm_create_lapic`/`kvm_lapic_reset`, `kvm_ioapic_init`, `kvm_pic_init`) at its first event, and
/// what the ended VM still owed (acceptances, IOAPIC acks, decisions on halts) is settled at its end,
/// as at the end of the trace. Two threads running one vCPU at the same time are VMs running
/// concurrently: nothing tells their events apart, so they share one set of models until a VM
/// begins after all of them have stopped (a warning names the period).
struct VMTracking: Codable {
    /// Event indices at which the second, third, … VM begins.
    var starts: [Int] = []
    /// How many of `starts` the replay has passed (the VM being replayed is number `passed`).
    var passed = 0
    /// The first index of `starts` not passed yet (`Int.max`: none).
    var nextStart = Int.max
    /// Where VMs were first seen running concurrently (the first pass's verdict), if anywhere; the
    /// start of the first VM after that period (nil: none, to the end); how many such periods.
    var concurrent: Concurrent?
    var concurrentUntil: Int?
    var concurrentPeriods = 0
    struct Concurrent: Codable, Equatable { var apicID: UInt32; var thread: Int32; var other: Int32; var event: Int }

    /// Each VM's vCPU threads (in order of their first event; the vCPU when an event binds it), and
    /// whether concurrent VMs share that segment of the trace (``ReplayReport/vmList``).
    var vcpuThreads: [[VMInfo.VCPUThread]] = []
    var concurrentSegments: [Int] = []

    /// The event from which VMs were no longer told apart because the trace held too many (each new
    /// VM resets every LAPIC of the trace: ``resetBudget``), if any.
    var limitedAt: Int?

    /// LAPIC resets a trace may cost in all (VM starts × LAPICs), and threads the plan may look at
    /// again at VM starts: bounds the work a hostile trace (a million threads each taking vCPU 0
    /// over) can cause; 2-vCPU VMs stay split up to 25 M of them.
    static let resetBudget = 50_000_000

    /// First and last KVM event of a thread (first pass).
    struct Span { var first: Int; var last: Int }

    init() {}

    // (Decoded field by field, each with its default when absent: a sidecar written by an earlier
    // build that kept less of the plan still restores.)
    enum CodingKeys: String, CodingKey {
        case starts, passed, nextStart, concurrent, concurrentUntil, concurrentPeriods, vcpuThreads, concurrentSegments, limitedAt
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        starts = try c.decodeIfPresent([Int].self, forKey: .starts) ?? []
        passed = try c.decodeIfPresent(Int.self, forKey: .passed) ?? 0
        nextStart = try c.decodeIfPresent(Int.self, forKey: .nextStart) ?? (passed < starts.count ? starts[passed] : Int.max)
        concurrent = try c.decodeIfPresent(Concurrent.self, forKey: .concurrent)
        concurrentUntil = try c.decodeIfPresent(Int.self, forKey: .concurrentUntil)
        concurrentPeriods = try c.decodeIfPresent(Int.self, forKey: .concurrentPeriods) ?? (concurrent == nil ? 0 : 1)
        vcpuThreads = try c.decodeIfPresent([[VMInfo.VCPUThread]].self, forKey: .vcpuThreads) ?? []
        concurrentSegments = try c.decodeIfPresent([Int].self, forKey: .concurrentSegments) ?? []
        limitedAt = try c.decodeIfPresent(Int.self, forKey: .limitedAt)
    }

    /// The VM starts, from the vCPU threads' spans and the bindings of those bound.
    static func plan(binding: IntMap<Int32, UInt32>, spans: IntMap<Int32, Span>) -> VMTracking {
        var threads: [(thread: Int32, apic: UInt32?, span: Span)] = []
        for (t, s) in spans { threads.append((t, binding[t], s)) }
        threads.sort { ($0.span.first, $0.thread) < ($1.span.first, $1.thread) }
        var plan = VMTracking()
        var apics = Set<UInt32>()
        for (_, a) in binding { apics.insert(a) }
        let maxStarts = resetBudget / max(1, apics.count)
        var members: [(thread: Int32, apic: UInt32?, span: Span)] = []
        var owner: [UInt32: Int] = [:]   // APIC ID → index in members (of its threads, the one that stops last)
        var inConcurrentPeriod = false
        var looked = 0   // threads looked at again at VM starts (``resetBudget``)
        for t in threads {
            // (A vCPU thread no event binds: in the VM it began in.)
            guard let apic = t.apic else { members.append(t); continue }
            guard let k = owner[apic] else { owner[apic] = members.count; members.append(t); continue }
            let displaced = members[k]
            if displaced.span.last < t.span.first {
                looked += members.count
                guard looked <= resetBudget else { plan.limitedAt = t.span.first; break }
                // Threads that began after the displaced one stopped are the next VM's too.
                let cut = displaced.span.last
                let moving = members.filter { $0.span.first > cut } + [t]
                let staying = members.filter { $0.span.first <= cut }
                let oldEnd = staying.map(\.span.last).max() ?? cut
                let newStart = moving.map(\.span.first).min() ?? t.span.first
                if oldEnd < newStart {
                    guard plan.starts.count < maxStarts else { plan.limitedAt = newStart; break }
                    plan.vcpuThreads.append(staying.map { VMInfo.VCPUThread(thread: $0.thread, vcpu: $0.apic) })
                    plan.starts.append(newStart)
                    if inConcurrentPeriod {
                        inConcurrentPeriod = false
                        if plan.concurrentPeriods == 1 { plan.concurrentUntil = newStart }
                    }
                    members = moving
                    owner = [:]
                    for (i, m) in members.enumerated() { if let a = m.apic { owner[a] = i } }
                    continue
                }
            }
            // Two threads on one vCPU at once: VMs running concurrently, which share one set of models
            // until a VM begins after all of them have stopped.
            if !inConcurrentPeriod {
                inConcurrentPeriod = true
                plan.concurrentPeriods += 1
                plan.concurrentSegments.append(plan.starts.count)
                if plan.concurrent == nil { plan.concurrent = Concurrent(apicID: apic, thread: t.thread, other: displaced.thread, event: t.span.first) }
            }
            members.append(t)
            if t.span.last > displaced.span.last { owner[apic] = members.count - 1 }
        }
        plan.vcpuThreads.append(members.map { VMInfo.VCPUThread(thread: $0.thread, vcpu: $0.apic) })
        plan.nextStart = plan.starts.first ?? Int.max
        return plan
    }
}

extension KVMX86Adapter {
    /// The first pass is over: the VMs' starts follow from the threads' bindings and spans.
    mutating func planVMs() {
        threadSpans.close()
        vms = VMTracking.plan(binding: binding, spans: threadSpans.spans)
        threadSpans = ThreadSpans()
    }

    /// Settles what the ended VM owed, and starts the next one's models from reset (event `i` is the
    /// new VM's first).
    @inline(never)
    mutating func startNextVM(_ b: EventBatch, _ i: Int) {
        settleVM(unaccepted: "no acceptance by the end of its VM", ackMissing: "end of its VM")
        var next = KVMX86Adapter(flavour: flavour)
        // What stays: the report, the trace's thread bindings and APIC numbering, per-template caches.
        next.report = report
        next.tally = tally
        next.apicIndex = apicIndex
        next.smallAPICIndex = smallAPICIndex
        // A VM seen from its creation: nothing before the trace to adopt.
        next.midFlight = false
        next.startedMidFlight = startedMidFlight || midFlight
        next.machine.apics = machine.apics.map { Self.resetAPIC($0.id, midFlight: false) }
        next.restoreBindings(binding)
        next.unbound = unbound
        next.handlers = handlers
        next.offsetByTemplate = offsetByTemplate
        next.learnSources = learnSources
        next.learnBinds = learnBinds
        next.lastLearnt = lastLearnt
        next.recordTransitions = recordTransitions
        next.lastTime = lastTime
        var v = vms
        v.passed += 1
        v.nextStart = v.passed < v.starts.count ? v.starts[v.passed] : Int.max
        next.vms = v
        swap(&next.transitions, &transitions)
        if recordTransitions {
            let thread = b.thread(i)
            next.transitions.vmEnds.append(TransitionBuffer.VMEnd(machine: machine, endTime: lastTime))
            next.transitions.append(Transition(.vmStarted, event: b.eventIndex(i), time: b.time(i),
                                               cpu: binding[thread].map { Int32(truncatingIfNeeded: $0) } ?? -1,
                                               value: Int64(next.transitions.vmEnds.count - 1), aux: Int64(v.passed)))
        }
        self = next
    }

    /// What the current VM still owed at its end (or the trace's): injections never accepted, messages
    /// no APIC accepted, halts not yet decided, IOAPIC acks that never came.
    mutating func settleVM(unaccepted: String, ackMissing: String) {
        flushDeferred(before: .max)
        for thread in openThreads() {
            closeSends(at: lastSend(thread).map { ($0.event, $0.time) } ?? (-1, 0), thread: thread, observed: unaccepted)
        }
        for (_, h) in haltEnds.sorted(by: { $0.key < $1.key }) { decideHalt(h, endedByInterrupt: false) }
        haltEnds.removeAll()
        for (thread, pins) in pendingAcks.sorted(by: { $0.key < $1.key }) where !pins.isEmpty {
            report.add(Divergence(eventIndex: -1, timeNs: 0, what: "IOAPIC ack after a level EOI (thread \(thread))",
                                  expected: "kvm_ack_irq for pin \(pins)", observed: ackMissing, state: ""))
        }
        pendingAcks.removeAll()
        threadsAwaitingAcks = 0
    }

    /// The report's account of the VMs (``ReplayReport/vmList``, ``ReplayReport/warnings``).
    func vmSummary(into report: inout ReplayReport) {
        if vms.starts.count > 0 || vms.concurrent != nil {
            let firsts = [0] + vms.starts
            report.vmList = firsts.indices.map { k in
                VMInfo(number: k + 1, firstEvent: firsts[k], vcpuThreads: k < vms.vcpuThreads.count ? vms.vcpuThreads[k] : [],
                       concurrent: vms.concurrentSegments.contains(k))
            }
        }
        if let e = vms.limitedAt {
            report.warnings = (report.warnings ?? []) + [
                "more than \(vms.starts.count + 1) VMs one after another: from event \(e) on they are not told apart (each new VM resets every "
                    + "LAPIC of the trace, and this many would take too long), so their states mix from there"]
        }
        guard let c = vms.concurrent else { return }
        let period = vms.concurrentUntil.map { "from event \(c.event) until the VM that began at event \($0), after all of them had stopped" }
            ?? "from event \(c.event) to the end of the trace"
        report.warnings = (report.warnings ?? []) + [
            "VMs ran concurrently: threads \(c.other) and \(c.thread) both ran vCPU \(c.apicID) at the same time"
                + (vms.concurrentPeriods > 1 ? " (the first of \(vms.concurrentPeriods) such periods)" : "")
                + ". KVM's tracepoints do not name the VM, so the concurrent VMs' events drive one set of models, " + period
                + ": divergences and findings there may be artefacts. Record one VM at a time (trace-cmd record -P PID of its VMM, "
                + "or an ftrace set_event_pid filter)."]
    }
}

/// Each thread's first and last KVM event, noted by the first pass a run of events at a time (most
/// events are on the thread of the one before: one compare).
struct ThreadSpans {
    var spans = IntMap<Int32, VMTracking.Span>()
    private var thread: Int32 = .min
    private var last = -1

    @inline(__always)
    mutating func note(_ t: Int32, _ event: Int) {
        if t == thread { last = event } else { change(t, event) }
    }

    @inline(never)
    private mutating func change(_ t: Int32, _ event: Int) {
        close()
        thread = t
        last = event
        if spans[t] == nil { spans[t] = VMTracking.Span(first: event, last: event) }
    }

    /// Ends the current run (the end of the pass).
    mutating func close() {
        if thread != .min, var s = spans[thread] { s.last = last; spans[thread] = s }
    }
}

/// One VM of a trace that holds several (``ReplayReport/vmList``).
public struct VMInfo: Sendable, Codable, Equatable {
    /// 1, 2, … in trace order.
    public var number: Int
    /// Index of its first event (the first VM's: 0).
    public var firstEvent: Int
    /// Its vCPU threads, in order of their first event.
    public var vcpuThreads: [VCPUThread]
    /// Concurrent VMs ran in this segment of the trace: their events drove one set of models.
    public var concurrent: Bool

    public struct VCPUThread: Sendable, Codable, Equatable {
        public var thread: Int32
        /// The vCPU (APIC ID) when an event binds the thread to it.
        public var vcpu: UInt32?
    }

    public func json() -> JSONValue {
        .object([("vm", .int(number)), ("first_event", .int(firstEvent)),
                 ("vcpu_threads", .array(vcpuThreads.map { t in
                    .object([("thread", .int(Int(t.thread))), ("vcpu", t.vcpu.map { .int(Int($0)) } ?? .null)]) }))]
                + (concurrent ? [("concurrent", JSONValue.bool(true))] : []))
    }

    /// "VM 3 (vCPU threads 6707, 6711)"; "concurrent VMs 1 (…)" for a segment several VMs shared.
    public var label: String {
        (concurrent ? "concurrent VMs \(number)" : "VM \(number)") + (vcpuThreads.isEmpty ? "" : " (vCPU thread\(vcpuThreads.count == 1 ? "" : "s") \(vcpuThreads.map { String($0.thread) }.joined(separator: ", ")))")
    }

    /// How a human output counts them: "3, one after another (2: concurrent VMs)".
    public static func summary(_ list: [VMInfo]) -> String {
        let mixed = list.filter(\.concurrent).map { String($0.number) }
        return "\(list.count), one after another" + (mixed.isEmpty ? "" : " (\(mixed.joined(separator: ", ")): concurrent VMs sharing one set of models)")
    }

    /// The VM of `list` the event belongs to (the last that began at or before it).
    public static func of(event: Int, in list: [VMInfo]) -> VMInfo? {
        var lo = 0, hi = list.count
        while lo < hi { let m = (lo + hi) / 2; if list[m].firstEvent <= event { lo = m + 1 } else { hi = m } }
        return lo > 0 ? list[lo - 1] : nil
    }
}
