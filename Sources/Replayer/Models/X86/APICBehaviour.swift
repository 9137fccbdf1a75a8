/// Where KVM's in-kernel LAPIC/IOAPIC and QEMU's userspace ones differ (semantics.md §1.12, §2.3).
/// The replayer picks one from the trace's source; every model takes it as a parameter.
public enum APICBehaviour: String, Sendable, Codable {
    /// KVM `arch/x86/kvm/lapic.c`, `ioapic.c`.
    case kvm
    /// QEMU `hw/intc/apic.c`, `ioapic.c`.
    case qemu
}

/// x86 delivery modes (ICR / RTE / MSI data bits 10:8).
public enum DeliveryMode: UInt8, Sendable, CaseIterable, Hashable, Codable {
    case fixed = 0, lowestPriority = 1, smi = 2, reserved3 = 3, nmi = 4, initialize = 5, startup = 6, extINT = 7

    /// The spelling of KVM's `kvm_deliver_mode` symbols (Fixed, LowPrio, …).
    public var kvmName: String { Self.kvmNames[Int(rawValue)] }
    static let kvmNames = ["Fixed", "LowPrio", "SMI", "Res3", "NMI", "INIT", "SIPI", "ExtINT"]

    /// The mode KVM prints as `name` (nil: not a KVM delivery-mode name).
    public init?(kvmName name: String) {
        switch name {
        case "Fixed": self = .fixed
        case "LowPrio": self = .lowestPriority
        case "SMI": self = .smi
        case "Res3": self = .reserved3
        case "NMI": self = .nmi
        case "INIT": self = .initialize
        case "SIPI": self = .startup
        case "ExtINT": self = .extINT
        default: return nil
        }
    }
}
