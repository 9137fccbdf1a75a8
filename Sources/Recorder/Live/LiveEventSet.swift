import TraceFormat

/// The tracepoints a live recording enables, resolved against what this kernel offers.
///
/// `--events SET`: comma-separated items, each
/// - a named set: `kvm-irq` (default: the KVM interrupt path — x86 and arm64 — that this kernel
///   has), `kvm` (every kvm event but the emulator/MMU noise), `host-irq` (irq/* and irq_vectors/*:
///   the host's own interrupts);
/// - `SYSTEM/*` or `SYSTEM:*`, `SYSTEM/EVENT` or `SYSTEM:EVENT`, or a bare event name (searched in kvm,
///   irq, irq_vectors, then every system);
/// - any of these prefixed with `-` to leave it out.
/// Named sets skip events this kernel lacks; an event named explicitly must exist.
public struct LiveEventSet: Sendable, Equatable {
    /// (system, event), sorted.
    public private(set) var events: [EventID]

    public struct EventID: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var system: String
        public var name: String
        public var description: String { "\(system):\(name)" }
        public static func < (a: EventID, b: EventID) -> Bool { (a.system, a.name) < (b.system, b.name) }
    }

    /// The interrupt path: x86 (arch/x86/kvm/trace.h, irq.h users) and arm64 (arch/arm64/kvm/trace_arm.h,
    /// vgic/trace.h). kvm_mmio and kvm_apic carry emulated LAPIC/IOAPIC accesses (all of them on PVM),
    /// kvm_pio the 8259's.
    public static let kvmInterruptPath: [String] = [
        "kvm_exit", "kvm_entry", "kvm_msi_set_irq", "kvm_set_irq", "kvm_ioapic_set_irq", "kvm_ioapic_delayed_eoi_inj",
        "kvm_pic_set_irq", "kvm_apic_accept_irq", "kvm_apicv_accept_irq", "kvm_apicv_inhibit_changed", "kvm_eoi",
        "kvm_pv_eoi", "kvm_inj_virq", "kvm_apic_ipi", "kvm_apic", "kvm_mmio", "kvm_pi_irte_update", "kvm_ack_irq",
        "kvm_vcpu_wakeup", "kvm_avic_incomplete_ipi", "kvm_avic_unaccelerated_access", "kvm_avic_ga_log",
        "kvm_avic_kick_vcpu_slowpath", "kvm_avic_doorbell", "kvm_wait_lapic_expire", "kvm_userspace_exit",
        // 8259 programming (ICW/OCW through ports 0x20/0x21/0xa0/0xa1) and ELCR: the PIC model needs them
        "kvm_pio",
        // arm64
        "kvm_irq_line", "vgic_update_irq_pending", "kvm_timer_update_irq", "kvm_wfx_arm64", "kvm_timer_emulate",
        "kvm_get_timer_map",
    ]
    /// Never on by default: the instruction emulator and MMU notifiers flood the buffer (real-sources.md).
    public static let kvmNoise: Set<String> = ["kvm_emulate_insn", "kvm_age_hva", "kvm_test_age_hva", "kvm_fpu",
                                               "kvm_unmap_hva_range", "kvm_page_fault"]

    public static let defaultSpec = "kvm-irq"

    /// Resolves `spec` against `available` (system → event names).
    public init(spec: String, available: [String: Set<String>]) throws {
        var chosen = Set<EventID>()
        for raw in spec.split(separator: ",").map({ $0.trimmedTD() }) where !raw.isEmpty {
            let remove = raw.hasPrefix("-")
            let item = remove ? String(raw.dropFirst()) : raw
            let ids = try Self.resolve(item, available: available)
            if remove { chosen.subtract(ids) } else { chosen.formUnion(ids) }
        }
        guard !chosen.isEmpty else {
            throw IrqtraceError("--events \(spec) selects no event this kernel has",
                                hint: "list them with: ls \(Tracefs.mountedRoot() ?? "/sys/kernel/tracing")/events/kvm")
        }
        events = chosen.sorted()
    }

    private static func resolve(_ item: String, available: [String: Set<String>]) throws -> Set<EventID> {
        func system(_ s: String, except: Set<String> = []) -> Set<EventID> {
            Set((available[s] ?? []).subtracting(except).map { EventID(system: s, name: $0) })
        }
        switch item {
        case "kvm-irq":
            return Set(kvmInterruptPath.compactMap { n in available["kvm"]?.contains(n) == true ? EventID(system: "kvm", name: n) : nil })
        case "kvm": return system("kvm", except: kvmNoise)
        case "host-irq": return system("irq").union(system("irq_vectors"))
        default: break
        }
        let parts = item.split(whereSeparator: { $0 == "/" || $0 == ":" }).map(String.init)
        if parts.count == 2 {
            guard let events = available[parts[0]] else {
                throw IrqtraceError("no event system '\(parts[0])' in this kernel's tracefs", hint: "systems: \(available.keys.sorted().joined(separator: " "))")
            }
            if parts[1] == "*" { return system(parts[0]) }
            guard events.contains(parts[1]) else {
                throw IrqtraceError("no event \(parts[0]):\(parts[1]) in this kernel", hint: "ls the tracefs events/\(parts[0]) folder for the names it has")
            }
            return [EventID(system: parts[0], name: parts[1])]
        }
        for s in ["kvm", "irq", "irq_vectors"] + available.keys.sorted() where available[s]?.contains(item) == true {
            return [EventID(system: s, name: item)]
        }
        throw IrqtraceError("no event '\(item)' in this kernel's tracefs",
                            hint: "use a named set (kvm-irq, kvm, host-irq), SYSTEM/*, SYSTEM:EVENT or an event name the kernel has")
    }
}
