import TraceFormat

/// Replays QEMU's GICv2 trace events (`-trace gic_*`, QEMU 7.2 hw/intc/arm_gic.c) on the GICv2
/// model with QEMU's rules and checks what QEMU reports:
///
/// - stimuli: device lines (`gic_set_irq`, also GICv2m MSIs), distributor writes (`gic_dist_write`),
///   CPU-interface writes (`gic_cpu_write`: CTLR, PMR, BPR, EOIR, DIR) and IAR reads;
/// - observations checked: every CPU's best interrupt after each change (`gic_update_bestirq`: INTID,
///   priority, priority mask, running priority), the IRQ lines raised (`gic_update_set_irq`), every
///   acknowledged INTID (`gic_acknowledge_irq`) and the IAR value the CPU read (`gic_cpu_read` 0xC).
///
/// Distributor accesses do not say which CPU made them, yet SGI/PPI registers are banked per CPU:
/// the CPU is the last one seen on the GIC (a CPU-interface access, an acknowledge, or a read of
/// ITARGETSR0–7, which returns the reading CPU's own bit — how Linux finds its CPU mask).
///
/// With ``recordTransitions`` set it also appends model transitions to ``transitions`` (for the
/// analyzers: lines raised and lowered, interrupts pending at a CPU, merged, acknowledged, priority
/// drops, deactivations, PMR and ITARGETSR writes, edges and SGI sources the GIC lost); it pays
/// nothing for them otherwise.
///
/// After a divergence the model follows QEMU where the trace tells what QEMU did: an IAR value
/// naming another SGI source than the model's (the model's source stays pending, the one QEMU
/// acknowledged does not), and an SGI the model has pending at a CPU that QEMU's update shows not
/// pending there (a second source merged by a faulty GIC: the model drops it, one divergence).
public struct QEMUGICAdapter {
    public internal(set) var gic: GICv2
    public internal(set) var report = ReplayReport(adapter: "qemu-gicv2", behaviour: "qemu")
    /// Lines QEMU must print next, in order (from the last gic_update).
    var expected: [GICv2.Update] = []
    var expectedSetIRQ: [Int] = []
    var context = 0
    var lastIAR: [UInt32]
    /// CPUs whose GIC initialisation is under way: Linux reads ITARGETSR0–7 (its own mask), writes
    /// its banked distributor registers, then programs its CPU interface. Banked writes while exactly
    /// one CPU is in that window are that CPU's, whatever other CPUs do on the GIC meanwhile.
    var initialising = Set<Int>()
    /// SGIs whose sender could not be told from the trace, by `cpu * 16 + sgi`.
    var uncertainSender = Set<Int>()
    /// Recent banked distributor writes credited to the CPU last seen (QEMUGICAdapter-banked.swift).
    var bankedGuesses: [BankedGuess] = []
    var handlers = TemplateHandlers<Kind, Field> { Self.kind(of: $0) }

    /// When set, every model transition is appended to ``transitions`` (for the analyzers); the
    /// consumer drains the buffer as it goes.
    public var recordTransitions = false
    public var transitions = TransitionBuffer()
    /// Edges the current stimulus latched pending at a CPU whose update line the model predicts:
    /// one QEMU does not print was dropped (recorded only with transitions).
    var freshEdges: [(cpu: Int, irq: Int, event: Int, time: Int64)] = []
    /// A divergence was reported since the last change: the expected lines may be misaligned with
    /// QEMU's, so a missing or different line proves nothing about one interrupt.
    var divergedSinceChange = false

    /// What a `delivered` transition's `value` holds (an IAR acknowledge, in the model's terms).
    public struct Ack: Sendable, Equatable {
        /// The CPU's running priority before and after the acknowledge (0x100: idle).
        public var runningBefore: Int
        public var runningAfter: Int
        public var priorityMask: Int
        /// Priority of the interrupt acknowledged, and of the one the model expected (0x100: none).
        public var priority: Int
        public var expectedPriority: Int
        /// ITARGETSR of an SPI (0 for SGIs and PPIs).
        public var targets: UInt8
        /// The model had it pending (and targeted) at this CPU.
        public var modelPending: Bool
        public var levelTriggered: Bool
        /// The model acknowledged the same interrupt.
        public var modelTook: Bool

        public init(runningBefore: Int, runningAfter: Int, priorityMask: Int, priority: Int, expectedPriority: Int, targets: UInt8,
                    modelPending: Bool, levelTriggered: Bool, modelTook: Bool) {
            self.runningBefore = runningBefore
            self.runningAfter = runningAfter
            self.priorityMask = priorityMask
            self.priority = priority
            self.expectedPriority = expectedPriority
            self.targets = targets
            self.modelPending = modelPending
            self.levelTriggered = levelTriggered
            self.modelTook = modelTook
        }

        public init(_ v: Int64) {
            runningBefore = Int(v & 0x1FF)
            runningAfter = Int(v >> 9 & 0x1FF)
            priorityMask = Int(v >> 18 & 0x1FF)
            priority = Int(v >> 27 & 0x1FF)
            expectedPriority = Int(v >> 36 & 0x1FF)
            targets = UInt8(truncatingIfNeeded: v >> 45)
            modelPending = v >> 53 & 1 != 0
            levelTriggered = v >> 54 & 1 != 0
            modelTook = v >> 55 & 1 != 0
        }

        public var packed: Int64 {
            Int64(runningBefore & 0x1FF) | Int64(runningAfter & 0x1FF) << 9 | Int64(priorityMask & 0x1FF) << 18
                | Int64(priority & 0x1FF) << 27 | Int64(expectedPriority & 0x1FF) << 36 | Int64(targets) << 45
                | (modelPending ? 1 << 53 : 0) | (levelTriggered ? 1 << 54 : 0) | (modelTook ? 1 << 55 : 0)
        }
    }

    enum Kind { case setIRQ, distWrite, distRead, cpuWrite, cpuRead, acknowledge, bestIRQ, setIRQLine }
    enum Field: Int, FieldKey { case irq, level, cpumask, target, addr, size, value, cpu, priority, priority_mask, running_priority, line }

    public init(cpus: Int, irqs: Int) {
        gic = GICv2(cpus: cpus, irqs: irqs)
        lastIAR = [UInt32](repeating: GICv2.spurious, count: cpus)
    }

    /// The adapter for a QEMU GICv2 log, its topology taken from GICD_TYPER reads (ITLinesNumber,
    /// CPUNumber) or the CPUs the events name (a first pass).
    public static func forTrace(_ reader: TraceReader) throws -> QEMUGICAdapter {
        var cpus = 1, irqs = 288
        try reader.forEachBatch { b in
            for i in 0..<b.count {
                let t = reader.catalog[b.template(i)]
                guard let binding = t.binding else { continue }
                if let c = binding.source(role: .cpu).flatMap({ b.number(i, $0) }) { cpus = max(cpus, Int(c) + 1) }
                if t.name == "gic_dist_read", binding.source(named: "addr").flatMap({ b.number(i, $0) }) == 4,
                   let v = binding.source(named: "value").flatMap({ b.number(i, $0) }) {
                    irqs = 32 * (Int(v & 0x1F) + 1)
                    cpus = max(cpus, Int((v >> 5) & 7) + 1)
                }
            }
        }
        // GICv2 has at most 8 CPU interfaces and 1020 interrupt IDs; damaged input may name more.
        return QEMUGICAdapter(cpus: min(cpus, 8), irqs: min(irqs, 1020))
    }

    // MARK: transitions

    @inline(__always)
    mutating func note(_ kind: Transition.Kind, _ b: EventBatch, _ i: Int, cpu: Int = -1, irq: Int = -1, value: Int64 = 0, aux: Int64 = 0) {
        guard recordTransitions else { return }
        transitions.append(Transition(kind, event: b.eventIndex(i), time: b.time(i), cpu: Int32(truncatingIfNeeded: cpu),
                                      irq: Int32(truncatingIfNeeded: irq), value: value, aux: aux))
    }

    /// Pending at `cpu` as the analyzers count it: latched pending, or a level interrupt whose line is
    /// high; an SPI only at the CPUs its ITARGETSR names (the ones QEMU's gic_update considers).
    @inline(__always)
    func pendingAt(_ irq: Int, _ cpu: Int) -> Bool {
        let m = UInt8(1 << cpu)
        return (gic.pending[irq] & m != 0 || (!gic.edgeTriggered[irq] && gic.level[irq] & m != 0)) && (irq < 32 || gic.targets[irq] & m != 0)
    }

    func pendingMask(_ irq: Int) -> UInt8 {
        var m: UInt8 = 0
        for c in 0..<gic.cpuCount where pendingAt(irq, c) { m |= UInt8(1 << c) }
        return m
    }

    /// `accepted` for every CPU at which `irq` is pending now and was not in `before`.
    mutating func noteNewlyPending(_ b: EventBatch, _ i: Int, _ irq: Int, before: UInt8) {
        let after = pendingMask(irq)
        guard after & ~before != 0 else { return }
        for c in 0..<gic.cpuCount where after & ~before & UInt8(1 << c) != 0 {
            note(.accepted, b, i, cpu: c, irq: irq, aux: gic.edgeTriggered[irq] ? 0 : 1)
        }
    }

    /// The end of an update's lines (the next stimulus or acknowledge): a fresh edge whose line the
    /// model predicted and QEMU did not print reached the distributor and left no pending state.
    mutating func closeUpdate() {
        guard !freshEdges.isEmpty else { return }
        for e in freshEdges {
            transitions.append(Transition(.dropped, event: e.event, time: e.time, cpu: Int32(e.cpu), irq: Int32(e.irq),
                                          aux: Transition.DropReason.notAccepted.rawValue))
        }
        freshEdges.removeAll(keepingCapacity: true)
    }

    /// QEMU's update shows that an SGI the model has pending at a CPU (the expected line `head`) is not
    /// pending there: `observed` is the line QEMU printed instead (nil: none before the next change).
    /// When dropping the SGI from the model explains what QEMU printed, the model drops it (one
    /// divergence, a `dropped` transition: a second source merged by the GIC) and the expected lines
    /// are recomputed; returns whether it did.
    mutating func phantomSGI(_ b: EventBatch, _ i: Int, head: GICv2.Update, observed: GICv2.Update?) -> Bool {
        guard head.irq < 16, !divergedSinceChange else { return false }
        let sgi = Int(head.irq), k = head.cpu * 16 + sgi
        let sources = gic.sgiSources[k]
        guard sources != 0 else { return false }
        var g = gic
        g.sgiSources[k] = 0
        g.pending[sgi] &= ~UInt8(1 << head.cpu)
        let updates = g.update().filter { $0.cpu >= head.cpu }
        if let o = observed {
            guard var first = updates.first else { return false }
            first.signal = false
            guard first == o else { return false }
        } else if !updates.isEmpty {
            return false
        }
        gic = g
        expected = updates
        let from = (0..<8).filter { sources & (1 << $0) != 0 }.map(String.init).joined(separator: ", ")
        diverge(b, i, "SGI \(sgi) pending at CPU \(head.cpu) (from CPU \(from))", expected: "gic_update_bestirq cpu \(head.cpu) irq \(sgi)",
                observed: observed.map { "cpu \($0.cpu) irq \($0.irq) priority \($0.priority)" } ?? "no update before the next change",
                state: "the GIC does not have it pending (merged into the same SGI from another source?): the model drops it")
        note(.dropped, b, i, cpu: head.cpu, irq: sgi, value: Int64(sources), aux: Transition.DropReason.merged.rawValue)
        return true
    }

    static func kind(of name: String) -> Kind? {
        switch name {
        case "gic_set_irq": .setIRQ
        case "gic_dist_write": .distWrite
        case "gic_dist_read": .distRead
        case "gic_cpu_write": .cpuWrite
        case "gic_cpu_read": .cpuRead
        case "gic_acknowledge_irq": .acknowledge
        case "gic_update_bestirq": .bestIRQ
        case "gic_update_set_irq": .setIRQLine
        default: nil
        }
    }

    mutating func diverge(_ b: EventBatch, _ i: Int, _ what: String, expected: String, observed: String, state: String = "") {
        divergedSinceChange = true
        report.add(Divergence(eventIndex: b.eventIndex(i), timeNs: b.time(i), what: what,
                                             expected: expected, observed: observed, state: state))
    }

    func describe(_ cpu: Int) -> String {
        guard cpu >= 0 && cpu < gic.cpuCount else { return "" }
        return "CPU \(cpu): PMR \(gic.priorityMask[cpu]) running priority \(gic.runningPriority[cpu]) HPPIR \(gic.currentPending[cpu])"
    }

    /// A stimulus: every line the previous update promised must have been seen; then the model
    /// changes and predicts the next lines.
    mutating func stimulus(_ b: EventBatch, _ i: Int, steps: Int = 1, _ change: (inout GICv2, Int) -> Void) {
        if let missing = expected.first, !phantomSGI(b, i, head: missing, observed: nil),
           !repairBanked(observed: nil, predicted: missing, cpu: missing.cpu) {
            diverge(b, i, "best interrupt of CPU \(missing.cpu)", expected: "gic_update_bestirq cpu \(missing.cpu) irq \(missing.irq) priority \(missing.priority)",
                    observed: "not reported before the next change", state: describe(missing.cpu))
        }
        if recordTransitions { closeUpdate() }
        if let cpu = expectedSetIRQ.first {
            diverge(b, i, "IRQ line of CPU \(cpu) raised", expected: "gic_update_set_irq cpu[\(cpu)]: irq = 1",
                    observed: "not reported before the next change", state: describe(cpu))
        }
        expected = []
        expectedSetIRQ = []
        divergedSinceChange = false
        for step in 0..<steps {
            change(&gic, step)
            expected += gic.update()
        }
    }

    public mutating func handle(_ b: EventBatch, _ i: Int, catalog: TemplateCatalog) {
        report.events += 1
        let id = Int(b.template(i))
        guard let (kind, f) = handlers.resolve(UInt32(id), in: catalog) else { return }
        func n(_ field: Field) -> Int64 { handlers.number(f, field, b, i) ?? 0 }
        let cpu = Int(n(.cpu))

        switch kind {
        case .setIRQ:
            let irq = Int(n(.irq)), high = n(.level) != 0, cm = UInt8(truncatingIfNeeded: n(.cpumask)), target = UInt8(truncatingIfNeeded: n(.target))
            guard irq >= 0 && irq < gic.irqCount else { return }
            if (gic.level[irq] & cm != 0) == high { return } // unchanged: QEMU returns before updating
            let before = recordTransitions ? pendingMask(irq) : 0, latched = gic.pending[irq]
            stimulus(b, i) { g, _ in
                if high {
                    g.level[irq] |= cm
                    if g.edgeTriggered[irq] { g.pending[irq] |= target }
                } else {
                    g.level[irq] &= ~cm
                }
            }
            if recordTransitions { noteLine(b, i, irq, high: high, cpuMask: cm, target: target, before: before, latchedBefore: latched) }
        case .distWrite:
            let offset = Int(n(.addr)), value = UInt32(truncatingIfNeeded: n(.value)), size = Int(n(.size))
            var from = context
            let banked = (offset & 0xF80) != 0 && offset < 0x400 && (offset & 0x7F) < 4 || (0x400..<0x420).contains(offset) || (0xC00..<0xC08).contains(offset)
            if banked && initialising.count == 1 { from = initialising.first! }
            if offset == 0xF00 {
                // The sender of an SGI: a CPU lists other CPUs, so with a target list holding the
                // context CPU, the one CPU outside the list sent it; otherwise the sender is uncertain.
                let all = (0..<gic.cpuCount).map { $0 }
                let filter = (value >> 24) & 3, list = Int((value >> 16) & 0xFF)
                let outside = all.filter { list & (1 << $0) == 0 }
                if filter == 0 && list & (1 << context) != 0 && outside.count == 1 {
                    from = outside[0]
                } else if !(filter == 0 && list & (1 << context) == 0 && gic.cpuCount == 2) {
                    let targets = filter == 0 ? all.filter { list & (1 << $0) != 0 } : all
                    for t in targets { uncertainSender.insert(t * 16 + Int(value & 0xF)) }
                }
            }
            if offset == 0xF00 {
                let sgi = Int(value & 0xF), sources = recordTransitions ? (0..<gic.cpuCount).map { gic.sgiSources[$0 * 16 + sgi] } : []
                stimulus(b, i) { g, _ in g.writeDistributor(offset: offset, value: value, cpu: from) }
                if recordTransitions { noteSGI(b, i, sgi: sgi, from: from, value: value, sourcesBefore: sources) }
            } else {
                // Interrupts whose pending state at a CPU the write may change (ISPENDR, ITARGETSR).
                var touched: [(irq: Int, before: UInt8, targets: UInt8)] = []
                if recordTransitions {
                    if (0x200..<0x280).contains(offset) {
                        for bit in 0..<(8 * max(1, size)) where value & (1 << UInt32(bit)) != 0 {
                            let irq = (offset - 0x200) * 8 + bit
                            if irq >= 16 && irq < gic.irqCount { touched.append((irq, pendingMask(irq), gic.targets[irq])) }
                        }
                    } else if (0x820..<0xC00).contains(offset) {
                        for k in 0..<max(1, size) where offset - 0x800 + k < gic.irqCount {
                            let irq = offset - 0x800 + k
                            touched.append((irq, pendingMask(irq), gic.targets[irq]))
                        }
                    }
                }
                let guessed = Self.isRepairableBanked(offset) && gic.cpuCount > 1 ? Bank(gic, cpu: from) : nil
                // QEMU splits a word or half-word write into byte writes, each followed by gic_update.
                stimulus(b, i, steps: max(1, size)) { g, k in
                    g.writeDistributor(offset: offset + k, value: (value >> UInt32(8 * k)) & 0xFF, cpu: from, size: 1)
                }
                if let guessed { rememberBanked(offset: offset, size: max(1, size), value: value, credited: from, before: guessed) }
                for t in touched {
                    if t.irq >= 32 && (0x820..<0xC00).contains(offset) && gic.targets[t.irq] != t.targets {
                        note(.routeWritten, b, i, irq: t.irq, value: Int64(gic.targets[t.irq]), aux: Int64(t.targets))
                    }
                    noteNewlyPending(b, i, t.irq, before: t.before)
                }
            }
        case .distRead:
            let offset = Int(n(.addr)), value = UInt32(truncatingIfNeeded: n(.value))
            report.observationsTotal += 1
            if let expected = gic.readDistributor(offset: offset, size: max(1, Int(n(.size)))) {
                report.observationsChecked += 1
                if expected != value {
                    diverge(b, i, "distributor read at 0x\(String(offset, radix: 16))", expected: "0x\(String(expected, radix: 16))",
                            observed: "0x\(String(value, radix: 16))", state: "")
                }
            } else {
                report.unchecked["gic_dist_read (CTLR, TYPER or banked: the reading CPU is not named)", default: 0] += 1
            }
            if (0x800..<0x820).contains(offset), value & 0xFF != 0, (value & 0xFF).nonzeroBitCount == 1 {
                context = (value & 0xFF).trailingZeroBitCount
                initialising.insert(context)
            }
        case .cpuWrite:
            guard cpu >= 0 && cpu < gic.cpuCount else { return }
            context = cpu
            initialising.remove(cpu)
            let offset = Int(n(.addr)), value = UInt32(truncatingIfNeeded: n(.value))
            let running = gic.runningPriority[cpu], intid = Int(value & 0x3FF)
            let wasActive = intid < gic.irqCount && gic.active[intid] & UInt8(1 << cpu) != 0
            stimulus(b, i) { g, _ in g.writeCPUInterface(cpu: cpu, offset: offset, value: value) }
            if recordTransitions {
                switch offset {
                case 0x04:
                    note(.priorityWritten, b, i, cpu: cpu, value: Int64(value & 0xFF))
                case 0x10, 0x1000:
                    // EOIR drops the running priority (QEMU ignores it with none active or for an ID out
                    // of range); with EOImode 0 it also deactivates, as DIR does with EOImode 1.
                    if offset == 0x10 && intid < gic.irqCount && running != GICv2.idlePriority {
                        note(.eoi, b, i, cpu: cpu, irq: intid, value: Int64(gic.runningPriority[cpu]), aux: Int64(running))
                    }
                    if wasActive && gic.active[intid] & UInt8(1 << cpu) == 0 { note(.deactivated, b, i, cpu: cpu, irq: intid) }
                default:
                    break
                }
            }
        case .acknowledge:
            guard cpu >= 0 && cpu < gic.cpuCount else { return }
            context = cpu
            report.observationsTotal += 1
            report.observationsChecked += 1
            if let missing = expected.first, !phantomSGI(b, i, head: missing, observed: nil) {
                diverge(b, i, "best interrupt of CPU \(missing.cpu)", expected: "gic_update_bestirq cpu \(missing.cpu) irq \(missing.irq)",
                        observed: "not reported before the acknowledge", state: describe(missing.cpu))
                expected = []
            }
            if recordTransitions { closeUpdate() }
            if let line = expectedSetIRQ.first {
                diverge(b, i, "IRQ line of CPU \(line) raised", expected: "gic_update_set_irq cpu[\(line)]: irq = 1",
                        observed: "not reported before the acknowledge", state: describe(line))
                expectedSetIRQ = []
            }
            divergedSinceChange = false
            let predicted = gic.currentPending[cpu]
            let observed = UInt32(truncatingIfNeeded: n(.irq))
            let running = gic.runningPriority[cpu], seen = Int(observed)
            let wasPending = recordTransitions && seen < gic.irqCount && pendingAt(seen, cpu)
            let iar = gic.acknowledge(cpu: cpu)
            lastIAR[cpu] = iar
            if recordTransitions {
                if seen < gic.irqCount {
                    let ack = Ack(runningBefore: running, runningAfter: gic.runningPriority[cpu], priorityMask: gic.priorityMask[cpu],
                                  priority: gic.priority(seen, cpu: cpu),
                                  expectedPriority: predicted < UInt32(gic.irqCount) ? gic.priority(Int(predicted), cpu: cpu) : GICv2.idlePriority,
                                  targets: seen >= 32 ? gic.targets[seen] : 0, modelPending: wasPending, levelTriggered: !gic.edgeTriggered[seen],
                                  modelTook: iar & 0x3FF == observed)
                    note(.delivered, b, i, cpu: cpu, irq: seen, value: ack.packed, aux: Int64(predicted))
                    // Still pending here (a level line still high, another SGI source): pending anew.
                    if ack.modelTook && pendingAt(seen, cpu) {
                        note(.accepted, b, i, cpu: cpu, irq: seen, value: seen < 16 ? Int64(gic.sgiSources[cpu * 16 + seen].trailingZeroBitCount) : 0,
                             aux: gic.edgeTriggered[seen] ? 0 : 1)
                    }
                } else {
                    note(.delivered, b, i, cpu: cpu, irq: seen, aux: Int64(predicted))
                }
            }
            if iar & 0x3FF != observed {
                diverge(b, i, "interrupt acknowledged by CPU \(cpu)", expected: "\(iar & 0x3FF)", observed: "\(observed)",
                        state: describe(cpu) + " (HPPIR before: \(predicted))")
            }
            if iar != GICv2.spurious { expected = gic.update() }
        case .cpuRead:
            guard cpu >= 0 && cpu < gic.cpuCount, n(.addr) == 0xC else { return }
            report.observationsTotal += 1
            report.observationsChecked += 1
            let value = UInt32(truncatingIfNeeded: n(.value))
            let sgi = Int(value & 0x3FF)
            if value != lastIAR[cpu] && value & 0x3FF == lastIAR[cpu] & 0x3FF && sgi < 16 && uncertainSender.remove(cpu * 16 + sgi) != nil {
                report.observationsChecked -= 1
                report.unchecked["gic_cpu_read IAR source CPU (the SGI's sender is not in the trace)", default: 0] += 1
            } else if value != lastIAR[cpu] {
                diverge(b, i, "IAR read by CPU \(cpu)", expected: "0x\(String(lastIAR[cpu], radix: 16))", observed: "0x\(String(value, radix: 16))")
            }
            if value != lastIAR[cpu] && value & 0x3FF == lastIAR[cpu] & 0x3FF && sgi < 16 {
                // QEMU acknowledged another source of the SGI than the model: when the model has that
                // source pending too, it keeps its own source pending instead (it follows QEMU).
                let k = cpu * 16 + sgi, mine = UInt8(1 << ((lastIAR[cpu] >> 10) & 7)), theirs = UInt8(1 << ((value >> 10) & 7))
                if gic.sgiSources[k] & theirs != 0 {
                    gic.sgiSources[k] = gic.sgiSources[k] & ~theirs | mine
                }
            }
        case .bestIRQ:
            report.observationsTotal += 1
            report.observationsChecked += 1
            let observed = GICv2.Update(cpu: cpu, irq: UInt32(truncatingIfNeeded: n(.irq)), priority: Int(n(.priority)),
                                        priorityMask: Int(n(.priority_mask)), runningPriority: Int(n(.running_priority)), signal: false)
            if recordTransitions && !freshEdges.isEmpty { freshEdges.removeAll { $0.cpu == cpu && $0.irq == Int(observed.irq) } }
            guard var head = expected.first else {
                if repairBanked(observed: observed, predicted: nil, cpu: cpu) { return }
                diverge(b, i, "best interrupt of CPU \(cpu)", expected: "no update", observed: "irq \(observed.irq) priority \(observed.priority)", state: describe(cpu))
                return
            }
            var unsignalled = head
            unsignalled.signal = false
            if unsignalled != observed, phantomSGI(b, i, head: head, observed: observed), let h = expected.first { head = h }
            unsignalled = head
            unsignalled.signal = false
            if unsignalled != observed, !divergedSinceChange, repairBanked(observed: observed, predicted: head, cpu: cpu) { return }
            expected.removeFirst()
            var h = head
            h.signal = false
            if h != observed {
                diverge(b, i, "best interrupt of CPU \(cpu)",
                        expected: "cpu \(head.cpu) irq \(head.irq) priority \(head.priority) mask \(head.priorityMask) running \(head.runningPriority)",
                        observed: "cpu \(cpu) irq \(observed.irq) priority \(observed.priority) mask \(observed.priorityMask) running \(observed.runningPriority)",
                        state: describe(cpu))
            }
            if head.signal { expectedSetIRQ.append(head.cpu) }
        case .setIRQLine:
            report.observationsTotal += 1
            report.observationsChecked += 1
            if let k = expectedSetIRQ.firstIndex(of: cpu) {
                expectedSetIRQ.remove(at: k)
            } else {
                diverge(b, i, "IRQ line of CPU \(cpu) raised", expected: "line not raised", observed: "gic_update_set_irq", state: describe(cpu))
            }
        }
    }

    /// Transitions of a `gic_set_irq`: the line raised (pending at CPUs, coalesced into a latched
    /// edge) or lowered.
    mutating func noteLine(_ b: EventBatch, _ i: Int, _ irq: Int, high: Bool, cpuMask cm: UInt8, target: UInt8, before: UInt8, latchedBefore: UInt8) {
        let edge = gic.edgeTriggered[irq]
        guard high else {
            note(.lineLowered, b, i, irq: irq, value: Int64(before & ~pendingMask(irq)), aux: edge ? 0 : 1)
            return
        }
        note(.raised, b, i, irq: irq, value: Int64(target), aux: Int64(irq >= 32 ? gic.targets[irq] : cm))
        let after = pendingMask(irq)
        for c in 0..<gic.cpuCount {
            let m = UInt8(1 << c)
            if after & m != 0 && before & m == 0 {
                note(.accepted, b, i, cpu: c, irq: irq, aux: edge ? 0 : 1)
                if edge && latchedBefore & m == 0 && expected.contains(where: { $0.cpu == c && $0.irq == UInt32(irq) }) {
                    freshEdges.append((c, irq, b.eventIndex(i), b.time(i)))
                }
            } else if edge && target & m != 0 && latchedBefore & m != 0 && (irq < 32 || gic.targets[irq] & m != 0) {
                note(.coalesced, b, i, cpu: c, irq: irq)
            }
        }
    }

    /// Transitions of a GICD_SGIR write from `from`: raised, and per target a source pending
    /// (accepted) or already pending (coalesced).
    mutating func noteSGI(_ b: EventBatch, _ i: Int, sgi: Int, from: Int, value: UInt32, sourcesBefore: [UInt8]) {
        let all = UInt8(truncatingIfNeeded: (1 << gic.cpuCount) - 1)
        let mask: UInt8
        switch (value >> 24) & 3 {
        case 0: mask = UInt8(truncatingIfNeeded: value >> 16) & all
        case 1: mask = all & ~UInt8(1 << from)
        case 2: mask = UInt8(1 << from)
        default: mask = all
        }
        note(.raised, b, i, irq: sgi, value: Int64(mask), aux: Int64(from))
        let s = UInt8(1 << from)
        for c in 0..<gic.cpuCount where mask & UInt8(1 << c) != 0 {
            note(sourcesBefore[c] & s != 0 ? .coalesced : .accepted, b, i, cpu: c, irq: sgi, value: Int64(from))
        }
    }

    public mutating func finish() -> ReplayReport {
        if recordTransitions { closeUpdate() }
        var d = StateDigest()
        for k in 0..<gic.irqCount { d.combine(UInt64(gic.enabled[k]) | UInt64(gic.pending[k]) << 8 | UInt64(gic.active[k]) << 16 | UInt64(gic.level[k]) << 24) }
        for c in 0..<gic.cpuCount { d.combine(gic.runningPriority[c]); d.combine(gic.priorityMask[c]) }
        report.digest = d.value
        return report
    }
}
