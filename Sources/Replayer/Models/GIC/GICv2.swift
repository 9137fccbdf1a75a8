/// A GICv2 distributor and its CPU interfaces, as QEMU's hw/intc/arm_gic.c implements them
/// (semantics.md §5), without the security and virtualization extensions: per-interrupt enable,
/// pending, active and line level per CPU, priorities (banked for SGIs and PPIs), SPI targets,
/// edge/level configuration, SGIs with per-source pending state, and per CPU the priority mask,
/// binary point, active priorities and running priority.
public struct GICv2: Hashable, Sendable, Codable {
    public static let spurious: UInt32 = 1023
    public static let idlePriority = 0x100

    public let cpuCount: Int
    public let irqCount: Int
    /// 1-N for SPIs (the spec: one CPU's acknowledge removes the pending state for all) instead of
    /// QEMU's GICv2 behaviour (pending cleared only on the acknowledging CPU).
    public var oneOfN = false

    /// GICD_CTLR bit 0 (group enable; this model has one group).
    public var distributorEnabled = false
    // Per IRQ, CPU bitmasks.
    public var enabled: [UInt8]
    public var pending: [UInt8]
    public var active: [UInt8]
    public var level: [UInt8]
    public var edgeTriggered: [Bool]
    /// Priorities of SGIs and PPIs per CPU (`[cpu * 32 + irq]`), and of SPIs (`[irq - 32]`).
    public var bankedPriority: [UInt8]
    public var spiPriority: [UInt8]
    /// ITARGETSR of SPIs.
    public var targets: [UInt8]
    /// Pending SGI sources: `[cpu * 16 + sgi]` → bitmask of sender CPUs.
    public var sgiSources: [UInt8]

    // CPU interfaces.
    public var cpuEnabled: [Bool]
    /// EOImode (GICC_CTLR bit 9): EOIR only drops priority; DIR deactivates.
    public var splitEOI: [Bool]
    public var priorityMask: [Int]
    public var binaryPoint: [Int]
    public var runningPriority: [Int]
    /// Active priorities (GICC_APR0–3: one bit per preemption level, priority >> 1).
    public var activePriorities: [UInt128]
    /// HPPIR: the interrupt the CPU would acknowledge (1023 when none).
    public var currentPending: [UInt32]

    public init(cpus: Int, irqs: Int = 288) {
        cpuCount = cpus
        irqCount = irqs
        enabled = [UInt8](repeating: 0, count: irqs)
        pending = [UInt8](repeating: 0, count: irqs)
        active = [UInt8](repeating: 0, count: irqs)
        level = [UInt8](repeating: 0, count: irqs)
        edgeTriggered = (0..<irqs).map { $0 < 16 }
        bankedPriority = [UInt8](repeating: 0, count: cpus * 32)
        spiPriority = [UInt8](repeating: 0, count: max(0, irqs - 32))
        targets = [UInt8](repeating: 0, count: irqs)
        sgiSources = [UInt8](repeating: 0, count: cpus * 16)
        cpuEnabled = [Bool](repeating: false, count: cpus)
        splitEOI = [Bool](repeating: false, count: cpus)
        priorityMask = [Int](repeating: 0, count: cpus)
        binaryPoint = [Int](repeating: 0, count: cpus) // GIC_MIN_BPR
        runningPriority = [Int](repeating: Self.idlePriority, count: cpus)
        activePriorities = [UInt128](repeating: 0, count: cpus)
        currentPending = [UInt32](repeating: Self.spurious, count: cpus)
        // SGIs are always enabled in QEMU.
        for irq in 0..<16 { enabled[irq] = 0xFF }
    }

    public func priority(_ irq: Int, cpu: Int) -> Int {
        irq < 32 ? Int(bankedPriority[cpu * 32 + irq]) : Int(spiPriority[irq - 32])
    }

    /// Pending for `cpu`: latched, or a level interrupt whose line is high (QEMU `gic_test_pending`).
    func isPending(_ irq: Int, _ cm: UInt8) -> Bool {
        pending[irq] & cm != 0 || (!edgeTriggered[irq] && level[irq] & cm != 0)
    }

    /// The best interrupt of one CPU (QEMU `gic_update`): highest-priority enabled, pending, not
    /// active interrupt targeting the CPU; ties go to the lowest INTID.
    public func bestInterrupt(cpu: Int) -> (irq: UInt32, priority: Int) {
        withUnsafeTemporaryAllocation(of: (irq: UInt32, priority: Int).self, capacity: cpu + 1) { best in
            best[cpu] = (Self.spurious, Self.idlePriority)
            scanBest(cpus: UInt8(1) << UInt8(cpu), into: best)
            return best[cpu]
        }
    }

    /// ``bestInterrupt(cpu:)`` of every CPU in `cpus` (a bitmask) in one scan of the pending and
    /// level bytes, written to `best[cpu]` (which the caller initialises to spurious / idle).
    /// Most interrupts have neither a latch nor a line up for any CPU: 32 are skipped at a time
    /// when none has (four words of pending and level bits, one byte per interrupt, tested with one
    /// branch: a simulated run has a handful of its 288 interrupts pending, and the eight-at-a-time
    /// loop's 36 branches per scan were ~20 % of an arm64 simulation), then eight at a time; the
    /// candidates are tested in INTID order, so a strictly better priority is what replaces a
    /// CPU's best (ties: lowest INTID).
    private func scanBest(cpus want: UInt8, into best: UnsafeMutableBufferPointer<(irq: UInt32, priority: Int)>) {
        let wide = UInt64(want) &* 0x0101_0101_0101_0101
        pending.withUnsafeBytes { pend in
            level.withUnsafeBytes { lvl in
                @inline(__always) func word(_ offset: Int) -> UInt64 {
                    pend.loadUnaligned(fromByteOffset: offset, as: UInt64.self) | lvl.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                }
                var base = 0
                while base < irqCount {
                    if base + 32 <= irqCount, (word(base) | word(base + 8) | word(base + 16) | word(base + 24)) & wide == 0 {
                        base += 32
                        continue
                    }
                    let end = min(base + 8, irqCount)
                    if end - base == 8, word(base) & wide == 0 {
                        base = end
                        continue
                    }
                    for irq in base..<end {
                        var m = (pend[irq] | lvl[irq]) & want
                        while m != 0 {
                            let cpu = m.trailingZeroBitCount
                            m &= m &- 1
                            let cm = UInt8(1) << UInt8(cpu)
                            guard enabled[irq] & cm != 0 && isPending(irq, cm) && active[irq] & cm == 0 else { continue }
                            guard irq < 32 || targets[irq] & cm != 0 else { continue }
                            let p = priority(irq, cpu: cpu)
                            if p < best[cpu].priority { best[cpu] = (UInt32(irq), p) }
                        }
                    }
                    base = end
                }
            }
        }
    }

    /// What one CPU's `gic_update` does: the best interrupt, and whether the IRQ line goes up.
    public struct Update: Hashable, Sendable, Codable {
        public var cpu: Int
        public var irq: UInt32
        public var priority: Int
        public var priorityMask: Int
        public var runningPriority: Int
        public var signal: Bool
    }

    /// Recomputes every CPU's pending interrupt and IRQ line; returns, for each CPU whose
    /// distributor and CPU interface are enabled and that has a best interrupt, what QEMU traces
    /// (`gic_update_bestirq`, then `gic_update_set_irq` when the line is raised).
    @discardableResult
    public mutating func update() -> [Update] {
        var out: [Update] = []
        update(into: &out)
        return out
    }

    /// ``update()`` into `out` (emptied first, its capacity kept): for a caller that updates on
    /// every event (the simulator), where a new array per update was a malloc and a free each time.
    public mutating func update(into out: inout [Update]) {
        // Emptied by popLast (at most one per CPU): removeAll(keepingCapacity:) is a
        // replaceSubrange call, which costs more than the update's scan of a few CPUs.
        while out.popLast() != nil {}
        var want: UInt8 = 0
        if distributorEnabled {
            for cpu in 0..<cpuCount where cpuEnabled[cpu] { want |= UInt8(1) << UInt8(cpu) }
        }
        withUnsafeTemporaryAllocation(of: (irq: UInt32, priority: Int).self, capacity: cpuCount) { best in
            best.initialize(repeating: (Self.spurious, Self.idlePriority))
            if want != 0 { scanBest(cpus: want, into: best) }
            for cpu in 0..<cpuCount {
                currentPending[cpu] = Self.spurious
                guard want & UInt8(1) << UInt8(cpu) != 0 else { continue }
                let (irq, p) = best[cpu]
                var signal = false
                if p < priorityMask[cpu] {
                    currentPending[cpu] = irq
                    signal = p < runningPriority[cpu]
                }
                if irq != Self.spurious {
                    out.append(Update(cpu: cpu, irq: irq, priority: p, priorityMask: priorityMask[cpu],
                                      runningPriority: runningPriority[cpu], signal: signal))
                }
            }
        }
    }

    /// Group priority: the priority with the bits below the binary point cleared.
    func groupPriority(_ p: Int, cpu: Int) -> Int { p & ~0 << ((binaryPoint[cpu] & 7) + 1) }

    /// A read of GICC_IAR (QEMU `gic_acknowledge_irq`): the INTID (with the SGI source in bits 12:10),
    /// or 1023 when nothing can preempt the running priority.
    public mutating func acknowledge(cpu: Int) -> UInt32 {
        let irq = currentPending[cpu]
        guard irq < UInt32(irqCount) else { return irq }
        let i = Int(irq)
        guard priority(i, cpu: cpu) < runningPriority[cpu] else { return Self.spurious }
        let cm = UInt8(1 << cpu)
        // Activate: running priority and active priority bit.
        let gp = groupPriority(priority(i, cpu: cpu), cpu: cpu)
        activePriorities[cpu] |= 1 << UInt128((gp >> 1) & 127)
        runningPriority[cpu] = gp
        active[i] |= cm
        var result = irq
        if i < 16 {
            let k = cpu * 16 + i
            let source = sgiSources[k].trailingZeroBitCount
            sgiSources[k] &= ~(1 << UInt8(source))
            if sgiSources[k] == 0 { pending[i] &= ~cm }
            result |= UInt32(source & 7) << 10
        } else {
            pending[i] &= oneOfN && i >= 32 ? 0 : ~cm
        }
        return result
    }

    /// A write to GICC_EOIR (QEMU `gic_complete_irq`): drops the running priority to the next
    /// active priority, and deactivates the interrupt unless EOImode splits it off to DIR.
    public mutating func endOfInterrupt(cpu: Int, value: UInt32) {
        let irq = Int(value & 0x3FF)
        guard irq < irqCount, runningPriority[cpu] != Self.idlePriority else { return }
        if activePriorities[cpu] != 0 {
            activePriorities[cpu] &= activePriorities[cpu] - 1 // clear the lowest set bit: the highest active priority
        }
        runningPriority[cpu] = activePriorities[cpu] == 0 ? Self.idlePriority : activePriorities[cpu].trailingZeroBitCount << 1
        if !splitEOI[cpu] { deactivate(irq, cpu: cpu) }
    }

    /// A write to GICC_DIR: deactivates (only with EOImode).
    public mutating func deactivateWrite(cpu: Int, value: UInt32) {
        let irq = Int(value & 0x3FF)
        guard irq < irqCount, splitEOI[cpu] else { return }
        deactivate(irq, cpu: cpu)
    }

    mutating func deactivate(_ irq: Int, cpu: Int) {
        if irq < 32 { active[irq] &= ~UInt8(1 << cpu) } else { active[irq] = 0 }
    }

    /// A device line change (QEMU `gic_set_irq`): SPIs go to their targets, PPIs to `cpuMask`;
    /// an edge interrupt latches pending on a rising edge, a level one is pending while high.
    public mutating func setLine(_ irq: Int, high: Bool, cpuMask: UInt8) {
        guard irq < irqCount else { return }
        let cm: UInt8 = irq >= 32 ? 0xFF : cpuMask
        let target: UInt8 = irq >= 32 ? targets[irq] : cpuMask
        if high {
            if edgeTriggered[irq] && level[irq] & cm == 0 { pending[irq] |= target }
            level[irq] |= cm
        } else {
            level[irq] &= ~cm
        }
    }

    /// A write to GICD_SGIR from `sender` (QEMU `gic_dist_writel` 0xF00; filter 3 targets every CPU, a QEMU quirk).
    public mutating func softwareInterrupt(from sender: Int, value: UInt32) {
        let irq = Int(value & 0xF)
        let all = UInt8(truncatingIfNeeded: (1 << cpuCount) - 1)
        let mask: UInt8
        switch (value >> 24) & 3 {
        case 0: mask = UInt8(truncatingIfNeeded: value >> 16)
        case 1: mask = all & ~UInt8(1 << sender)
        case 2: mask = UInt8(1 << sender)
        default: mask = all
        }
        pending[irq] |= mask
        for cpu in 0..<cpuCount where mask & (1 << cpu) != 0 { sgiSources[cpu * 16 + irq] |= UInt8(1 << sender) }
    }

    /// A 32-bit distributor write at `offset` from `cpu` (banked registers are that CPU's).
    public mutating func writeDistributor(offset: Int, value: UInt32, cpu: Int, size: Int = 4) {
        func bits(_ base: Int) -> [Int] { (0..<32).filter { value & (1 << UInt32($0)) != 0 }.map { (offset - base) * 8 + $0 } }
        let cm = UInt8(1 << cpu)
        switch offset {
        case 0x000: distributorEnabled = value & 1 != 0
        case 0x100..<0x180: for irq in bits(0x100) where irq >= 16 && irq < irqCount { enabled[irq] |= irq < 32 ? cm : 0xFF }
        case 0x180..<0x200: for irq in bits(0x180) where irq >= 16 && irq < irqCount { enabled[irq] &= irq < 32 ? ~cm : 0 }
        case 0x200..<0x280: for irq in bits(0x200) where irq >= 16 && irq < irqCount { pending[irq] |= irq < 32 ? cm : targets[irq] }
        case 0x280..<0x300: for irq in bits(0x280) where irq >= 16 && irq < irqCount { pending[irq] &= irq < 32 ? ~cm : 0 }
        case 0x300..<0x380: for irq in bits(0x300) where irq < irqCount { active[irq] |= irq < 32 ? cm : targets[irq] }
        case 0x380..<0x400: for irq in bits(0x380) where irq < irqCount { active[irq] &= irq < 32 ? ~cm : 0 }
        case 0x400..<0x800:
            for k in 0..<size {
                let irq = offset - 0x400 + k
                guard irq < irqCount else { continue }
                let p = UInt8(truncatingIfNeeded: value >> UInt32(8 * k))
                if irq < 32 { bankedPriority[cpu * 32 + irq] = p } else { spiPriority[irq - 32] = p }
            }
        case 0x800..<0xC00:
            for k in 0..<size {
                let irq = offset - 0x800 + k
                if irq >= 32 && irq < irqCount { targets[irq] = UInt8(truncatingIfNeeded: value >> UInt32(8 * k)) }
            }
        case 0xC00..<0xD00:
            for k in 0..<(4 * size) {
                let irq = (offset - 0xC00) * 4 + k
                if irq >= 16 && irq < irqCount { edgeTriggered[irq] = value & (2 << UInt32(2 * k)) != 0 }
            }
        case 0xF00: softwareInterrupt(from: cpu, value: value)
        default: break
        }
    }

    /// What a distributor read returns (QEMU `gic_dist_readb`, byte by byte), for the registers whose
    /// value does not depend on which CPU reads: ISENABLER/ISPENDR/ISACTIVER, IPRIORITYR and ITARGETSR
    /// of SPIs, and ICFGR (edge bit per interrupt; the 1:N model bit reads 0 on GICv2). Nil otherwise
    /// (CTLR, TYPER, banked SGI/PPI state, SGIR, reserved).
    public func readDistributor(offset: Int, size: Int) -> UInt32? {
        var out: UInt32 = 0
        for k in 0..<max(1, size) {
            let o = offset + k
            var byte: UInt32
            switch o {
            case 0x100..<0x380:
                let base = o < 0x200 ? 0x100 : o < 0x300 ? 0x200 : 0x300
                let group = (o - base) % 0x80, first = group * 8
                guard first >= 32, first + 8 <= irqCount else { return nil }
                let table = base == 0x100 ? enabled : base == 0x200 ? pending : active
                byte = 0
                for b in 0..<8 where table[first + b] != 0 { byte |= 1 << UInt32(b) }
                if base == 0x200 {
                    // QEMU's pending read of a level interrupt also shows a high line.
                    for b in 0..<8 where !edgeTriggered[first + b] && level[first + b] != 0 { byte |= 1 << UInt32(b) }
                }
            case 0x420..<0x800:
                let irq = o - 0x400
                guard irq < irqCount else { return nil }
                byte = UInt32(spiPriority[irq - 32])
            case 0x820..<0xC00:
                let irq = o - 0x800
                guard irq < irqCount else { return nil }
                byte = UInt32(targets[irq])
            case 0xC00..<0xD00:
                let first = (o - 0xC00) * 4
                guard first + 4 <= irqCount else { return nil }
                byte = 0
                for b in 0..<4 where edgeTriggered[first + b] { byte |= 2 << UInt32(2 * b) }
            default: return nil
            }
            out |= byte << UInt32(8 * k)
        }
        return out
    }

    /// A CPU-interface write at `offset` (CTLR, PMR, BPR, EOIR, DIR).
    public mutating func writeCPUInterface(cpu: Int, offset: Int, value: UInt32) {
        switch offset {
        case 0x00:
            cpuEnabled[cpu] = value & 1 != 0
            splitEOI[cpu] = value & (1 << 9) != 0
        case 0x04: priorityMask[cpu] = Int(value & 0xFF)
        case 0x08: binaryPoint[cpu] = Int(value & 7)
        case 0x10: endOfInterrupt(cpu: cpu, value: value)
        case 0x1000: deactivateWrite(cpu: cpu, value: value)
        default: break
        }
    }
}
