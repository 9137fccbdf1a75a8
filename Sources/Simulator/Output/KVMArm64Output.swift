import Replayer
import TraceFormat

/// The `kvm-arm64` output: what an arm64 KVM host (Linux 6.x, VHE, in-kernel vGIC for a GICv2 guest,
/// list registers in hardware, `halt_poll_ns=0`) prints in tracefs `trace` text for the workload
/// with these events enabled: `kvm_entry`, `kvm_exit`, `kvm_wfx_arm64`, `kvm_mmio`,
/// `kvm_userspace_exit`, `kvm_irq_line`, `kvm_timer_update_irq`, `vgic_update_irq_pending`,
/// `kvm_vcpu_wakeup` (``KVMArm64Line``). Each vCPU thread (`CPU n/KVM`) is pinned to host CPU n;
/// QEMU's main loop runs on the next host CPU.
///
/// The hardware vGIC hides the guest's CPU interface: acknowledges (GICC_IAR), priority drops and
/// deactivations (GICC_EOIR, GICC_DIR), PMR writes go to the GICV frame without a trap, so nothing
/// is written for them. What is written:
/// - a device line (QEMU's GICv2m MSI pulse, a level SPI): `kvm_irq_line` (KVM_IRQ_LINE, type SPI)
///   and `vgic_update_irq_pending` on QEMU's thread (arm.c kvm_vm_ioctl_irq_line →
///   kvm_vgic_inject_irq, which traces every call before validating it); a level SPI is lowered by
///   the guest handler's MMIO write to the device: a data-abort exit, `kvm_mmio` write,
///   `kvm_userspace_exit` MMIO, then QEMU's KVM_IRQ_LINE level 0 on the vCPU thread, `kvm_entry`;
/// - a vCPU an interrupt is queued for (vgic_queue_irq_unlock → kvm_vcpu_kick): if it is running,
///   an IRQ exit and an entry; if it is in WFI, nothing until it wakes;
/// - the timer PPI (kvm_arch_timer_handler on an IRQ exit when it fires while the vCPU runs:
///   `kvm_timer_update_irq` level 1 and its injection); the fall when the guest reprograms the timer
///   is not traced then (the mapped interrupt's level is resampled from the hardware), only at the
///   next vcpu_load;
/// - WFI: the trap (`kvm_exit` WFx, `kvm_wfx_arm64`); the wakeup: the vcpu_load of the thread's
///   sched-in (kvm_timer_vcpu_load_gic: `kvm_timer_update_irq` of the vtimer and ptimer with their
///   current levels, each injected), `kvm_vcpu_wakeup` (wait time), `kvm_entry`;
/// - distributor accesses (GICD_SGIR, ITARGETSR, boot-time set-up) trap to the in-kernel vGIC: a
///   data-abort exit, `kvm_mmio` (write; or unsatisfied-read then read), the kicks of SGI targets,
///   `kvm_entry`. vgic-mmio has no tracepoint of its own, and an SGI's queuing traces nothing.
struct KVMArm64Output: GICOutput {
    static let name = "kvm-arm64"
    /// QEMU virt's GIC distributor frame (hw/arm/virt.c VIRT_GIC_DIST).
    static let distributorBase: Int64 = 0x0800_0000
    /// Guest PCs the exits print (fixed: the simulated guest has no instruction stream).
    static let pcRunning = Int64(bitPattern: 0xFFFF_8000_8001_A2C4)
    /// cpu_do_idle's WFI.
    static let pcIdle = Int64(bitPattern: 0xFFFF_8000_80F3_B0A8)
    /// The irqchip driver's distributor writel.
    static let pcDistributor = Int64(bitPattern: 0xFFFF_8000_808C_1E34)
    /// A device driver's writel.
    static let pcDevice = Int64(bitPattern: 0xFFFF_8000_80A5_2C10)

    let out: LineWriter
    /// `out`, unretained, for the per-event emit.
    let lines: Unmanaged<LineWriter>
    let mainThread: Int
    let vcpuThreads: [Int]
    /// In WFI (blocked in kvm_vcpu_halt), since when.
    var halted: [Bool]
    var haltedSince: [Int64]
    /// The workload timer's line per vCPU as the model has it (its level at the next vcpu_load).
    var timerHigh: [Bool]
    let timerIRQ: Int
    /// The other arch timer KVM loads on a VHE host (vtimer 27 / ptimer 30).
    let otherTimerIRQ: Int
    /// Level SPI → the device register the guest handler writes to clear its cause (gpa, value).
    var causeRegister: [Int: (gpa: Int64, value: Int64)] = [:]

    init(writer: TraceWriter, scenario: Scenario) {
        let lines = LineWriter(style: .ftrace, writer: writer, formats: KVMArm64Line.formats)
        let n = scenario.vcpus
        vcpuThreads = (0..<n).map { v in lines.addThread(SimThread(comm: "CPU \(v)/KVM", pid: Int32(6102 + v), cpu: Int32(v))) }
        mainThread = lines.addThread(SimThread(comm: "qemu-system-aar", pid: 6100, cpu: Int32(n)))
        out = lines
        self.lines = .passUnretained(lines)
        halted = Array(repeating: false, count: n)
        haltedSince = Array(repeating: 0, count: n)
        timerHigh = Array(repeating: false, count: n)
        timerIRQ = scenario.timer?.irq ?? 27
        otherTimerIRQ = timerIRQ == 30 ? 27 : 30
        // virt's PL011 at 0x09000000 (UARTICR 0x44: clear RX and RX-timeout); other level devices are
        // virtio-mmio transports at 0x0a000000 + 0x200·k (InterruptACK 0x64: clear the used-ring bit).
        var transport: Int64 = 0
        for d in scenario.devices where d.kind == "spi-level" {
            guard let irq = d.irq else { continue }
            if d.name.lowercased().hasPrefix("pl011") {
                causeRegister[irq] = (0x0900_0044, 0x50)
            } else {
                causeRegister[irq] = (0x0A00_0000 + 0x200 * transport + 0x64, 1)
                transport += 1
            }
        }
    }

    var writer: TraceWriter { out.writer }
    var eventCount: Int { out.eventCount }

    @inline(__always)
    func emit(_ line: KVMArm64Line, _ thread: Int, _ t: inout GICTime, _ a: Int64 = 0, _ b: Int64 = 0, _ c: Int64 = 0,
              _ d: Int64 = 0) throws {
        try lines.emit(line.rawValue, thread: thread, time: t.tick(), a, b, c, d)
    }

    /// kvm_vcpu_kick of a vCPU in the guest: the IPI makes it exit and it re-enters at once.
    func kick(_ v: Int, _ t: inout GICTime) throws {
        guard !halted[v] else { return }
        try emit(.exitIRQ, vcpuThreads[v], &t, 0, Self.pcRunning)
        try emit(.entry, vcpuThreads[v], &t, Self.pcRunning)
    }

    func kick(_ mask: UInt8, except: Int, _ t: inout GICTime) throws {
        guard mask != 0 else { return }
        for v in 0..<vcpuThreads.count where v != except && mask & UInt8(1 << v) != 0 { try kick(v, &t) }
    }

    /// The lr-overwrite fault: KVM queued the interrupt and kicked its vCPU, then lost it from the
    /// list register. A running vCPU exits and re-enters; one in WFI wakes (its vcpu_load), enters
    /// with nothing to take and traps on WFI again.
    mutating func kickLost(_ mask: UInt8, _ t: inout GICTime) throws {
        guard mask != 0 else { return }
        for v in 0..<vcpuThreads.count where mask & UInt8(1 << v) != 0 {
            if halted[v] {
                try wake(v, &t)
                try waitsForInterrupt(v, &t)
            } else {
                try kick(v, &t)
            }
        }
    }

    mutating func lineChanged(irq: Int, high: Bool, cpuMask: UInt8, target: UInt8, by: GICActor, queued: UInt8, lost: UInt8,
                              _ t: inout GICTime) throws {
        if irq < 32 {
            // The arch timer PPI of one vCPU.
            let v = cpuMask.trailingZeroBitCount
            guard v < timerHigh.count else { return }
            timerHigh[v] = high
            // Fired while the vCPU runs: the host takes the timer interrupt (an IRQ exit) and injects
            // it. In WFI: the background timer wakes the thread; the level shows at its vcpu_load.
            guard by == .device, high, !halted[v] else { return }
            let th = vcpuThreads[v]
            try emit(.exitIRQ, th, &t, 0, Self.pcRunning)
            try emit(.timerUpdate, th, &t, Int64(v), Int64(irq), 1)
            try emit(.pending, th, &t, Int64(v), Int64(irq), 1)
            try emit(.entry, th, &t, Self.pcRunning)
            return
        }
        switch by {
        case .device:
            try emit(.irqLineSPI, mainThread, &t, 1, 0, Int64(irq), high ? 1 : 0)
            try emit(.pending, mainThread, &t, 0, Int64(irq), high ? 1 : 0)
            try kick(queued, except: -1, &t)
            try kickLost(lost, &t)
        case .vcpu(let v):
            // The guest handler clears the device's cause: an MMIO write QEMU emulates on the vCPU's
            // thread, which lowers the line with KVM_IRQ_LINE before re-entering.
            let th = vcpuThreads[v]
            let reg = causeRegister[irq] ?? (0x0A00_0064, 1)
            try emit(.exitDataAbort, th, &t, 0x24, Self.pcDevice)
            try emit(.mmioWrite, th, &t, 4, reg.gpa, reg.value)
            try emit(.userspaceExit, th, &t, 6)
            try emit(.irqLineSPI, th, &t, 1, 0, Int64(irq), high ? 1 : 0)
            try emit(.pending, th, &t, 0, Int64(irq), high ? 1 : 0)
            try kick(queued, except: v, &t)
            try emit(.entry, th, &t, Self.pcDevice + 4)
        }
    }

    func updated(_ u: GICv2.Update, by: GICActor, _ t: inout GICTime) throws {}

    func distributorWrite(offset: Int, size: Int, value: UInt32, by cpu: Int, _ t: inout GICTime) throws {
        let th = vcpuThreads[cpu]
        try emit(.exitDataAbort, th, &t, 0x24, Self.pcDistributor)
        try emit(.mmioWrite, th, &t, Int64(size), Self.distributorBase + Int64(offset), Int64(value))
    }

    func distributorWriteDone(by cpu: Int, queued: UInt8, _ t: inout GICTime) throws {
        try kick(queued, except: cpu, &t)
        try emit(.entry, vcpuThreads[cpu], &t, Self.pcDistributor + 4)
    }

    func interruptEnabled(_ irq: Int, by cpu: Int, _ t: inout GICTime) throws {}

    func distributorRead(offset: Int, value: UInt32, by cpu: Int, _ t: inout GICTime) throws {
        let th = vcpuThreads[cpu]
        try emit(.exitDataAbort, th, &t, 0x24, Self.pcDistributor)
        try emit(.mmioUnsatisfiedRead, th, &t, 4, Self.distributorBase + Int64(offset), 0)
        try emit(.mmioRead, th, &t, 4, Self.distributorBase + Int64(offset), Int64(value))
        try emit(.entry, th, &t, Self.pcDistributor + 4)
    }

    func cpuInterfaceWrite(cpu: Int, offset: Int, value: UInt32, _ t: inout GICTime) throws {}
    func cpuInterfaceRead(cpu: Int, offset: Int, value: UInt32, _ t: inout GICTime) throws {}
    func acknowledging(cpu: Int, shown: UInt32, _ t: inout GICTime) throws {}

    mutating func waitsForInterrupt(_ v: Int, _ t: inout GICTime) throws {
        guard !halted[v] else { return }
        let th = vcpuThreads[v]
        try emit(.exitWFx, th, &t, 0x01, Self.pcIdle)
        try emit(.wfi, th, &t, Self.pcIdle)
        halted[v] = true
        haltedSince[v] = t.now
    }

    mutating func takesInterrupt(_ v: Int, _ t: inout GICTime) throws {
        if halted[v] { try wake(v, &t) }
    }

    /// A vCPU blocked in WFI wakes and re-enters the guest.
    mutating func wake(_ v: Int, _ t: inout GICTime) throws {
        halted[v] = false
        let th = vcpuThreads[v]
        let waited = t.now - haltedSince[v]
        // kvm_sched_in → kvm_arch_vcpu_load → kvm_timer_vcpu_load: both timers' levels, injected.
        let level: Int64 = timerHigh[v] ? 1 : 0
        try emit(.timerUpdate, th, &t, Int64(v), Int64(timerIRQ), level)
        try emit(.pending, th, &t, Int64(v), Int64(timerIRQ), level)
        try emit(.timerUpdate, th, &t, Int64(v), Int64(otherTimerIRQ), 0)
        try emit(.pending, th, &t, Int64(v), Int64(otherTimerIRQ), 0)
        try emit(.wakeup, th, &t, waited)
        try emit(.entry, th, &t, Self.pcIdle + 4)
    }
}
