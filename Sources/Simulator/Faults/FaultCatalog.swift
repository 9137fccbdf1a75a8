import TraceFormat

/// A fault the simulator can inject, with the real bug it reproduces (shared/reference/real-bugs.md)
/// and the finding a correct analyzer reports for it (issue 7's kinds).
public struct FaultKind: Sendable, Equatable {
    public let name: String
    /// "x86_64" or "arm64".
    public let platform: String
    /// A shipped scenario it applies to.
    public let scenario: String
    /// The analyzer finding kind it must produce.
    public let expect: String
    /// Rows of real-bugs.md it reproduces.
    public let bugs: [Int]
    public let summary: String
    /// What the trace shows of it: "diverges" (`replay --check` reports it: the events contradict the
    /// models) or "consistent" (the models agree: the system did what the guest asked, and only an
    /// analyzer finds the damage).
    public let replay: String
    /// The outputs that can show the fault, with what `replay --check` shows in each ("diverges" or
    /// "consistent"; `replay` is the platform's default output's).
    public let outputs: [String: String]
    /// Outputs of the platform that cannot show the fault, and why.
    public let notExpressible: [String: String]

    public init(name: String, platform: String, scenario: String, expect: String, bugs: [Int], summary: String, replay: String,
                outputs: [String: String]? = nil, notExpressible: [String: String] = [:]) {
        self.name = name
        self.platform = platform
        self.scenario = scenario
        self.expect = expect
        self.bugs = bugs
        self.summary = summary
        self.replay = replay
        self.outputs = outputs ?? [platform == "x86_64" ? "kvm-vmx" : "qemu-gic": replay]
        self.notExpressible = notExpressible
    }
}

/// Why the arm64 faults written for QEMU's GIC cannot be shown by KVM's tracepoints: a hardware vGIC
/// (list registers, the GICV frame) hides the guest's acknowledges, EOIs and deactivations, and KVM
/// traces neither where the vGIC routes an SPI nor which source an SGI has.
enum KVMArm64Blind {
    static let eoi = "a hardware vGIC takes GICC_EOIR/GICC_DIR/GICC_IAR in the GICV frame without a trap or a tracepoint: a missing EOI or deactivation leaves no trace, and neither does what it blocks"
    static let routing = "KVM traces an SPI injection as vgic_update_irq_pending VCPU 0 whatever its ITARGETSR, and the vCPU that acknowledges it is not traced"
    static let sgiSource = "a GICD_SGIR write shows as a trapped kvm_mmio write, but the SGI's queuing, its source and its acknowledge are not traced"
}

/// Why the posted-interrupt faults have no QEMU vocabulary.
enum KVMPosting {
    static let qemu = "QEMU does not emulate posted interrupts (its VT-d ignores the IRTE's IM bit; no PI descriptor exists)"
}

/// Why some x86 faults written for KVM's tracepoints cannot be shown by a QEMU x86 log.
enum QEMUX86Blind {
    static let eoi = "QEMU traces an EOI write (apic_mem_writel 0xb0) without the vector it retires, and not when a LAPIC takes a vector (IRR → ISR): a vector left in service leaves no trace (a level vector's shows as a Remote IRR never cleared, rte-rewrite-in-service)"
    static let halt = "QEMU traces neither HLT nor a vCPU's wakeup"
    static let tpr = "QEMU traces a TPR write but not which vector a LAPIC then takes (apic_get_interrupt is untraced)"
    static let eoiBroadcast = "QEMU's IOAPIC clears Remote IRR at every pin with the EOI'd vector (ioapic_eoi_broadcast): acking another pin than the one the vector came from is KVM's bug (kvm_ioapic_update_eoi), not reproducible by QEMU's model"
    static let lostMessage = "QEMU delivers a message inside apic_deliver_irq (apic_bus_deliver sets the IRR bit of every matching LAPIC): a message no LAPIC accepts is a message to no APIC ID, which the log shows as a destination, not as a loss"
}

public enum FaultCatalog {
    public static let all: [FaultKind] = [
        FaultKind(name: "lost-msi", platform: "x86_64", scenario: "x86-virtio", expect: "lost_interrupt", bugs: [8, 10],
                  summary: "an MSI reaches KVM (kvm_msi_set_irq) but no LAPIC accepts it; the device waits for service that never comes",
                  replay: "diverges", notExpressible: ["qemu-x86": QEMUX86Blind.lostMessage]),
        FaultKind(name: "vector0-route-loss", platform: "x86_64", scenario: "x86-virtio", expect: "misrouted_vector", bugs: [5],
                  summary: "a GSI → MSI route is lost (not re-programmed): the interrupt arrives as vector 0 and is dropped",
                  replay: "diverges", outputs: ["kvm-vmx": "diverges", "qemu-x86": "consistent"]),
        FaultKind(name: "missing-eoi", platform: "x86_64", scenario: "x86-virtio", expect: "stuck_in_service", bugs: [19],
                  summary: "the guest never EOIs a vector: it stays in ISR and blocks its own and lower priority classes",
                  replay: "consistent", notExpressible: ["qemu-x86": QEMUX86Blind.eoi]),
        FaultKind(name: "no-wakeup", platform: "x86_64", scenario: "x86-virtio", expect: "halted_with_pending", bugs: [7, 9, 20],
                  summary: "an interrupt is accepted for a halted vCPU but it is never woken (no kvm_vcpu_wakeup): it stays halted with the interrupt pending",
                  replay: "consistent", notExpressible: ["qemu-x86": QEMUX86Blind.halt]),
        FaultKind(name: "eoi-wrong-pin", platform: "x86_64", scenario: "x86-legacy", expect: "remote_irr_stuck", bugs: [1],
                  summary: "a level device moved from one IOAPIC pin to another with the same vector; the EOI acks the old pin only, the new pin's Remote IRR stays set",
                  replay: "diverges", notExpressible: ["qemu-x86": QEMUX86Blind.eoiBroadcast]),
        FaultKind(name: "rte-rewrite-in-service", platform: "x86_64", scenario: "x86-legacy", expect: "remote_irr_stuck", bugs: [4],
                  summary: "the guest rewrites a level pin's RTE to a new vector while the old one is in service; the EOI of the old vector matches no pin and Remote IRR stays set",
                  replay: "consistent", outputs: ["kvm-vmx": "consistent", "qemu-x86": "consistent"]),
        FaultKind(name: "level-storm", platform: "x86_64", scenario: "x86-legacy", expect: "interrupt_storm", bugs: [2, 3],
                  summary: "the guest handler never clears a level device's cause: every EOI re-delivers the still-asserted line (after 10,000, KVM delays it)",
                  replay: "consistent", outputs: ["kvm-vmx": "consistent", "qemu-x86": "consistent"]),
        FaultKind(name: "masked-edge-lost", platform: "x86_64", scenario: "x86-legacy", expect: "lost_interrupt", bugs: [10],
                  summary: "an edge arrives while the guest has its pin masked (an affinity change); the unmask does not replay it and the device waits forever",
                  replay: "consistent", outputs: ["kvm-vmx": "consistent", "qemu-x86": "consistent"]),
        FaultKind(name: "tpr-not-honoured", platform: "x86_64", scenario: "x86-tpr", expect: "priority_inversion", bugs: [18],
                  summary: "a vector at or below the guest's TPR class is injected (a stale TPR was used)",
                  replay: "diverges", notExpressible: ["qemu-x86": QEMUX86Blind.tpr]),
        FaultKind(name: "stale-irte", platform: "x86_64", scenario: "x86-q35-intremap", expect: "misrouted_vector", bugs: [],
                  summary: "an affinity change rewrites a VT-d IRTE but the interrupt entry cache is not invalidated: the IOMMU keeps translating with the old entry (vtd_ir_remap names the old destination while vtd_ir_irte_get shows the new one) and the interrupts go to the old vCPU",
                  replay: "diverges", outputs: ["qemu-x86": "diverges"],
                  notExpressible: ["kvm-vmx": "the kvm-vmx output has no VT-d remapping (KVM traces no IRTE look-up)"]),
        FaultKind(name: "msix-unmask-lost", platform: "x86_64", scenario: "x86-q35-vfio", expect: "lost_interrupt", bugs: [],
                  summary: "a VFIO device's MSI-X vector is unmasked (vfio_msix_vector_do_use) with its pending bit set — an interrupt came while the guest had it masked (vfio_msix_pba_enable, vfio_msi_interrupt) — and the pending bit is cleared without the message being sent (PCI 3.0 §6.8.2.9 and QEMU's msix_handle_mask_update send it): no apic_deliver_irq follows, the interrupt is lost",
                  replay: "diverges", outputs: ["qemu-x86": "diverges"],
                  notExpressible: ["kvm-vmx": "KVM traces no MSI-X table: userspace (QEMU) emulates the per-vector mask and the PBA, and only QEMU's vfio_* events show them"]),
        FaultKind(name: "pir-without-on", platform: "x86_64", scenario: "x86-posted", expect: "lost_interrupt", bugs: [6],
                  summary: "a vector sits in a halted vCPU's PIR with ON clear (posted while the vCPU was preempted, SN=1, and KVM cleared SN without recomputing ON): KVM's next post of it (kvm_apic_accept_irq, kvm_apicv_accept_irq) stops at pi_test_and_set_pir, no kick, no kvm_vcpu_wakeup; no sync ever moves it to the IRR",
                  replay: "consistent", notExpressible: ["qemu-x86": KVMPosting.qemu]),
        FaultKind(name: "sn-on-race", platform: "x86_64", scenario: "x86-posted", expect: "halted_with_pending", bugs: [7],
                  summary: "a vCPU blocks before the VM has a posted route, so without the wakeup vector; a VT-d posted route is set up for it (kvm_pi_irte_update) and the IOMMU's post sets ON with a notification that wakes nobody; KVM's next post (kvm_apicv_accept_irq) finds ON set and skips the kick: halted with an interrupt pending, no kvm_vcpu_wakeup",
                  replay: "consistent", notExpressible: ["qemu-x86": KVMPosting.qemu]),
        FaultKind(name: "msi-flood", platform: "x86_64", scenario: "x86-virtio", expect: "interrupt_storm", bugs: [],
                  summary: "a device queue's MSI fires about every 2 µs for 600 messages (a device whose interrupt cause is never cleared, or a runaway irqfd): far more than its vCPU can service, so most messages merge into the IRR bit already set",
                  replay: "consistent", outputs: ["kvm-vmx": "consistent", "qemu-x86": "consistent"]),
        FaultKind(name: "gic-missing-eoi", platform: "arm64", scenario: "arm-gicv2", expect: "stuck_in_service", bugs: [19],
                  summary: "the guest never writes GICC_EOIR for an interrupt: it stays active and the CPU's running priority stays at its priority, blocking every interrupt of equal or lower priority on that CPU",
                  replay: "consistent", notExpressible: ["kvm-arm64": KVMArm64Blind.eoi]),
        FaultKind(name: "missing-dir", platform: "arm64", scenario: "arm-gicv2-el2", expect: "stuck_in_service", bugs: [13],
                  summary: "with EOImode 1 the guest writes GICC_EOIR (priority drop) but never GICC_DIR: the interrupt stays active and is never taken again",
                  replay: "consistent", notExpressible: ["kvm-arm64": KVMArm64Blind.eoi]),
        FaultKind(name: "wrong-itargetsr", platform: "arm64", scenario: "arm-gicv2", expect: "misrouted_vector", bugs: [15],
                  summary: "the distributor makes an SPI pending on a CPU outside its ITARGETSR (gic_set_irq names the wrong target), and that CPU acknowledges it",
                  replay: "diverges", notExpressible: ["kvm-arm64": KVMArm64Blind.routing]),
        FaultKind(name: "lost-sgi-source", platform: "arm64", scenario: "arm-gicv2", expect: "lost_interrupt", bugs: [16],
                  summary: "an SGI written to GICD_SGIR while the same SGI from another source CPU is pending at the target is merged into it (one pending state per SGI, not per source): the second source's SGI is never acknowledged",
                  replay: "diverges", notExpressible: ["kvm-arm64": KVMArm64Blind.sgiSource]),
        FaultKind(name: "lr-overwrite", platform: "arm64", scenario: "arm-gicv2", expect: "lost_interrupt", bugs: [11, 14],
                  summary: "an MSI edge reaches the interrupt controller (qemu-gic: gic_set_irq; kvm-arm64: kvm_irq_line and vgic_update_irq_pending, then a kick of its vCPU) but the hypervisor drops it from the list register: no pending state, never acknowledged though its CPU had nothing else to take",
                  replay: "diverges", outputs: ["qemu-gic": "diverges", "kvm-arm64": "consistent"]),
    ]

    public static func named(_ name: String) -> FaultKind? { all.first { $0.name == name } }
}

/// One `--fault NAME[:key=value,...]` request: `at=TIME` (the earliest time it may fire, default
/// 10% of the run), `count=N` (how many times, default 1), `every=TIME` (the least gap between two).
public struct FaultRequest: Sendable, Equatable {
    public var kind: FaultKind
    public var text: String
    public var at: Int64?
    public var count: Int
    public var every: Int64

    public init(parsing text: String) throws {
        self.text = text
        let parts = text.split(separator: ":", maxSplits: 1)
        let name = parts.first.map(String.init) ?? ""
        guard let k = FaultCatalog.named(name) else {
            throw IrqtraceError("unknown fault \"\(name)\"", hint: "irqtrace sim --list shows the fault kinds")
        }
        kind = k
        count = 1
        every = 1_000_000
        guard parts.count == 2 else { return }
        for kv in parts[1].split(separator: ",") {
            let p = kv.split(separator: "=", maxSplits: 1).map(String.init)
            guard p.count == 2 else { throw IrqtraceError("fault \(name): parameter \"\(kv)\" is not key=value", hint: "e.g. \(name):at=5ms,count=2") }
            switch p[0] {
            case "at":
                guard let t = TimeSpec(p[1]).map(\.nanoseconds) else { throw IrqtraceError("fault \(name): at=\(p[1]) is not a time", hint: "e.g. at=5ms, at=200us, at=1s") }
                at = t
            case "every":
                guard let t = TimeSpec(p[1]).map(\.nanoseconds) else { throw IrqtraceError("fault \(name): every=\(p[1]) is not a time", hint: "e.g. every=2ms") }
                every = t
            case "count":
                guard let c = Int(p[1]), c >= 1 else { throw IrqtraceError("fault \(name): count=\(p[1]) is not a positive number", hint: "e.g. count=3") }
                count = c
            default:
                throw IrqtraceError("fault \(name): unknown parameter \(p[0])", hint: "parameters: at=TIME, count=N, every=TIME")
            }
        }
    }
}

/// When each requested fault may fire next, and what it did (the ground truth). Looked up on the
/// simulators' hot paths: one array read per check.
struct FaultSchedule {
    struct Slot { var kind: String; var next: Int64; var left: Int; var every: Int64 }
    var slots: [Slot]
    /// Per catalog index: the earliest time any slot of that kind may fire (.max: none left).
    private var dueAt: [Int64]
    /// The earliest of `dueAt` (.max: no fault left, as in every clean run).
    private var earliest = Int64.max
    var truth: [GroundTruth] = []

    init(_ requests: [FaultRequest], runNs: Int64) {
        slots = requests.map { Slot(kind: $0.kind.name, next: $0.at ?? runNs / 10, left: $0.count, every: $0.every) }
        dueAt = Array(repeating: .max, count: FaultCatalog.all.count)
        refresh()
    }

    private mutating func refresh() {
        for k in dueAt.indices { dueAt[k] = .max }
        for s in slots where s.left > 0 {
            if let k = FaultCatalog.all.firstIndex(where: { $0.name == s.kind }) { dueAt[k] = min(dueAt[k], s.next) }
        }
        earliest = dueAt.min() ?? .max
    }

    /// The catalog index of a fault kind (a programming error when unknown).
    static func index(_ name: String) -> Int {
        guard let k = FaultCatalog.all.firstIndex(where: { $0.name == name }) else { preconditionFailure("no fault kind \(name)") }
        return k
    }

    /// True when a fault of kind `k` (catalog index) may fire at `now` (the caller then fires it and calls ``fired``).
    /// `k` is evaluated only when some fault may fire by now: the callers pass lazily initialised
    /// statics (`F.staleIRTE`, …), whose `swift_once` per check was ~1 % of a clean run.
    @inline(__always)
    func due(_ k: @autoclosure () -> Int, _ now: Int64) -> Bool { now >= earliest && now >= dueAt[k()] }

    /// The same by name (tests, rare paths).
    func due(_ kind: String, _ now: Int64) -> Bool { due(Self.index(kind), now) }

    mutating func fired(_ kind: String, _ g: GroundTruth) {
        if let k = slots.firstIndex(where: { $0.kind == kind && $0.left > 0 && g.timeNs >= $0.next }) {
            slots[k].left -= 1
            slots[k].next = g.timeNs + slots[k].every
        }
        truth.append(g)
        refresh()
    }
}
