import Replayer
import TraceFormat

/// An x86 guest on QEMU 7.2's own interrupt controllers (`-M q35`, multi-threaded TCG, optionally
/// `-device intel-iommu,intremap=on`), run forward on the Replayer's models with QEMU's rules
/// (`X86Machine(behaviour: .qemu)`: LAPICs, IOAPIC; `InterruptRemapping`: VT-d IRTEs) and written
/// as the `apic_*`, `ioapic_*`, `vtd_ir_*` and `pic_*` trace events QEMU prints for it:
///
/// - every vCPU has its own thread (QEMU's default multi-threaded TCG) and its xAPIC MMIO accesses
///   print there (`apic_mem_writel` / `apic_mem_readl`); devices, the IOAPIC's inputs and the LAPIC
///   timers run on the main-loop thread;
/// - an MSI-X message is `apic_deliver_irq` + `apic_report_irq_delivered` (QEMU's global delivered
///   counter, +1 unless the vector was already in the LAPIC's IRR); with interrupt remapping it is
///   first the IOMMU's `vtd_ir_remap_msi_req`, `vtd_ir_irte_get`, `vtd_ir_remap`,
///   `vtd_ir_remap_type MSI`, `vtd_ir_remap_msi`;
/// - an IOAPIC input is `ioapic_set_irq` (after the 8259's `pic_set_irq` for GSIs below 16); a
///   delivery sets Remote IRR for a level pin (`ioapic_set_remote_irr`) and sends the entry's message
///   (remappable-format entries through the IOMMU, `vtd_ir_remap_type IOAPIC`);
/// - the guest takes an interrupt when it is deliverable (IRR → ISR and the handler are not traced),
///   clears a level device's cause in its handler (the line drops on its thread), and writes EOI
///   (`apic_mem_writel 0xb0`); a level vector's EOI reaches the IOAPIC (`ioapic_eoi_broadcast`,
///   `ioapic_clear_remote_irr`, and a re-delivery of a line still high);
/// - IPIs are Linux's xAPIC sequence (ICR read, ICR2 write, ICR write, the target's report); TPR
///   raises are `apic_mem_writel 0x80`; the LAPIC timer is periodic (TDCR, LVTT, TMICT at boot) and
///   fires on the main loop (`apic_local_deliver vector 0`);
/// - affinity changes: without remapping, an IOAPIC RTE rewrite (`ioapic_mem_write`, high half then
///   low) or an MSI-X table write (not traced: only the new `dest` shows); with remapping, the
///   guest rewrites the IRTE in memory and invalidates the interrupt entry cache, neither of which
///   the `vtd_ir_*` events show: the next `vtd_ir_irte_get` of that index shows the new entry.
struct X86QEMUSimulation: X86Workload {
    struct VCPU {
        var halted = false
        var busy = false
        var handling: UInt8 = 0
        var epoch: UInt64 = 0
        var takePending = false
        var tprRaised = false
        /// The ICR low the vCPU last wrote (what Linux's ICR-idle read returns: QEMU never sets the busy bit).
        var icrLow: UInt32 = 0
    }

    struct Device {
        var kind: Kind
        var targets: [Int]
        var vector: Int
        var pin: Int
        /// Remapping: the IRTE index of each queue (IOAPIC devices: one).
        var irteIndex: [Int]
        /// The PCI requester id (source id) of its messages.
        var sourceID: UInt16
        var asserted = false
        /// level-storm fault: handlings left whose handler does not clear the cause.
        var stuckHandlings = 0
        /// vfio-msix: per queue (MSI-X table entry), the effective mask, the MSI-X core's pending
        /// bit (PBA) and VFIO's own pending bit (`vdev->msix->pending`, cleared at a use).
        var masked: [Bool] = []
        var pba: [Bool] = []
        var vfioPending: [Bool] = []
        enum Kind { case msix, vfio, edge, level }
        /// An MSI-X function (emulated or VFIO-assigned): one message per queue.
        var isMSIX: Bool { kind == .msix || kind == .vfio }
    }

    enum F {
        static let staleIRTE = FaultSchedule.index("stale-irte")
        static let vectorZeroRouteLoss = FaultSchedule.index("vector0-route-loss")
        static let maskedEdgeLost = FaultSchedule.index("masked-edge-lost")
        static let levelStorm = FaultSchedule.index("level-storm")
        static let rteRewriteInService = FaultSchedule.index("rte-rewrite-in-service")
        static let msixUnmaskLost = FaultSchedule.index("msix-unmask-lost")
    }

    /// level-storm: the handler leaves the cause set this many times, then the driver resets the
    /// device (below QEMU's 10,000 successive re-deliveries, after which its IOAPIC delays them).
    static let stormHandlings = 1_000

    let scenario: Scenario
    var rng: SimRandom
    var machine: X86Machine
    let out: LineWriter
    /// `out`, unretained, for the per-event emit.
    let lines: Unmanaged<LineWriter>
    var queue = EventQueue<X86Action>()
    var now: Int64 = 0
    var cpus: [VCPU]
    var devices: [Device] = []
    /// The devices' interrupt clocks (by device index).
    let clocks: [DeviceClock]
    let timing: GuestTiming
    var vcpuThreads: [Int] = []
    var mainThread = 0
    var faults: FaultSchedule
    let endTime: Int64
    let maxEvents: Int
    let remapping: Bool
    let timerVector: UInt8
    let ipiVectors: [UInt8]
    var vectorDevice = [Int](repeating: -1, count: 256)
    /// QEMU's `apic_irq_delivered` counter.
    var delivered: Int64 = 0
    /// The IRTEs in guest memory (what `vtd_ir_irte_get` prints). `machine.remapping.entries` is what
    /// the IOMMU translates with: the same, except for an index a stale-irte fault left cached.
    var irteMemory: [Int: IRTE] = [:]
    /// stale-irte: indices whose translation is stale, and whether the ground truth is still to be written.
    var staleIndices: [Int: Bool] = [:]
    /// Each LAPIC timer's next deadline (QEMU_CLOCK_VIRTUAL = the log's clock under TCG).
    var timerDeadline: [Int64]

    static let ioapicSourceID: UInt16 = 0xFF00

    init(scenario: Scenario, faults: [FaultRequest], seed: UInt64, writer: TraceWriter, endTime: Int64, maxEvents: Int) {
        self.scenario = scenario
        clocks = DeviceClock.table(scenario)
        timing = GuestTiming(scenario.guest)
        rng = SimRandom(seed: seed)
        machine = X86Machine(vcpus: scenario.vcpus, behaviour: .qemu)
        out = LineWriter(style: .qemu, writer: writer, formats: QEMUX86Line.formats + QEMUVFIOLine.allCases.map(\.format))
        lines = .passUnretained(out)
        cpus = Array(repeating: VCPU(), count: scenario.vcpus)
        timerDeadline = Array(repeating: 0, count: scenario.vcpus)
        self.faults = FaultSchedule(faults, runNs: endTime)
        self.endTime = endTime
        self.maxEvents = maxEvents
        remapping = scenario.platform.interruptRemapping == true
        timerVector = UInt8(scenario.timer?.vector ?? 0xEC)
        ipiVectors = (scenario.ipis?.vectors ?? [0xFB, 0xFD]).map { UInt8(truncatingIfNeeded: $0) }
        mainThread = out.addThread(SimThread(comm: "qemu-system-x86", pid: 8100, cpu: -1))
        for k in 0..<scenario.vcpus {
            vcpuThreads.append(out.addThread(SimThread(comm: "CPU \(k)/TCG", pid: 8102 + Int32(k), cpu: -1)))
        }
        var nextIndex = 1
        for (i, d) in scenario.devices.enumerated() {
            let kind: Device.Kind = d.kind == "msix" ? .msix : d.kind == "vfio-msix" ? .vfio : d.kind == "ioapic-level" ? .level : .edge
            let queues = kind == .msix || kind == .vfio ? max(1, d.queues ?? 1) : 1
            let targets = Self.initialTargets(scenario, device: i, queues: queues)
            let indices = Array(nextIndex..<nextIndex + queues)
            nextIndex += queues
            devices.append(Device(kind: kind, targets: targets, vector: d.vector ?? 0x40, pin: d.irq ?? 0,
                                  irteIndex: indices, sourceID: kind == .msix || kind == .vfio ? UInt16(3 + i) << 3 : Self.ioapicSourceID,
                                  masked: Array(repeating: true, count: queues), pba: Array(repeating: false, count: queues),
                                  vfioPending: Array(repeating: false, count: queues)))
            for q in 0..<queues { vectorDevice[(d.vector ?? 0x40) + q] = i }
        }
    }

    var eventCount: Int { out.eventCount }
    var deviceCount: Int { devices.count }
    func queueCount(_ i: Int) -> Int { devices[i].targets.count }
    func queueTarget(_ i: Int, _ q: Int) -> (vcpu: Int, vector: Int) { (devices[i].targets[q], devices[i].vector + q) }

    // MARK: output


    mutating func emit(_ line: QEMUX86Line, thread: Int, _ a: Int64 = 0, _ b: Int64 = 0, _ c: Int64 = 0, _ d: Int64 = 0,
                       _ e: Int64 = 0, _ f: Int64 = 0, _ g: Int64 = 0) throws {
        try lines.emit(line.rawValue, thread: thread, time: tick(), a, b, c, d, e, f, g)
    }

    mutating func apicWrite(_ v: Int, _ offset: Int64, _ value: UInt32) throws {
        try emit(.apicWrite, thread: vcpuThreads[v], offset, Int64(value))
    }

    func consequences() {}

    // MARK: boot

    /// The timer's initial count for the scenario's period with TDCR = 3 (divide by 16): QEMU's
    /// period is (TMICT + 1) << 4 ns.
    var timerCount: UInt32 { UInt32(max(1, Int64(scenario.timer?.periodUs ?? 4000) * 1000 / 16 - 1)) }
    var timerPeriodNs: Int64 { (Int64(timerCount) + 1) << 4 }

    mutating func boot() throws {
        now = 1_000_000
        let stagger = timerPeriodNs / Int64(scenario.vcpus)
        for v in 0..<scenario.vcpus {
            now = max(now, 1_000_000 + Int64(v) * stagger)
            let t = vcpuThreads[v]
            try emit(.apicRead, thread: t, 0x20, Int64(v) << 24)
            try emit(.apicRead, thread: t, 0x30, 0x0005_0014)
            try apicWrite(v, 0xF0, 0x1FF)
            machine.apics[v].writeSPIV(0x1FF)
            if v == 0 {
                // Linux masks the 8259s once the IOAPIC takes over.
                try emit(.picWrite, thread: t, 1, 1, 0xFF)
                try emit(.picWrite, thread: t, 0, 1, 0xFF)
                if remapping {
                    try emit(.irEnable, thread: t, 1)
                    machine.remapping.enabled = true
                }
                for i in devices.indices {
                    if remapping { for q in devices[i].targets.indices { writeIRTE(i, q, invalidate: true) } }
                    if !devices[i].isMSIX { try writeRTE(by: v, device: i, masked: false) }
                    if devices[i].kind == .vfio { try enableVFIO(i, by: v) }
                }
            }
            if scenario.timer != nil {
                try apicWrite(v, 0x3E0, 3)
                try apicWrite(v, 0x320, 0x2_0000 | UInt32(timerVector))
                try apicWrite(v, 0x380, timerCount)
                // QEMU's periodic deadlines: load + k (TMICT + 1) << 4.
                timerDeadline[v] = now + timerPeriodNs
                queue.schedule(.timer(v), at: timerDeadline[v])
            }
        }
        startDeviceClocks()
        startGuestClocks()
    }

    // MARK: remapping

    /// The IRTE of queue `q` of device `i` (remapped format, physical fixed delivery to its target;
    /// xAPIC: the APIC ID in DST bits 15:8; source validation of the requester id, SVT 1, SQ 0).
    func irte(_ i: Int, _ q: Int) -> IRTE {
        let d = devices[i]
        let vector = UInt64(d.isMSIX ? d.vector + q : d.vector)
        let low: UInt64 = 1 | (d.kind == .level ? 0x10 : 0) | vector << 16 | (UInt64(d.targets[q]) << 8) << 32
        return IRTE(low: low, high: 0x4_0000 | UInt64(d.sourceID))
    }

    /// The guest writes the IRTE of queue `q` (memory; not traced) and, with `invalidate`, the
    /// interrupt entry cache invalidation the IOMMU acts on (`vtd_inv_desc_iec`: not a `vtd_ir_*` event).
    mutating func writeIRTE(_ i: Int, _ q: Int, invalidate: Bool) {
        let index = devices[i].irteIndex[q]
        irteMemory[index] = irte(i, q)
        if invalidate {
            machine.remapping.entries[index] = irteMemory[index]
            staleIndices[index] = nil
        }
    }

    /// The remappable-format MSI of an MSI-X queue (Linux: SHV = 1, sub-handle 0 in the data).
    func remappableMSI(index: Int) -> MSIMessage {
        let address = 0xFEE0_0000 | UInt64(index & 0x7FFF) << 5 | 0x10 | 0x8 | (index & 0x8000 != 0 ? 4 : 0)
        return MSIMessage(address: address, data: 0)
    }

    /// The message the IOAPIC sends for an entry (QEMU `ioapic_entry_parse`).
    static func ioapicMSI(_ e: RedirectionEntry) -> MSIMessage {
        let address = 0xFEE0_0000 | (((e.bits >> 48) & 0xFFFF) << 4) | (e.logical ? 4 : 0)
        let data = UInt32(e.vector) | UInt32(e.deliveryMode.rawValue) << 8 | (e.levelTriggered ? 1 << 15 : 0)
        return MSIMessage(address: address, data: data)
    }

    /// A request into the IOMMU's interrupt window: the `vtd_ir_*` chain, then the translated
    /// message on the APIC bus.
    mutating func remap(_ request: MSIMessage, thread: Int) throws {
        try emit(.irRequest, thread: thread, Int64(bitPattern: request.address), Int64(request.data))
        let index = request.remapIndex
        guard let memory = irteMemory[index], let used = machine.remapping.entries[index],
              case .success(let msg) = machine.remapping.remap(request) else {
            preconditionFailure("simulated remapping request \(request) without a valid IRTE")
        }
        // QEMU prints the IRTE's quadwords swapped (semantics.md §6.2).
        try emit(.irteGet, thread: thread, Int64(index), Int64(bitPattern: memory.high), Int64(bitPattern: memory.low))
        try emit(.irRemap, thread: thread, Int64(index), used.levelTriggered ? 1 : 0, Int64(used.vector), Int64(used.deliveryMode.rawValue),
                 Int64((used.destination & 0xFF00) >> 8), used.logical ? 1 : 0)
        try emit(request.subhandleValid ? .irTypeMSI : .irTypeIOAPIC, thread: thread)
        try emit(.irRemapMSI, thread: thread, Int64(bitPattern: request.address), Int64(request.data), Int64(bitPattern: msg.address), Int64(msg.data))
        if staleIndices[index] == true, memory.destination != used.destination {
            staleIndices[index] = false
            let fresh = (memory.destination & 0xFF00) >> 8, old = (used.destination & 0xFF00) >> 8
            truth("stale-irte", "misrouted_vector", cpu: Int(old), vector: Int(used.vector),
                  "IRTE \(index) was rewritten by the guest to APIC \(fresh) (vtd_ir_irte_get shows it) but the IOMMU still translates with the cached entry: vector \(used.vector) delivered to APIC \(old)")
        }
        try deliver(msg, thread: thread)
    }

    // MARK: APIC bus

    /// `apic_deliver_irq` of a fixed, physical message, and its LAPIC's report.
    mutating func deliver(_ msg: MSIMessage, thread: Int) throws {
        let dest = Int(msg.destination)
        try emit(.apicDeliverIRQ, thread: thread, Int64(dest), msg.logical ? 1 : 0, Int64(msg.deliveryMode.rawValue), Int64(msg.vector),
                 msg.levelTriggered ? 1 : 0)
        try accept(dest, msg.vector, level: msg.levelTriggered, thread: thread)
    }

    /// QEMU `apic_set_irq`: the report, IRR (and TMR) set, and the vCPU interrupted.
    mutating func accept(_ v: Int, _ vector: UInt8, level: Bool, thread: Int) throws {
        let a = machine.apics[v].accept(vector: vector, mode: .fixed, level: true, trigger: level)
        if case .accepted = a { delivered += 1 }
        try emit(.apicReportDelivered, thread: thread, delivered)
        scheduleTake(v)
    }

    // MARK: IOAPIC

    /// An IOAPIC input changes: the 8259 sees GSIs below 16 first (a slave input then the slave's
    /// output, low while Linux keeps the 8259s masked), then the IOAPIC.
    mutating func setLine(_ i: Int, level: Bool, thread: Int) throws {
        let pin = devices[i].pin
        if pin < 8 {
            try emit(.picSetIRQ, thread: thread, 1, Int64(pin), level ? 1 : 0)
        } else if pin < 16 {
            try emit(.picSetIRQ, thread: thread, 0, Int64(pin - 8), level ? 1 : 0)
            try emit(.picSetIRQ, thread: thread, 1, 2, 0)
        }
        try emit(.ioapicSetIRQ, thread: thread, Int64(pin), level ? 1 : 0)
        if case .delivered(let d) = machine.ioapic.setLine(pin: pin, level: level) {
            try service(d, thread: thread)
        }
    }

    /// QEMU `ioapic_service` of one entry: Remote IRR for a level pin, then its message.
    mutating func service(_ d: IOAPIC.Delivery, thread: Int) throws {
        if d.entry.levelTriggered { try emit(.ioapicSetRemoteIRR, thread: thread, Int64(d.pin)) }
        let msg = Self.ioapicMSI(d.entry)
        if remapping && msg.remappable {
            try remap(msg, thread: thread)
        } else {
            try deliver(msg, thread: thread)
        }
    }

    /// The guest writes device `i`'s RTE (Linux `__ioapic_write_entry`: high half, then low half).
    /// With remapping the entry is in remappable format: the IRTE index in bits 63:49, bit 48 set,
    /// and the pin number in the vector field (Linux `intel_irq_remapping_prepare_irte`).
    mutating func writeRTE(by v: Int, device i: Int, masked: Bool) throws {
        let d = devices[i]
        let t = vcpuThreads[v]
        let level = d.kind == .level
        let high: UInt32, low: UInt32
        if remapping {
            let index = UInt32(d.irteIndex[0])
            high = ((index & 0x7FFF) << 1 | 1) << 16
            low = UInt32(d.pin) | (level ? 1 << 15 : 0) | (masked ? 1 << 16 : 0) | (index & 0x8000 != 0 ? 1 << 11 : 0)
        } else {
            high = UInt32(d.targets[0]) << 24
            low = UInt32(d.vector) | (level ? 1 << 15 : 0) | (masked ? 1 << 16 : 0)
        }
        for (select, value) in [(UInt8(0x10 + 2 * d.pin + 1), high), (UInt8(0x10 + 2 * d.pin), low)] {
            try emit(.ioapicMemWrite, thread: t, 0, Int64(machine.ioapic.registerSelect), 4, Int64(select))
            machine.ioapic.registerSelect = select
            try emit(.ioapicMemWrite, thread: t, 0x10, Int64(select), 4, Int64(value))
            if let delivery = machine.ioapic.writeRegister(select: select, value: value) {
                try service(delivery, thread: t)
            }
        }
    }

    // MARK: workload

    mutating func perform(_ action: X86Action) throws {
        if try performWorkload(action) { return }
        switch action {
        case .device, .deviceBurst, .affinity, .flood:
            break   // performWorkload
        case .delayedEOI:
            break   // QEMU's IOAPIC: the guest clears its cause before every EOI, no storm to delay
        case .timer(let v):
            timerDeadline[v] += timerPeriodNs
            queue.schedule(.timer(v), at: timerDeadline[v])
            // apic_timer → apic_local_deliver(APIC_LVT_TIMER) on the main loop.
            try emit(.apicLocalDeliver, thread: mainThread, 0, 0)
            try accept(v, timerVector, level: false, thread: mainThread)
        case .ipi(let v):
            if let i = scenario.ipis { queue.schedule(.ipi(v), at: now + gap(rateHz: i.rateHz)) }
            try sendIPI(from: v)
        case .interruptPending(let v):
            cpus[v].takePending = false
            try take(v)
        case .handlerEnd(let v, let epoch):
            guard cpus[v].epoch == epoch, cpus[v].busy else { return }
            try handlerEnd(v)
        case .idle(let v, let epoch):
            guard cpus[v].epoch == epoch, !cpus[v].busy, !cpus[v].halted else { return }
            if cpus[v].tprRaised || machine.deliverable(v) != nil { scheduleIdle(v); return }
            cpus[v].halted = true
        case .tprRaise(let v):
            if let p = scenario.guest.priorityMasking { queue.schedule(.tprRaise(v), at: now + gap(rateHz: p.rateHz)) }
            guard !cpus[v].halted, !cpus[v].busy, !cpus[v].tprRaised, let p = scenario.guest.priorityMasking else { return }
            try apicWrite(v, 0x80, UInt32(truncatingIfNeeded: p.value) & 0xFF)
            machine.apics[v].tpr = UInt8(truncatingIfNeeded: p.value)
            cpus[v].tprRaised = true
            queue.schedule(.tprLower(v), at: now + Int64(p.holdUs * 1000))
        case .tprLower(let v):
            guard cpus[v].tprRaised else { return }
            if cpus[v].busy { queue.schedule(.tprLower(v), at: now + 2_000); return }
            try apicWrite(v, 0x80, 0)
            machine.apics[v].tpr = 0
            cpus[v].tprRaised = false
            try take(v)
        }
    }

    mutating func raise(_ i: Int, _ q: Int) throws {
        switch devices[i].kind {
        case .msix:
            if !remapping, faults.due(F.vectorZeroRouteLoss, now) {
                // The device's MSI data was not programmed (a lost route): the message carries vector 0.
                let dest = devices[i].targets[q]
                truth("vector0-route-loss", "misrouted_vector", cpu: dest, vector: 0,
                      "\(scenario.devices[i].name) queue \(q) (vector \(devices[i].vector + q)) sent its MSI with vector 0: never taken")
                try deliver(MSIMessage(address: 0xFEE0_0000 | UInt64(dest) << 12, data: 0), thread: mainThread)
                return
            }
            if remapping {
                try remap(remappableMSI(index: devices[i].irteIndex[q]), thread: mainThread)
            } else {
                let dest = UInt64(devices[i].targets[q])
                try deliver(MSIMessage(address: 0xFEE0_0000 | dest << 12, data: UInt32(devices[i].vector + q)), thread: mainThread)
            }
        case .vfio:
            try vfioInterrupt(i, q)
        case .edge:
            if !remapping, faults.due(F.maskedEdgeLost, now), !machine.ioapic.entries[devices[i].pin].masked,
               let v = cpus.indices.first(where: { !cpus[$0].halted && !cpus[$0].busy }) {
                // The guest masks the pin (an affinity change in progress), the edge comes, the guest unmasks.
                try writeRTE(by: v, device: i, masked: true)
                try setLine(i, level: true, thread: mainThread)
                try setLine(i, level: false, thread: mainThread)
                try writeRTE(by: v, device: i, masked: false)
                truth("masked-edge-lost", "lost_interrupt", cpu: devices[i].targets[0], vector: devices[i].vector, irq: devices[i].pin,
                      "edge on IOAPIC pin \(devices[i].pin) (\(scenario.devices[i].name)) while the pin was masked: never delivered")
                return
            }
            try setLine(i, level: true, thread: mainThread)
            try setLine(i, level: false, thread: mainThread)
        case .level:
            guard !devices[i].asserted else { return }
            devices[i].asserted = true
            if !remapping, faults.due(F.levelStorm, now) {
                devices[i].stuckHandlings = Self.stormHandlings
                truth("level-storm", "interrupt_storm", cpu: devices[i].targets[0], vector: devices[i].vector, irq: devices[i].pin,
                      "the handler of \(scenario.devices[i].name) does not clear its cause \(Self.stormHandlings) times: IOAPIC pin \(devices[i].pin) stays asserted and every EOI re-delivers it")
            }
            try setLine(i, level: true, thread: mainThread)
        }
    }

    /// Moves one queue of device `i` to another vCPU; false when no vCPU is free to run the guest's code.
    mutating func changeAffinity(_ i: Int) throws -> Bool {
        guard scenario.vcpus > 1 else { return true }
        let (q, newTarget) = pickMove(devices[i].targets)
        if devices[i].kind == .vfio, devices[i].masked[q] { return true }   // masked by its handler: moved another time
        if remapping {
            // The IRTE rewritten in memory, then the interrupt entry cache invalidated (qi_flush_iec).
            devices[i].targets[q] = newTarget
            let index = devices[i].irteIndex[q]
            if faults.due(F.staleIRTE, now), !staleIndices.values.contains(true) {
                // The invalidation is missed: the IOMMU keeps translating with the old entry.
                writeIRTE(i, q, invalidate: false)
                staleIndices[index] = true
            } else {
                writeIRTE(i, q, invalidate: true)
            }
            return true
        }
        if devices[i].kind == .vfio { return try moveVFIOQueue(i, q, to: newTarget) }
        guard devices[i].kind != .msix else {
            devices[i].targets[q] = newTarget  // an MSI-X table write: not traced, only the new dest shows
            return true
        }
        guard let v = cpus.indices.first(where: { !cpus[$0].halted && !cpus[$0].busy }) else { return false }
        devices[i].targets[q] = newTarget
        try writeRTE(by: v, device: i, masked: machine.ioapic.entries[devices[i].pin].masked)
        return true
    }

    // MARK: vCPUs

    mutating func scheduleTake(_ v: Int) {
        guard !cpus[v].takePending, !cpus[v].busy else { return }
        cpus[v].takePending = true
        queue.schedule(.interruptPending(v), at: now + rng.between(500, 3_000))
    }

    mutating func scheduleIdle(_ v: Int) {
        cpus[v].epoch &+= 1
        queue.schedule(.idle(v, cpus[v].epoch), at: now + timing.runNs(&rng))
    }

    /// The vCPU takes the highest deliverable vector (QEMU `apic_get_interrupt`: not traced) and runs its handler.
    mutating func take(_ v: Int) throws {
        guard !cpus[v].busy, machine.deliverable(v) != nil, let vector = machine.apics[v].acknowledge() else { return }
        cpus[v].halted = false
        cpus[v].busy = true
        cpus[v].handling = vector
        cpus[v].epoch &+= 1
        try maskVFIOVector(vector, by: v)
        queue.schedule(.handlerEnd(v, cpus[v].epoch), at: now + timing.handlerNs(&rng))
    }

    /// The handler returns: a level device's cause is cleared (its line drops), then EOI.
    mutating func handlerEnd(_ v: Int) throws {
        let vector = cpus[v].handling
        let t = vcpuThreads[v]
        let di = vectorDevice[Int(vector)]
        if di >= 0, devices[di].kind == .level, devices[di].stuckHandlings > 0 {
            devices[di].stuckHandlings -= 1
        } else if di >= 0, devices[di].kind == .level, devices[di].asserted {
            devices[di].asserted = false
            try setLine(di, level: false, thread: t)
        }
        cpus[v].busy = false
        try unmaskVFIOVector(vector, by: v)
        if !remapping, faults.due(F.rteRewriteInService, now), di >= 0, devices[di].kind == .level, devices[di].stuckHandlings == 0,
           let writer = cpus.indices.first(where: { $0 != v && !cpus[$0].halted && !cpus[$0].busy }) {
            // Another vCPU's affinity code rewrites the RTE to a new vector before this EOI: the EOI
            // of the old vector matches no pin (ioapic_eoi_broadcast) and Remote IRR stays set.
            let d = devices[di]
            let newVector = d.vector + 0x10 > 0xEF ? d.vector - 0x10 : d.vector + 0x10
            devices[di].vector = newVector
            vectorDevice[newVector] = di
            try writeRTE(by: writer, device: di, masked: machine.ioapic.entries[d.pin].masked)
            truth("rte-rewrite-in-service", "remote_irr_stuck", cpu: v, vector: Int(vector), irq: d.pin,
                  "IOAPIC pin \(d.pin) rewritten from vector \(vector) to \(newVector) while \(vector) was in service: its EOI matches no pin and Remote IRR stays set")
        }
        try apicWrite(v, 0xB0, 0)
        let eoi = machine.apics[v].endOfInterrupt()
        if let ev = eoi.vector, eoi.broadcastToIOAPIC {
            // QEMU apic_eoi → ioapic_eoi_broadcast.
            try emit(.ioapicEOIBroadcast, thread: t, Int64(ev))
            for effect in machine.ioapic.endOfInterrupt(vector: ev) {
                switch effect {
                case .remoteIRRCleared(let pin): try emit(.ioapicClearRemoteIRR, thread: t, Int64(pin), Int64(ev))
                case .redelivered(let d): try service(d, thread: t)
                case .delayedRedelivery: break    // 10,000 successive re-deliveries: the guest always clears its cause first
                }
            }
        }
        if machine.deliverable(v) != nil {
            scheduleTake(v)
        } else {
            scheduleIdle(v)
        }
    }

    /// Linux's xAPIC IPI: wait for the ICR to be idle (a read), ICR2 (destination), ICR (vector, fixed, physical).
    mutating func sendIPI(from v: Int) throws {
        guard !cpus[v].halted, scenario.vcpus > 1 else { return }
        let target = (v + 1 + rng.below(scenario.vcpus - 1)) % scenario.vcpus
        let vector = ipiVectors[rng.below(ipiVectors.count)]
        try emit(.apicRead, thread: vcpuThreads[v], 0x300, Int64(cpus[v].icrLow))
        try apicWrite(v, 0x310, UInt32(target) << 24)
        try apicWrite(v, 0x300, UInt32(vector))
        cpus[v].icrLow = UInt32(vector)
        try accept(target, vector, level: false, thread: vcpuThreads[v])
    }
}
