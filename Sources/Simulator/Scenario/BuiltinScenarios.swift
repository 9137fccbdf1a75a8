import TraceFormat

/// The shipped scenarios (their JSON is in traces/scenarios/, kept equal by a test).
public enum BuiltinScenarios {
    public static let all: [Scenario] = [
        Scenario(
            name: "x86-virtio",
            description: "4-vCPU x86 guest on VMX KVM: virtio-net (4 MSI-X queues, bursty) and virtio-blk (2 queues) through irqfd, LAPIC timers at 250 Hz, reschedule and call-function IPIs, x2APIC EOIs, idle vCPUs halt",
            platform: .init(arch: "x86_64"), output: "kvm-vmx", vcpus: 4,
            devices: [
                .init(name: "virtio-net", kind: "msix", queues: 4, vector: 0x41, rateHz: 4000, burst: 3),
                .init(name: "virtio-blk", kind: "msix", queues: 2, vector: 0x51, rateHz: 1500, affinityChangeHz: 5),
            ],
            timer: .init(periodUs: 4000, vector: 0xEC), ipis: .init(rateHz: 300, vectors: [0xFB, 0xFD]),
            guest: .init(handlerNs: 3000, runNs: 30000, eoi: "x2apic"), durationMs: 200),
        Scenario(
            name: "x86-legacy",
            description: "2-vCPU x86 guest on VMX KVM with IOAPIC devices driven by userspace: two level-triggered INTx devices (one moved between vCPUs while running), serial and RTC edges, LAPIC timers, xAPIC MMIO EOIs",
            platform: .init(arch: "x86_64"), output: "kvm-vmx", vcpus: 2,
            devices: [
                .init(name: "virtio-blk-intx", kind: "ioapic-level", vector: 0x3A, irq: 10, rateHz: 2000, affinityChangeHz: 50),
                .init(name: "e1000", kind: "ioapic-level", vector: 0x3B, irq: 11, rateHz: 800),
                .init(name: "serial", kind: "ioapic-edge", vector: 0x24, irq: 4, rateHz: 300),
                .init(name: "rtc", kind: "ioapic-edge", vector: 0x28, irq: 8, rateHz: 64, affinityChangeHz: 10),
            ],
            timer: .init(periodUs: 4000, vector: 0xEC), ipis: .init(rateHz: 200, vectors: [0xFB, 0xFD]),
            guest: .init(handlerNs: 4000, runNs: 25000, eoi: "mmio"), durationMs: 200),
        Scenario(
            name: "x86-tpr",
            description: "2-vCPU x86 guest on VMX KVM that raises its TPR to 0x50 for 50 µs at a time (blocking the virtio-net vectors 0x41-0x42 but not the timer), with bursty MSI-X traffic",
            platform: .init(arch: "x86_64"), output: "kvm-vmx", vcpus: 2,
            devices: [.init(name: "virtio-net", kind: "msix", queues: 2, vector: 0x41, rateHz: 6000, burst: 2)],
            timer: .init(periodUs: 4000, vector: 0xEC), ipis: .init(rateHz: 200, vectors: [0xFB]),
            guest: .init(handlerNs: 3000, runNs: 40000, eoi: "mmio", priorityMasking: .init(rateHz: 2000, value: 0x50, holdUs: 50)),
            durationMs: 200),
        Scenario(
            name: "x86-posted",
            description: "4-vCPU x86 guest on VMX KVM with APICv and posted interrupts: virtio-net (4 MSI-X queues, one per vCPU, bursty) through irqfd, each MSI posted by KVM (kvm_apicv_accept_irq); running vCPUs take them without an exit, halted ones are woken (kvm_vcpu_wakeup); x2APIC, EOIs virtualized",
            platform: .init(arch: "x86_64", postedInterrupts: true), output: "kvm-vmx", vcpus: 4,
            devices: [.init(name: "virtio-net", kind: "msix", queues: 4, vector: 0x41, rateHz: 3000, burst: 2)],
            timer: nil, ipis: nil,
            guest: .init(handlerNs: 3000, runNs: 30000, eoi: "x2apic"), durationMs: 200),
        Scenario(
            name: "x86-q35",
            description: "4-vCPU x86 guest on QEMU's q35 without an IOMMU (multi-threaded TCG): virtio-net (2 MSI-X queues) and virtio-blk (2 queues, moved between vCPUs by MSI-X table writes), a level-triggered PCI INTx device on IOAPIC pin 16 (moved by RTE rewrites), a serial port on edge pin 4, LAPIC timers at 250 Hz, IPIs, xAPIC MMIO EOIs",
            platform: .init(arch: "x86_64"), output: "qemu-x86", vcpus: 4,
            devices: [
                .init(name: "virtio-net", kind: "msix", queues: 2, vector: 0x41, rateHz: 2000),
                .init(name: "virtio-blk", kind: "msix", queues: 2, vector: 0x51, rateHz: 1000, affinityChangeHz: 20),
                .init(name: "e1000-intx", kind: "ioapic-level", vector: 0x3A, irq: 16, rateHz: 800, affinityChangeHz: 20),
                .init(name: "serial", kind: "ioapic-edge", vector: 0x24, irq: 4, rateHz: 300, affinityChangeHz: 10),
            ],
            timer: .init(periodUs: 4000, vector: 0xEC), ipis: .init(rateHz: 200, vectors: [0xFB, 0xFD]),
            guest: .init(handlerNs: 3000, runNs: 30000, eoi: "mmio"), durationMs: 200),
        Scenario(
            name: "x86-q35-intremap",
            description: "4-vCPU x86 guest on QEMU's q35 with an Intel IOMMU doing interrupt remapping (-device intel-iommu,intremap=on, multi-threaded TCG): virtio-net (2 MSI-X queues) and virtio-blk (2 queues, moved between vCPUs by IRTE rewrites) as remappable MSIs, a serial port on a remappable IOAPIC edge pin (also moved), LAPIC timers at 250 Hz, reschedule and call-function IPIs, xAPIC MMIO EOIs",
            platform: .init(arch: "x86_64", interruptRemapping: true), output: "qemu-x86", vcpus: 4,
            devices: [
                .init(name: "virtio-net", kind: "msix", queues: 2, vector: 0x41, rateHz: 2000),
                .init(name: "virtio-blk", kind: "msix", queues: 2, vector: 0x51, rateHz: 1000, affinityChangeHz: 20),
                .init(name: "serial", kind: "ioapic-edge", vector: 0x24, irq: 4, rateHz: 300, affinityChangeHz: 10),
            ],
            timer: .init(periodUs: 4000, vector: 0xEC), ipis: .init(rateHz: 200, vectors: [0xFB, 0xFD]),
            guest: .init(handlerNs: 3000, runNs: 30000, eoi: "mmio"), durationMs: 200),
        Scenario(
            name: "x86-q35-vfio",
            description: "4-vCPU x86 guest on QEMU's q35 without an IOMMU (multi-threaded TCG) with a VFIO-assigned NIC (vfio-pci 0000:01:00.0, 4 MSI-X queues, bursty) whose driver masks a queue's vector in its interrupt handler and unmasks it after polling (NAPI-like) and around affinity changes: interrupts arriving while masked set the pending bit (vfio_msix_pba_enable, vfio_msi_interrupt) and are sent at the unmask; virtio-blk (2 emulated MSI-X queues), a serial port on edge pin 4, LAPIC timers at 250 Hz, IPIs, xAPIC MMIO EOIs",
            platform: .init(arch: "x86_64"), output: "qemu-x86", vcpus: 4,
            devices: [
                .init(name: "vfio-nic", kind: "vfio-msix", queues: 4, vector: 0x61, rateHz: 3000, burst: 3, affinityChangeHz: 20),
                .init(name: "virtio-blk", kind: "msix", queues: 2, vector: 0x51, rateHz: 1000, affinityChangeHz: 20),
                .init(name: "serial", kind: "ioapic-edge", vector: 0x24, irq: 4, rateHz: 300, affinityChangeHz: 10),
            ],
            timer: .init(periodUs: 4000, vector: 0xEC), ipis: .init(rateHz: 200, vectors: [0xFB, 0xFD]),
            guest: .init(handlerNs: 3000, runNs: 30000, eoi: "mmio"), durationMs: 200),
        Scenario(
            name: "arm-gicv2",
            description: "4-vCPU arm64 guest on QEMU's GICv2 (-M virt,gic-version=2, TCG): virtio-net (4 GICv2m MSI queues, bursty) and virtio-blk (2 MSI queues, moved between vCPUs), a level-triggered PL011 UART and virtio-mmio device, a PL061 GPIO edge, the virtual timer PPI 27 at 250 Hz, reschedule and call-function SGIs, EOImode 0, PMR raised to 0x80 for 40 µs at a time, idle vCPUs in WFI",
            platform: .init(arch: "arm64", gicv2m: true), output: "qemu-gic", vcpus: 4,
            devices: [
                .init(name: "virtio-net", kind: "msi", queues: 4, irq: 80, rateHz: 2500, burst: 3),
                .init(name: "virtio-blk", kind: "msi", queues: 2, irq: 84, rateHz: 1000, affinityChangeHz: 50),
                .init(name: "pl011", kind: "spi-level", irq: 33, rateHz: 200),
                .init(name: "virtio-mmio", kind: "spi-level", irq: 48, rateHz: 500, affinityChangeHz: 20),
                .init(name: "pl061", kind: "spi-edge", irq: 39, rateHz: 50),
            ],
            timer: .init(periodUs: 4000, irq: 27), ipis: .init(rateHz: 1000, vectors: [0, 1]),
            guest: .init(handlerNs: 4000, runNs: 40000, eoi: "eoimode0", priorityMasking: .init(rateHz: 300, value: 0x80, holdUs: 40)),
            durationMs: 200),
        Scenario(
            name: "arm-gicv2-el2",
            description: "2-vCPU arm64 guest kernel at EL2 on QEMU's GICv2 (TCG, virtualization=on): EOImode 1 (GICC_EOIR drops the priority right after the acknowledge, GICC_DIR deactivates after the handler), virtio-net (2 GICv2m MSI queues), a level-triggered virtio-mmio block device moved between vCPUs, the physical timer PPI 30, SGIs",
            platform: .init(arch: "arm64", gicv2m: true), output: "qemu-gic", vcpus: 2,
            devices: [
                .init(name: "virtio-net", kind: "msi", queues: 2, irq: 80, rateHz: 2000, burst: 2),
                .init(name: "virtio-mmio-blk", kind: "spi-level", irq: 48, rateHz: 800, affinityChangeHz: 20),
            ],
            timer: .init(periodUs: 4000, irq: 30), ipis: .init(rateHz: 300, vectors: [0, 1]),
            guest: .init(handlerNs: 5000, runNs: 30000, eoi: "eoimode1"), durationMs: 200),
    ]

    public static func named(_ name: String) -> Scenario? { all.first { $0.name == name } }

    /// A shipped scenario by name, or a scenario file by path.
    public static func resolve(_ nameOrPath: String) throws -> Scenario {
        if let s = named(nameOrPath) { return s }
        if nameOrPath.hasSuffix(".json") || nameOrPath.contains("/") { return try Scenario.load(path: nameOrPath) }
        throw IrqtraceError("no scenario named \"\(nameOrPath)\"", hint: "irqtrace sim --list shows the shipped scenarios; or give a scenario .json file")
    }
}
