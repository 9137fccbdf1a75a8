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
public struct QEMUGICAdapter {
    public private(set) var gic: GICv2
    public private(set) var report = ReplayReport(adapter: "qemu-gicv2", behaviour: "qemu")
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
    var handlers = TemplateHandlers<Kind, Field> { Self.kind(of: $0) }

    enum Kind { case setIRQ, distWrite, distRead, cpuWrite, cpuRead, acknowledge, bestIRQ, setIRQLine }
    enum Field: Int, FieldKey { case irq, level, cpumask, target, addr, size, value, cpu, priority, priority_mask, running_priority, line }

    public init(cpus: Int, irqs: Int) {
        gic = GICv2(cpus: cpus, irqs: irqs)
        lastIAR = [UInt32](repeating: GICv2.spurious, count: cpus)
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
        report.divergences.append(Divergence(eventIndex: b.firstEventIndex + i, timeNs: b.times[i], what: what,
                                             expected: expected, observed: observed, state: state))
    }

    func describe(_ cpu: Int) -> String {
        guard cpu >= 0 && cpu < gic.cpuCount else { return "" }
        return "CPU \(cpu): PMR \(gic.priorityMask[cpu]) running priority \(gic.runningPriority[cpu]) HPPIR \(gic.currentPending[cpu])"
    }

    /// A stimulus: every line the previous update promised must have been seen; then the model
    /// changes and predicts the next lines.
    mutating func stimulus(_ b: EventBatch, _ i: Int, steps: Int = 1, _ change: (inout GICv2, Int) -> Void) {
        if let missing = expected.first {
            diverge(b, i, "best interrupt of CPU \(missing.cpu)", expected: "gic_update_bestirq cpu \(missing.cpu) irq \(missing.irq) priority \(missing.priority)",
                    observed: "not reported before the next change", state: describe(missing.cpu))
        }
        if let cpu = expectedSetIRQ.first {
            diverge(b, i, "IRQ line of CPU \(cpu) raised", expected: "gic_update_set_irq cpu[\(cpu)]: irq = 1",
                    observed: "not reported before the next change", state: describe(cpu))
        }
        expected = []
        expectedSetIRQ = []
        for step in 0..<steps {
            change(&gic, step)
            expected += gic.update()
        }
    }

    public mutating func handle(_ b: EventBatch, _ i: Int, catalog: TemplateCatalog) {
        report.events += 1
        let id = Int(b.templates[i])
        guard let (kind, f) = handlers.resolve(UInt32(id), in: catalog) else { return }
        func n(_ field: Field) -> Int64 { f.number(field, b, i) ?? 0 }
        let cpu = Int(n(.cpu))

        switch kind {
        case .setIRQ:
            let irq = Int(n(.irq)), high = n(.level) != 0, cm = UInt8(truncatingIfNeeded: n(.cpumask)), target = UInt8(truncatingIfNeeded: n(.target))
            guard irq >= 0 && irq < gic.irqCount else { return }
            if (gic.level[irq] & cm != 0) == high { return } // unchanged: QEMU returns before updating
            stimulus(b, i) { g, _ in
                if high {
                    g.level[irq] |= cm
                    if g.edgeTriggered[irq] { g.pending[irq] |= target }
                } else {
                    g.level[irq] &= ~cm
                }
            }
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
                stimulus(b, i) { g, _ in g.writeDistributor(offset: offset, value: value, cpu: from) }
            } else {
                // QEMU splits a word or half-word write into byte writes, each followed by gic_update.
                stimulus(b, i, steps: max(1, size)) { g, k in
                    g.writeDistributor(offset: offset + k, value: (value >> UInt32(8 * k)) & 0xFF, cpu: from, size: 1)
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
            stimulus(b, i) { g, _ in g.writeCPUInterface(cpu: cpu, offset: offset, value: value) }
        case .acknowledge:
            guard cpu >= 0 && cpu < gic.cpuCount else { return }
            context = cpu
            report.observationsTotal += 1
            report.observationsChecked += 1
            if let missing = expected.first {
                diverge(b, i, "best interrupt of CPU \(missing.cpu)", expected: "gic_update_bestirq cpu \(missing.cpu) irq \(missing.irq)",
                        observed: "not reported before the acknowledge", state: describe(missing.cpu))
                expected = []
            }
            if let line = expectedSetIRQ.first {
                diverge(b, i, "IRQ line of CPU \(line) raised", expected: "gic_update_set_irq cpu[\(line)]: irq = 1",
                        observed: "not reported before the acknowledge", state: describe(line))
                expectedSetIRQ = []
            }
            let predicted = gic.currentPending[cpu]
            let iar = gic.acknowledge(cpu: cpu)
            lastIAR[cpu] = iar
            let observed = UInt32(truncatingIfNeeded: n(.irq))
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
        case .bestIRQ:
            report.observationsTotal += 1
            report.observationsChecked += 1
            let observed = GICv2.Update(cpu: cpu, irq: UInt32(truncatingIfNeeded: n(.irq)), priority: Int(n(.priority)),
                                        priorityMask: Int(n(.priority_mask)), runningPriority: Int(n(.running_priority)), signal: false)
            guard let head = expected.first else {
                diverge(b, i, "best interrupt of CPU \(cpu)", expected: "no update", observed: "irq \(observed.irq) priority \(observed.priority)", state: describe(cpu))
                return
            }
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

    public mutating func finish() -> ReplayReport {
        var d = StateDigest()
        for k in 0..<gic.irqCount { d.combine(UInt64(gic.enabled[k]) | UInt64(gic.pending[k]) << 8 | UInt64(gic.active[k]) << 16 | UInt64(gic.level[k]) << 24) }
        for c in 0..<gic.cpuCount { d.combine(gic.runningPriority[c]); d.combine(gic.priorityMask[c]) }
        report.digest = d.value
        return report
    }
}
