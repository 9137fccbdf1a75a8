import TraceFormat

/// Replays arm64 KVM tracepoints (arch/arm64/kvm: arm.c, arch_timer.c, vgic/vgic.c) with the
/// partial observability a hardware vGIC leaves: the guest's acknowledges, EOIs and
/// deactivations go through the GIC's list registers and virtual CPU interface without a trace, so
/// only the injection path is checked.
///
/// - `kvm_irq_line` (KVM_IRQ_LINE: "Inject VGIC SPI/PPI interrupt (type), vcpu->idx: V, num: N,
///   level: L") and `kvm_timer_update_irq` (a timer's line changed: "VCPU: V, IRQ N, level L") are
///   causes: `kvm_vgic_inject_irq` traces `vgic_update_irq_pending` (vCPU index, or 0 for SPIs; the
///   INTID; the level) next on the same thread, before validating the injection. Each such trace
///   after a cause is checked against it; a cause with none after it diverges; a CPU-type line
///   (userspace irqchip) expects none.
/// - `vgic_update_irq_pending` without a traced cause (irqfd, vPMU, in-kernel devices) is counted
///   unchecked, and the model records the line level (level-sensitive) or pending latch.
///
/// With ``recordTransitions`` (the analyzers) it also says what the vCPU threads show: each thread is
/// bound to the vCPU whose private interrupts (`kvm_timer_update_irq`, a PPI's injection) it traces
/// at vcpu_load; a WFI trap (`kvm_exit` WFx) is ``Transition/Kind/halted``, `kvm_vcpu_wakeup` is
/// ``Transition/Kind/woke`` (`value` = the wait time); an SPI injected high by `kvm_irq_line` is
/// ``Transition/Kind/raised`` (`irq`; `cpu` -1: KVM traces every SPI as VCPU 0, whatever its target),
/// a PPI injected high ``Transition/Kind/raised`` at its vCPU.
public struct KVMArm64Adapter {
    public internal(set) var report = ReplayReport(adapter: "kvm-arm64", behaviour: "kvm")
    var handlers = TemplateHandlers<Kind, Field> { Self.kind(of: $0) }
    /// The injection each thread's last cause expects next.
    var expected: [Int32: (cpu: Int64, irq: Int64, level: Int64, event: Int, time: Int64, what: String)] = [:]
    /// Line levels (SPIs by INTID; private interrupts by vCPU << 16 | INTID) as last injected.
    public private(set) var lines: [Int64: Int64] = [:]
    /// Model transitions, when ``recordTransitions`` is set.
    public var recordTransitions = false
    public var transitions = TransitionBuffer()
    /// Thread → the vCPU index it runs (from the private interrupts it traces).
    var vcpuOfThread: [Int32: Int32] = [:]

    enum Field: Int, FieldKey { case vcpu, irq, level, type_name, exception_class, time_ns }
    enum Kind { case irqLine, timer, pending, exit, wakeup }

    public init() {}

    static func kind(of name: String) -> Kind? {
        switch name {
        case "kvm_irq_line": .irqLine
        case "kvm_timer_update_irq": .timer
        case "vgic_update_irq_pending": .pending
        case "kvm_exit": .exit
        case "kvm_vcpu_wakeup": .wakeup
        default: nil
        }
    }

    mutating func missed(_ thread: Int32) {
        guard let e = expected.removeValue(forKey: thread) else { return }
        report.observationsTotal += 1
        report.observationsChecked += 1
        report.add(Divergence(eventIndex: e.event, timeNs: e.time, what: "vGIC injection after \(e.what)",
                                             expected: "vgic_update_irq_pending VCPU \(e.cpu) IRQ \(e.irq) level \(e.level)",
                                             observed: "none on this thread", state: ""))
    }

    public mutating func handle(_ b: EventBatch, _ i: Int, catalog: TemplateCatalog) {
        report.events += 1
        guard let (kind, f) = handlers.resolve(b.template(i), in: catalog) else { return }
        let thread = b.thread(i)
        func n(_ field: Field) -> Int64 { handlers.number(f, field, b, i) ?? 0 }
        switch kind {
        case .irqLine:
            missed(thread)
            let type = handlers.text(f, .type_name, b, i, catalog[b.template(i)]) ?? ""
            // KVM_ARM_IRQ_TYPE_CPU drives the vCPU's IRQ/FIQ line directly (no in-kernel vGIC).
            guard type.contains("VGIC") else { return }
            let spi = type.contains("SPI")
            expected[thread] = (spi ? 0 : n(.vcpu), n(.irq), n(.level) != 0 ? 1 : 0, b.eventIndex(i), b.time(i), "kvm_irq_line")
        case .exit:
            guard recordTransitions, let v = vcpuOfThread[thread],
                  handlers.text(f, .exception_class, b, i, catalog[b.template(i)]) == "WFx" else { return }
            note(.halted, b, i, cpu: v)
        case .wakeup:
            guard recordTransitions, let v = vcpuOfThread[thread] else { return }
            note(.woke, b, i, cpu: v, value: n(.time_ns))
        case .timer:
            if recordTransitions { vcpuOfThread[thread] = Int32(truncatingIfNeeded: n(.vcpu)) }
            missed(thread)
            expected[thread] = (n(.vcpu), n(.irq), n(.level) != 0 ? 1 : 0, b.eventIndex(i), b.time(i), "kvm_timer_update_irq")
        case .pending:
            let cpu = n(.vcpu), irq = n(.irq), level = n(.level) != 0 ? Int64(1) : 0
            lines[irq < 32 ? cpu << 16 | irq : irq] = level
            if recordTransitions {
                if irq < 32, irq >= 16 { vcpuOfThread[thread] = Int32(truncatingIfNeeded: cpu) }
                if level == 1 { note(.raised, b, i, cpu: irq < 32 ? Int32(truncatingIfNeeded: cpu) : -1, irq: irq) }
            }
            report.observationsTotal += 1
            guard let e = expected.removeValue(forKey: thread) else {
                report.unchecked["vgic_update_irq_pending (cause not traced: irqfd, vPMU, in-kernel device)", default: 0] += 1
                return
            }
            report.observationsChecked += 1
            if e.cpu != cpu || e.irq != irq || e.level != level {
                report.add(Divergence(eventIndex: b.eventIndex(i), timeNs: b.time(i), what: "vGIC injection after \(e.what)",
                                                     expected: "VCPU \(e.cpu) IRQ \(e.irq) level \(e.level)",
                                                     observed: "VCPU \(cpu) IRQ \(irq) level \(level)", state: ""))
            }
        }
    }

    @inline(__always)
    mutating func note(_ kind: Transition.Kind, _ b: EventBatch, _ i: Int, cpu: Int32 = -1, irq: Int64 = -1, value: Int64 = 0) {
        transitions.append(Transition(kind, event: b.eventIndex(i), time: b.time(i), cpu: cpu, irq: Int32(truncatingIfNeeded: irq), value: value))
    }

    public mutating func finish() -> ReplayReport {
        for t in expected.keys.sorted() { missed(t) }
        var d = StateDigest()
        for (k, v) in lines.sorted(by: { $0.key < $1.key }) { d.combine(Int(k)); d.combine(Int(v)) }
        report.digest = d.value
        return report
    }
}
