import Replayer
import TraceFormat

/// An arm64 guest (Linux's GICv2 driver, irq-gic.c) on a GICv2, run forward on the Replayer's
/// `GICv2` model (QEMU's rules), and written by its ``GICOutput``: ``QEMUGICOutput`` (QEMU 7.2's
/// `gic_*` events, every access and update) or ``KVMArm64Output`` (arm64 KVM tracepoints: injections,
/// exits, traps). The workload is the same for both:
///
/// - device lines: GICv2m MSIs and edge SPIs pulse (level 1, then 0) from the host's device model; a
///   level SPI stays high until the guest's handler clears its cause (an MMIO write on the vCPU, so
///   level 0 comes from the vCPU); the timer PPI rises from the host and falls when the handler
///   reprograms the timer; every state change is followed by gic_update (``update(_:)``);
/// - Linux's gic_handle_irq loop: GICC_IAR read, the handler, GICC_EOIR, the IAR read again until it
///   gives 1023; with EOImode 1 (a kernel at EL2) EOIR comes right after the IAR read and GICC_DIR
///   after the handler. Handlers run with IRQs masked (no nesting); idle vCPUs are in WFI until their
///   IRQ line goes up;
/// - SGIs are GICD_SGIR (0xf00) writes; priority masking is PMR (0x4) writes; affinity changes are
///   byte writes of ITARGETSR (Linux's gic_set_affinity), made only while the SPI is neither latched
///   pending nor active: QEMU 7.2 leaves the pending bits of a pending SPI on its old targets, where
///   the interrupt would stay stranded (the model does the same), and keeps active state per CPU.
///
/// For QEMU all vCPUs run on one TCG thread, as in the single-threaded TCG samples (the default for
/// `-accel tcg` without MTTCG): the log's order is then the order the GIC changed, which is what the
/// Replayer's QEMU GIC adapter replays (it orders by the log and never by thread). Distributor
/// accesses do not name their CPU; the adapter takes the CPU of the last CPU-interface access, so
/// the guest's SGIs are sent at irq exit (softirq / irq_work wakeups), right after the sender's own
/// final IAR read, where the log tells who sent them even with more than two vCPUs.
/// Catalog indices of the fault kinds the GIC simulation checks for.
private enum F {
    static let gicMissingEoi = FaultSchedule.index("gic-missing-eoi")
    static let missingDir = FaultSchedule.index("missing-dir")
    static let wrongItargetsr = FaultSchedule.index("wrong-itargetsr")
    static let lostSgiSource = FaultSchedule.index("lost-sgi-source")
    static let lrOverwrite = FaultSchedule.index("lr-overwrite")
}

/// The guest's GIC settings (Linux's GICv2 driver).
enum GICGuest {
    static let defaultPriority = 0xA0
    static let defaultPMR: UInt32 = 0xF0
}

struct GICSimulation<Output: GICOutput>: Simulation {
    enum Action {
        case device(Int, Int)                // device, queue: raise an interrupt
        case deviceBurst(Int, Int, Int)      // device, queue, interrupts left in the burst
        case timer(Int)
        case ipi(Int)                        // a wakeup of another vCPU is due on this one
        case take(Int)                       // the vCPU takes the IRQ exception
        case handlerEnd(Int, UInt64)         // vCPU, epoch
        case idle(Int, UInt64)               // vCPU, epoch: WFI
        case pmrRaise(Int)
        case pmrLower(Int)
        case affinity(Int)
    }

    struct VCPU {
        /// In WFI.
        var idle = false
        /// In gic_handle_irq (IRQs masked).
        var busy = false
        /// The IAR value being handled.
        var iar: UInt32 = GICv2.spurious
        var epoch: UInt64 = 0
        var takePending = false
        var pmrRaised = false
        /// The IRQ line as the last gic_update left it.
        var line = false
        /// SGIs to send at the next irq exit.
        var ipisQueued = 0
    }

    struct Device {
        var kind: Kind
        /// The first SPI; queue q is `irq + q`.
        var irq: Int
        /// Per queue: the target vCPU (ITARGETSR).
        var targets: [Int]
        var priority: Int
        /// Level devices: the line is high (the cause not yet cleared by the handler).
        var asserted = false
        /// Per queue: vCPUs the queue must not be moved to (wrong-itargetsr left a pending bit there
        /// in the replay's model).
        var avoid: [UInt8]
        enum Kind { case msi, edge, level }
    }

    let scenario: Scenario
    var time: GICTime
    var gic: GICv2
    var out: Output
    var queue = EventQueue<Action>()
    var now: Int64 {
        get { time.now }
        set { time.now = newValue }
    }
    var cpus: [VCPU]
    var devices: [Device] = []
    /// The devices' interrupt clocks (by device index).
    let clocks: [DeviceClock]
    let timing: GuestTiming
    /// INTID → device index (−1: none).
    var irqDevice: [Int]
    var faults: FaultSchedule
    let endTime: Int64
    let maxEvents: Int
    let numIRQ: Int
    let eoiMode1: Bool
    let timerIRQ: Int
    let sgis: [Int]
    /// wrong-itargetsr in progress: the SPI and the ITARGETSR the faulty distributor ignores.
    var misroute: (irq: Int, targets: UInt8)?
    /// lost-sgi-source fired: until the target acknowledges that SGI, the sender sends it no other
    /// copy (which would put the lost source back and hide the loss).
    var lostSGI: (from: Int, to: Int, sgi: Int)?
    /// Per `cpu * numIRQ + irq`: when the interrupt became pending at that CPU, by the analyzers' rule
    /// (docs/ANALYZERS.md): latched or a level line high, an SPI at its targets only; an acknowledge
    /// that leaves it pending (a level line still high, another SGI source) starts anew. For the
    /// consequences in the ground truth.
    var pendingSince: [Int64]
    /// The last gic_update's results, kept so each update reuses the array (`GICv2.update(into:)`).
    var updates: [GICv2.Update] = []
    /// Time of the last event written (the end of the trace as the analyzers see it).
    var lastEventNs: Int64 { time.last }

    init(scenario: Scenario, faults: [FaultRequest], seed: UInt64, writer: TraceWriter, endTime: Int64, maxEvents: Int) {
        self.scenario = scenario
        clocks = DeviceClock.table(scenario)
        timing = GuestTiming(scenario.guest)
        time = GICTime(rng: SimRandom(seed: seed))
        // QEMU's virt board: 256 SPIs (GICD_TYPER ITLinesNumber 8); more when a scenario names higher SPIs.
        let highest = scenario.devices.map { ($0.irq ?? 32) + max(1, $0.queues ?? 1) }.max() ?? 0
        numIRQ = min(992, max(288, (highest + 31) / 32 * 32))
        gic = GICv2(cpus: scenario.vcpus, irqs: numIRQ)
        out = Output(writer: writer, scenario: scenario)
        cpus = Array(repeating: VCPU(), count: scenario.vcpus)
        irqDevice = Array(repeating: -1, count: numIRQ)
        pendingSince = Array(repeating: .max, count: scenario.vcpus * numIRQ)
        self.faults = FaultSchedule(faults, runNs: endTime)
        self.endTime = endTime
        self.maxEvents = maxEvents
        eoiMode1 = scenario.guest.eoi == "eoimode1"
        timerIRQ = scenario.timer?.irq ?? 27
        sgis = scenario.ipis?.vectors ?? [1, 2]
        for (i, d) in scenario.devices.enumerated() {
            let kind: Device.Kind = d.kind == "msi" ? .msi : d.kind == "spi-level" ? .level : .edge
            let queues = kind == .msi ? max(1, d.queues ?? 1) : 1
            let affinity = d.affinity ?? Array(0..<scenario.vcpus)
            let irq = d.irq ?? 32
            devices.append(Device(kind: kind, irq: irq, targets: (0..<queues).map { affinity[($0 + i) % affinity.count] },
                                  priority: d.priority ?? GICGuest.defaultPriority, avoid: Array(repeating: 0, count: queues)))
            for q in 0..<queues where irq + q < numIRQ { irqDevice[irq + q] = i }
        }
    }

    var eventCount: Int { out.eventCount }
    var n: Int { cpus.count }

    // MARK: output

    /// Pending at CPU `c` as the analyzers count it (QEMUGICAdapter.pendingAt).
    // (Inlined: called out of line from a mutating method, a non-mutating method of this large
    // struct got a copy of all of `self` — 624 bytes — per call.)
    @inline(__always)
    func pendingAt(_ irq: Int, _ c: Int) -> Bool {
        let m = UInt8(1 << c)
        return (gic.pending[irq] & m != 0 || (!gic.edgeTriggered[irq] && gic.level[irq] & m != 0)) && (irq < 32 || gic.targets[irq] & m != 0)
    }

    @inline(__always)
    func pendingMask(_ irq: Int) -> UInt8 {
        var m: UInt8 = 0
        for c in 0..<n where pendingAt(irq, c) { m |= UInt8(1 << c) }
        return m
    }

    /// Starts the pending time of `irq` at the CPUs where it is pending now and was not in `before`
    /// (at the event just written).
    mutating func markPending(_ irq: Int, before: UInt8) {
        let now = pendingMask(irq) & ~before
        guard now != 0 else { return }
        for c in 0..<n where now & UInt8(1 << c) != 0 { pendingSince[c * numIRQ + irq] = lastEventNs }
    }

    mutating func truth(_ fault: String, _ expect: String, cpu: Int, irq: Int, _ detail: String) {
        faults.fired(fault, GroundTruth(fault: fault, expect: expect, timeNs: now, cpu: cpu, irq: irq, detail: detail))
    }

    /// gic_update: a line per CPU with a best interrupt, and the IRQ lines it raises; a vCPU whose
    /// line is up takes the interrupt.
    mutating func update(_ by: GICActor) throws {
        gic.update(into: &updates)
        for v in 0..<n { cpus[v].line = false }
        for k in updates.indices {
            let u = updates[k]
            try out.updated(u, by: by, &time)
            if u.signal {
                cpus[u.cpu].line = true
                scheduleTake(u.cpu)
            }
        }
    }

    /// A device line changes (QEMU's gic_set_irq; nothing happens when the level does not). `latch: false` is the
    /// lr-overwrite fault: a rising edge that leaves no pending state (`lostAt`: the CPUs the
    /// hypervisor had queued it for before it lost it).
    mutating func setLine(_ irq: Int, high: Bool, cpuMask cm: UInt8, target: UInt8, by: GICActor, latch: Bool = true, lostAt: UInt8 = 0) throws {
        guard (gic.level[irq] & cm != 0) != high else { return }
        let before = pendingMask(irq)
        if high {
            gic.level[irq] |= cm
            if latch && gic.edgeTriggered[irq] { gic.pending[irq] |= target }
        } else {
            gic.level[irq] &= ~cm
        }
        let queued = pendingMask(irq) & ~before & gic.enabled[irq]
        try out.lineChanged(irq: irq, high: high, cpuMask: cm, target: target, by: by, queued: queued, lost: lostAt, &time)
        markPending(irq, before: before)
        try update(by)
    }

    mutating func setSPI(_ irq: Int, high: Bool, by: GICActor, latch: Bool = true, lostAt: UInt8 = 0) throws {
        try setLine(irq, high: high, cpuMask: 0xFF, target: gic.targets[irq], by: by, latch: latch, lostAt: lostAt)
    }

    mutating func setPPI(_ irq: Int, cpu v: Int, high: Bool, by: GICActor) throws {
        let cm = UInt8(1 << v)
        try setLine(irq, high: high, cpuMask: cm, target: cm, by: by)
    }

    /// A distributor write by vCPU `cpu` (banked registers are its own; QEMU's gic_dist_write):
    /// GICD_SGIR is one write and one update; anything else is QEMU's byte writes, each followed by
    /// an update (the same state as one word write, which is how the output shows it).
    mutating func distWrite(_ offset: Int, size: Int, _ value: UInt32, by cpu: Int) throws {
        let t = GICActor.vcpu(cpu)
        try out.distributorWrite(offset: offset, size: size, value: value, by: cpu, &time)
        if offset == 0xF00 {
            let sgi = Int(value & 0xF)
            let before = pendingMask(sgi)
            gic.writeDistributor(offset: 0xF00, value: value, cpu: cpu)
            let queued = pendingMask(sgi) & ~before
            markPending(sgi, before: before)
            try update(t)
            return try out.distributorWriteDone(by: cpu, queued: queued, &time)
        }
        for k in 0..<size {
            let o = offset + k, byte = (value >> UInt32(8 * k)) & 0xFF
            if o >= 0x100 && o < 0x180 && byte != 0 {
                for b in 0..<8 where byte & (1 << UInt32(b)) != 0 {
                    let irq = (o - 0x100) * 8 + b
                    guard irq >= 16 && irq < numIRQ else { continue }
                    if gic.enabled[irq] & (irq < 32 ? UInt8(1 << cpu) : 0xFF) == 0 { try out.interruptEnabled(irq, by: cpu, &time) }
                }
            }
            let spi = o >= 0x820 && o < 0xC00 && o - 0x800 < numIRQ ? o - 0x800 : -1
            let before = spi >= 0 ? pendingMask(spi) : 0
            gic.writeDistributor(offset: o, value: byte, cpu: cpu, size: 1)
            if spi >= 0 { markPending(spi, before: before) }
            try update(t)
        }
        try out.distributorWriteDone(by: cpu, queued: 0, &time)
    }

    mutating func distRead(_ offset: Int, _ value: UInt32, by cpu: Int) throws {
        try out.distributorRead(offset: offset, value: value, by: cpu, &time)
    }

    /// gic_cpu_write: QEMU updates after every write but an EOIR it ignores (no active interrupt, or
    /// not an interrupt ID).
    mutating func cpuWrite(_ v: Int, _ offset: Int, _ value: UInt32) throws {
        try out.cpuInterfaceWrite(cpu: v, offset: offset, value: value, &time)
        let ignored = offset == 0x10 && (Int(value & 0x3FF) >= numIRQ || gic.runningPriority[v] == GICv2.idlePriority)
        gic.writeCPUInterface(cpu: v, offset: offset, value: value)
        if !ignored { try update(.vcpu(v)) }
    }

    /// A GICC_IAR read: `gic_acknowledge_irq` prints current_pending before the priority check, then
    /// (for a real interrupt) the update, then `gic_cpu_read` the value returned.
    mutating func readIAR(_ v: Int) throws -> UInt32 {
        let shown = gic.currentPending[v]
        let iar = gic.acknowledge(cpu: v)
        try out.acknowledging(cpu: v, shown: shown, &time)
        // Still pending after the acknowledge (a level line high, another SGI source): pending anew.
        if iar != GICv2.spurious, case let irq = Int(iar & 0x3FF), irq < numIRQ, pendingAt(irq, v) { pendingSince[v * numIRQ + irq] = lastEventNs }
        if iar != GICv2.spurious { try update(.vcpu(v)) }
        try out.cpuInterfaceRead(cpu: v, offset: 0xC, value: iar, &time)
        return iar
    }

    // MARK: run

    /// The consequences of faults still in effect at the end, as ground truth (CLI conventions: a
    /// consequence is its own finding with `caused_by`): interrupts pending (enabled, targeted, not
    /// active) for longer than the lost window on a CPU whose running priority an interrupt never
    /// written to GICC_EOIR holds, at that interrupt's group priority or lower. A missing GICC_DIR
    /// drops the priority and blocks only the interrupt itself (the primary finding).
    mutating func consequences() {
        let end = lastEventNs
        let primaries = faults.truth.enumerated().filter { $0.element.causedBy == nil }
        for (index, g) in primaries where g.fault == "gic-missing-eoi" {
            let c = g.cpu, m = UInt8(1 << c)
            guard c >= 0 && c < n, let x = g.irq, x < numIRQ, gic.active[x] & m != 0 else { continue }
            let blocksFrom = gic.priority(x, cpu: c) & (~0 << ((gic.binaryPoint[c] & 7) + 1))
            for i in 0..<numIRQ where i != x && gic.enabled[i] & m != 0 && gic.active[i] & m == 0 && pendingAt(i, c)
                && gic.priority(i, cpu: c) >= blocksFrom && pendingSince[c * numIRQ + i] != .max && end - pendingSince[c * numIRQ + i] > lostWindowNs {
                faults.truth.append(GroundTruth(fault: g.fault, expect: "lost_interrupt", timeNs: pendingSince[c * numIRQ + i], cpu: c, irq: i,
                                                detail: "interrupt \(i) left pending on CPU \(c) by the \(g.fault) fault", causedBy: index))
            }
        }
    }

    /// Linux's GICv2 start-up (gic_dist_init, gic_cpu_init per CPU, IPIs and the timer PPI, then the
    /// devices' SPIs), as the samples show it; then the workload's clocks start.
    mutating func boot() throws {
        now = 1_000_000
        try distRead(0x004, UInt32((numIRQ / 32 - 1) | ((n - 1) << 5)), by: 0)
        try distWrite(0x000, size: 4, 0, by: 0)
        try distRead(0x800, 0x0101_0101, by: 0)
        for o in stride(from: 0x820, to: 0x800 + numIRQ, by: 4) { try distWrite(o, size: 4, 0x0101_0101, by: 0) }
        for o in stride(from: 0xC08, to: 0xC00 + numIRQ / 4, by: 4) { try distWrite(o, size: 4, 0, by: 0) }
        for o in stride(from: 0x420, to: 0x400 + numIRQ, by: 4) { try distWrite(o, size: 4, 0xA0A0_A0A0, by: 0) }
        for o in stride(from: 0x384, to: 0x380 + numIRQ / 8, by: 4) {
            try distWrite(o, size: 4, 0xFFFF_FFFF, by: 0)
            try distWrite(o - 0x200, size: 4, 0xFFFF_FFFF, by: 0)
        }
        try distWrite(0x000, size: 4, 1, by: 0)
        for c in 0..<n {
            // gic_cpu_init: the CPU finds its mask in ITARGETSR0, resets its banked SGI/PPI state.
            try distRead(0x800, UInt32(1 << c) * 0x0101_0101, by: c)
            try distWrite(0x380, size: 4, 0xFFFF_FFFF, by: c)
            try distWrite(0x180, size: 4, 0xFFFF_FFFF, by: c)
            for o in stride(from: 0x400, to: 0x420, by: 4) { try distWrite(o, size: 4, 0xA0A0_A0A0, by: c) }
            try cpuWrite(c, 0x04, GICGuest.defaultPMR)
            try out.cpuInterfaceRead(cpu: c, offset: 0xFC, value: 0x0002_043B, &time)
            for o in stride(from: 0xD0, through: 0xDC, by: 4) { try cpuWrite(c, o, 0) }
            try out.cpuInterfaceRead(cpu: c, offset: 0x00, value: 0, &time)
            try cpuWrite(c, 0x00, eoiMode1 ? 0x201 : 0x1)
            // The IPIs (SGIs 0–6: always enabled, nothing to trace) and the timer PPI (level).
            for s in 0..<7 { try distWrite(0x100, size: 4, 1 << UInt32(s), by: c) }
            if scenario.timer != nil {
                let icfgr = 0xC00 + timerIRQ / 16 * 4
                try distRead(icfgr, gic.readDistributor(offset: icfgr, size: 4) ?? 0, by: c)
                try distWrite(0x100, size: 4, 1 << UInt32(timerIRQ), by: c)
            }
        }
        // Device SPIs (request_irq on CPU 0): trigger (ICFGR read-modify-write), priority, target, enable.
        for d in devices {
            for (q, target) in d.targets.enumerated() {
                let irq = d.irq + q
                let icfgr = 0xC00 + irq / 16 * 4
                let config = gic.readDistributor(offset: icfgr, size: 4) ?? 0
                try distRead(icfgr, config, by: 0)
                if d.kind != .level {
                    try distWrite(icfgr, size: 4, config | 2 << UInt32(2 * (irq % 16)), by: 0)
                    try distRead(icfgr, gic.readDistributor(offset: icfgr, size: 4) ?? 0, by: 0)
                }
                if d.priority != GICGuest.defaultPriority { try distWrite(0x400 + irq, size: 1, UInt32(d.priority & 0xFF), by: 0) }
                try distWrite(0x800 + irq, size: 1, UInt32(1 << target), by: 0)
                try distWrite(0x100 + irq / 32 * 4, size: 4, 1 << UInt32(irq % 32), by: 0)
            }
        }
        // Workload clocks.
        for (i, d) in devices.enumerated() where clocks[i].rateHz > 0 {
            for q in 0..<d.targets.count { queue.schedule(.device(i, q), at: now + gap(rateHz: clocks[i].rateHz)) }
            let a = clocks[i].affinityChangeHz
            if a > 0 { queue.schedule(.affinity(i), at: now + gap(rateHz: a)) }
        }
        if let t = scenario.timer {
            for v in 0..<n { queue.schedule(.timer(v), at: now + Int64(t.periodUs * 1000) + Int64(time.rng.below(1000 * (v + 1)))) }
        }
        if let i = scenario.ipis, i.rateHz > 0, n > 1 {
            for v in 0..<n { queue.schedule(.ipi(v), at: now + gap(rateHz: i.rateHz)) }
        }
        if let p = scenario.guest.priorityMasking, p.rateHz > 0 {
            for v in 0..<n { queue.schedule(.pmrRaise(v), at: now + gap(rateHz: p.rateHz)) }
        }
        for v in 0..<n { scheduleIdle(v) }
    }

    mutating func gap(rateHz: Double) -> Int64 { time.rng.exponential(mean: 1e9 / rateHz) }

    mutating func perform(_ action: Action) throws {
        switch action {
        case .device(let i, let q):
            queue.schedule(.device(i, q), at: now + time.rng.exponential(mean: clocks[i].meanGapNs))
            let burst = clocks[i].burst
            // Geometric burst length with mean `burst`.
            var k = 1
            if burst > 1 { while k < 64 && time.rng.chance(1 - 1 / burst) { k += 1 } }
            try raise(i, q, more: k > 1)
            if k > 1 { queue.schedule(.deviceBurst(i, q, k - 1), at: now + time.rng.between(1_000, 4_000)) }
        case .deviceBurst(let i, let q, let left):
            try raise(i, q, more: left > 1)
            if left > 1 { queue.schedule(.deviceBurst(i, q, left - 1), at: now + time.rng.between(1_000, 4_000)) }
        case .timer(let v):
            if let t = scenario.timer { queue.schedule(.timer(v), at: now + Int64(t.periodUs * 1000)) }
            // The timer condition is met: the PPI rises (a line still high stays so, silently).
            try setPPI(timerIRQ, cpu: v, high: true, by: .device)
        case .ipi(let v):
            if let i = scenario.ipis { queue.schedule(.ipi(v), at: now + gap(rateHz: i.rateHz)) }
            // An interrupt handler on this vCPU wakes a task on another one: the SGI goes out at the
            // next irq exit (a few at most are outstanding; more coalesce).
            if cpus[v].ipisQueued < 3 { cpus[v].ipisQueued += 1 }
        case .take(let v):
            cpus[v].takePending = false
            guard !cpus[v].busy, cpus[v].line else { return }
            try out.takesInterrupt(v, &time)
            cpus[v].idle = false
            cpus[v].busy = true
            try handle(v, iar: try readIAR(v))
        case .handlerEnd(let v, let epoch):
            guard cpus[v].epoch == epoch, cpus[v].busy else { return }
            try handlerEnd(v)
        case .idle(let v, let epoch):
            guard cpus[v].epoch == epoch, !cpus[v].busy, !cpus[v].idle else { return }
            if cpus[v].pmrRaised { scheduleIdle(v); return }
            cpus[v].idle = true
            try out.waitsForInterrupt(v, &time)
        case .pmrRaise(let v):
            guard let p = scenario.guest.priorityMasking else { return }
            queue.schedule(.pmrRaise(v), at: now + gap(rateHz: p.rateHz))
            guard !cpus[v].idle, !cpus[v].busy, !cpus[v].pmrRaised else { return }
            try cpuWrite(v, 0x04, UInt32(p.value & 0xFF))
            cpus[v].pmrRaised = true
            queue.schedule(.pmrLower(v), at: now + Int64(p.holdUs * 1000))
        case .pmrLower(let v):
            guard cpus[v].pmrRaised else { return }
            if cpus[v].busy { queue.schedule(.pmrLower(v), at: now + 2_000); return }
            try cpuWrite(v, 0x04, GICGuest.defaultPMR)
            cpus[v].pmrRaised = false
        case .affinity(let i):
            if try changeAffinity(i) {
                if clocks[i].affinityChangeHz > 0 { queue.schedule(.affinity(i), at: now + gap(rateHz: clocks[i].affinityChangeHz)) }
            } else {
                // Pending, or no vCPU running the guest's irq affinity code: a little later.
                queue.schedule(.affinity(i), at: now + time.rng.between(20_000, 200_000))
            }
        }
    }

    // MARK: devices

    /// An interrupt from queue `q` of device `i`; `more`: another one of the burst follows within µs.
    mutating func raise(_ i: Int, _ q: Int, more: Bool) throws {
        let irq = devices[i].irq + q
        switch devices[i].kind {
        case .msi, .edge:
            if misroute == nil, n > 1, faults.due(F.wrongItargetsr, now), try misroute(i, q) { return }
            if more, faults.due(F.lrOverwrite, now) {
                let t = devices[i].targets[q]
                // (kvm-arm64: a target in WFI, whose wakeup shows it had nothing to take; a running target's
                // kick looks the same whether its list register kept the interrupt or not.)
                if !cpus[t].busy && gic.bestInterrupt(cpu: t).irq == GICv2.spurious && gic.pending[irq] == 0
                    && (Output.name != KVMArm64Output.name || cpus[t].idle) {
                    // The hypervisor's list register holding the interrupt is overwritten: the edge
                    // reaches the distributor and leaves no pending state, no update raises the line.
                    truth("lr-overwrite", "lost_interrupt", cpu: t, irq: irq,
                          "edge of SPI \(irq) (\(scenario.devices[i].name) queue \(q)) for CPU \(t) dropped: never pending, never acknowledged though CPU \(t) had nothing else to take")
                    try setSPI(irq, high: true, by: .device, latch: false, lostAt: UInt8(1 << t))
                    try setSPI(irq, high: false, by: .device)
                    return
                }
            }
            // GICv2m: the MSI write to the frame pulses the SPI (qemu_irq_pulse).
            try setSPI(irq, high: true, by: .device)
            try setSPI(irq, high: false, by: .device)
        case .level:
            guard !devices[i].asserted else { return }
            devices[i].asserted = true
            try setSPI(irq, high: true, by: .device)
        }
    }

    /// wrong-itargetsr: the faulty distributor routes the edge to a vCPU outside ITARGETSR (one with
    /// nothing else pending, so its next IAR read takes exactly this interrupt). The SPI is pending on
    /// that vCPU, which acknowledges it; ITARGETSR is honoured again once it has.
    mutating func misroute(_ i: Int, _ q: Int) throws -> Bool {
        let irq = devices[i].irq + q, target = devices[i].targets[q]
        let start = time.rng.below(n)
        guard gic.pending[irq] == 0, gic.active[irq] == 0,
              let w = (0..<n).map({ (start + $0) % n }).first(where: { w in
                  w != target && !cpus[w].busy && !cpus[w].pmrRaised && gic.bestInterrupt(cpu: w).irq == GICv2.spurious
                      && gic.runningPriority[w] == GICv2.idlePriority
              }) else { return false }
        truth("wrong-itargetsr", "misrouted_vector", cpu: w, irq: irq,
              "SPI \(irq) (\(scenario.devices[i].name) queue \(q)) made pending on and taken by CPU \(w); its ITARGETSR names CPU \(target) only")
        misroute = (irq, gic.targets[irq])
        gic.targets[irq] = UInt8(1 << w)
        devices[i].avoid[q] |= UInt8(1 << w)
        try setSPI(irq, high: true, by: .device)
        try setSPI(irq, high: false, by: .device)
        return true
    }

    /// Moves one queue of device `i` to another vCPU (a byte write of its ITARGETSR); false when it
    /// cannot be done now.
    mutating func changeAffinity(_ i: Int) throws -> Bool {
        let d = devices[i]
        guard n > 1 else { return true }
        let q = time.rng.below(d.targets.count)
        let irq = d.irq + q
        // Not while latched pending (the pending bits stay on the old targets) or active (QEMU keeps an
        // SPI's active state per CPU: the new target could take it while the old one has it active).
        guard gic.pending[irq] == 0, gic.active[irq] == 0, misroute?.irq != irq else { return false }
        let start = time.rng.below(n)
        guard let w = (0..<n).map({ (start + $0) % n }).first(where: { !cpus[$0].idle && !cpus[$0].busy }) else { return false }
        let newTarget = (d.targets[q] + 1 + time.rng.below(n - 1)) % n
        guard d.avoid[q] & UInt8(1 << newTarget) == 0 else { return true }
        devices[i].targets[q] = newTarget
        try distWrite(0x800 + irq, size: 1, UInt32(1 << newTarget), by: w)
        return true
    }

    // MARK: vCPUs

    mutating func scheduleTake(_ v: Int) {
        guard !cpus[v].takePending, !cpus[v].busy else { return }
        cpus[v].takePending = true
        // TCG notices the IRQ at the next TB boundary; a vCPU in WFI is woken first.
        queue.schedule(.take(v), at: now + (cpus[v].idle ? time.rng.between(5_000, 25_000) : time.rng.between(500, 4_000)))
    }

    mutating func scheduleIdle(_ v: Int) {
        cpus[v].epoch &+= 1
        let wait = timing.runNs(&time.rng)
        // kvm-arm64: a vCPU that took an interrupt needs some guest time before it can execute WFI
        // again (the IRQ exception, gic_handle_irq's IAR and EOIR accesses, irq_exit, the idle loop).
        queue.schedule(.idle(v, cpus[v].epoch), at: now + (Output.name == KVMArm64Output.name ? max(Self.minRunBeforeWFINs, wait) : wait))
    }

    /// The least guest time from handling an interrupt to the next WFI (kvm-arm64 output; the
    /// analyzer's KVMArm64Detectors.reWFIWindowNs stays below it).
    static var minRunBeforeWFINs: Int64 { 6_000 }

    /// One turn of gic_handle_irq with the IAR value just read: 1023 ends the loop.
    mutating func handle(_ v: Int, iar: UInt32) throws {
        let irq = Int(iar & 0x3FF)
        guard irq < 1020 else { return try irqExit(v) }
        if let m = misroute, m.irq == irq {
            gic.targets[irq] = m.targets
            misroute = nil
        }
        if let l = lostSGI, l.to == v, l.sgi == irq { lostSGI = nil }
        cpus[v].iar = iar
        // EOImode 1: the priority drop comes right after the acknowledge.
        if eoiMode1 { try cpuWrite(v, 0x10, iar) }
        cpus[v].epoch &+= 1
        queue.schedule(.handlerEnd(v, cpus[v].epoch), at: now + timing.handlerNs(&time.rng))
    }

    /// The handler returns: the cause of a level interrupt is cleared (the line falls), then EOIR
    /// (EOImode 0) or GICC_DIR (EOImode 1), and the IAR is read again.
    mutating func handlerEnd(_ v: Int) throws {
        let iar = cpus[v].iar
        let irq = Int(iar & 0x3FF)
        if irq == timerIRQ {
            try setPPI(irq, cpu: v, high: false, by: .vcpu(v))
        } else if irq >= 32, case let di = irqDevice[irq], di >= 0, devices[di].kind == .level, devices[di].asserted {
            devices[di].asserted = false
            try setSPI(irq, high: false, by: .vcpu(v))
        }
        if !eoiMode1, irq >= 32, gic.currentPending[v] == GICv2.spurious, faults.due(F.gicMissingEoi, now) {
            truth("gic-missing-eoi", "stuck_in_service", cpu: v, irq: irq,
                  "CPU \(v) returns from the handler of interrupt \(irq) without writing GICC_EOIR: it stays active and the running priority stays \(gic.runningPriority[v]), blocking every interrupt of equal or lower priority on CPU \(v)")
            return try handle(v, iar: try readIAR(v))
        }
        if eoiMode1, irq >= 32, faults.due(F.missingDir, now) {
            truth("missing-dir", "stuck_in_service", cpu: v, irq: irq,
                  "CPU \(v) (EOImode 1) wrote GICC_EOIR for interrupt \(irq) but never GICC_DIR: the priority dropped, the interrupt stays active and is never taken again")
            return try handle(v, iar: try readIAR(v))
        }
        try cpuWrite(v, eoiMode1 ? 0x1000 : 0x10, iar)
        try handle(v, iar: try readIAR(v))
    }

    /// The end of gic_handle_irq: IRQs unmasked; the wakeups the interrupts caused send their SGIs.
    mutating func irqExit(_ v: Int) throws {
        cpus[v].busy = false
        while cpus[v].ipisQueued > 0 {
            cpus[v].ipisQueued -= 1
            try sendSGI(from: v)
        }
        scheduleIdle(v)
        if cpus[v].line { scheduleTake(v) }
    }

    /// A GICD_SGIR write from vCPU `v`: one other vCPU, or (sometimes, with more than two) all others.
    mutating func sendSGI(from v: Int) throws {
        guard n > 1, !sgis.isEmpty else { return }
        let sgi = sgis[time.rng.below(sgis.count)]
        var list: UInt8
        if n > 2 && time.rng.chance(0.1) {
            list = UInt8(truncatingIfNeeded: (1 << n) - 1) & ~UInt8(1 << v)
        } else {
            list = UInt8(1 << ((v + 1 + time.rng.below(n - 1)) % n))
        }
        if faults.due(F.lostSgiSource, now) {
            // An SGI to a vCPU that has the same SGI pending from another source: the faulty GIC
            // keeps one pending state per SGI, not per source, and this one is lost.
            for k in 1..<n {
                let c = (v + k) % n
                guard let s = sgis.first(where: { gic.sgiSources[c * 16 + $0] & ~UInt8(1 << v) != 0 && gic.sgiSources[c * 16 + $0] & UInt8(1 << v) == 0 }) else { continue }
                let other = gic.sgiSources[c * 16 + s].trailingZeroBitCount
                truth("lost-sgi-source", "lost_interrupt", cpu: c, irq: s,
                      "SGI \(s) from CPU \(v) to CPU \(c) while SGI \(s) from CPU \(other) is pending there: merged into it and never acknowledged")
                lostSGI = (v, c, s)
                try out.distributorWrite(offset: 0xF00, size: 4, value: UInt32(1 << c) << 16 | UInt32(s), by: v, &time)
                try update(.vcpu(v))
                return try out.distributorWriteDone(by: v, queued: 0, &time)
            }
        }
        if let l = lostSGI, l.from == v, l.sgi == sgi {
            list &= ~UInt8(1 << l.to)
            if list == 0 { return }
        }
        try distWrite(0xF00, size: 4, UInt32(list) << 16 | UInt32(sgi), by: v)
    }
}
