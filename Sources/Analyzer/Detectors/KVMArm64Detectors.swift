import Replayer

/// Detectors over arm64 KVM tracepoints (in-kernel vGIC with hardware list registers): what the
/// ``KVMArm64Adapter``'s transitions prove. The guest's acknowledges, EOIs and deactivations go
/// through the GICV frame without a trap, and KVM traces an SPI's injection as VCPU 0 whatever its
/// target, so the rules that need the CPU interface (stuck in service, priority inversion, routing)
/// have no evidence here. What a vCPU thread does show is whether it had anything to take:
///
/// - `lost_interrupt`: an SPI injected high (`kvm_irq_line` → `vgic_update_irq_pending` level 1)
///   and, within ``kickWindowNs``, the wakeup of a vCPU blocked in WFI (`kvm_vcpu_wakeup`: the kick
///   of the vCPU KVM queued it for, vgic_queue_irq_unlock → kvm_vcpu_kick) that traps on WFI again
///   within ``reWFIWindowNs`` of waking and blocks. KVM does not block a vCPU with an interrupt
///   pending in its list registers or ap_list (kvm_vcpu_check_block → kvm_arch_vcpu_runnable →
///   kvm_vgic_vcpu_pending_irq), and a woken guest takes a pending interrupt before it can reach
///   WFI again (taking it costs microseconds of guest time: ``reWFIWindowNs``, the rule's one
///   assumption about the guest): the queued interrupt was gone — overwritten
///   in or dropped from the list register. One finding per such wakeup (`cpu` = the vCPU, `irq` =
///   the SPI). A kick of a running vCPU shows the same exit and entry either way: not judged.
struct KVMArm64Detectors {
    var findings: [Finding] = []
    /// The wakeup must follow the injection this closely (KVM kicks inside the injecting ioctl).
    var kickWindowNs: Int64 = 20_000
    /// A WFI this soon after the wakeup: the vCPU took nothing. Taking an interrupt costs a guest more:
    /// the IRQ exception, gic_handle_irq (GICC_IAR, the handler, GICC_EOIR), irq_exit and the idle
    /// loop's checks before cpu_do_idle's WFI. The bound is an assumption about guest speed, not a
    /// proof: a wakeup whose WFI comes this fast on a fast host could have taken a trivial interrupt.
    var reWFIWindowNs: Int64 = 5_000

    struct Injection { var irq: Int32; var time: Int64; var event: Int }
    /// The last SPI injected high, until a wakeup claims it.
    var lastSPI: Injection?
    /// Per vCPU: woken just after an SPI's injection (the wakeup's time and event, and the SPI).
    var woken: [Int32: (time: Int64, event: Int, spi: Injection)] = [:]

    mutating func consume(_ t: Transition) {
        switch t.kind {
        case .raised where t.irq >= 32:
            lastSPI = Injection(irq: t.irq, time: t.timeNs, event: t.eventIndex)
        case .raised:
            // A private interrupt injected high for the vCPU (its timer at vcpu_load): it has something to take.
            woken[t.cpu] = nil
        case .woke:
            if let spi = lastSPI, t.timeNs - spi.time <= kickWindowNs {
                woken[t.cpu] = (t.timeNs, t.eventIndex, spi)
                lastSPI = nil
            } else {
                woken[t.cpu] = nil
            }
        case .halted:
            guard let w = woken.removeValue(forKey: t.cpu), t.timeNs - w.time <= reWFIWindowNs else { return }
            findings.append(Finding(.lostInterrupt, .error, time: w.spi.time, cpu: Int(t.cpu), irq: Int(w.spi.irq),
                                    events: [w.spi.event, w.event, t.eventIndex],
                                    "SPI \(w.spi.irq) was injected (vgic_update_irq_pending level 1) and vCPU \(t.cpu), blocked in WFI, was woken for it \(ms(w.time - w.spi.time)) later, but it trapped on WFI again \(ms(t.timeNs - w.time)) after waking: KVM blocks a vCPU only when no interrupt is pending for it, and a guest with one pending takes it first, so the interrupt was lost from its list register (overwritten or dropped) without being taken"))
        default:
            break
        }
    }
}
