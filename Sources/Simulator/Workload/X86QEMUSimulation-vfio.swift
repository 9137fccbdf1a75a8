import Replayer

/// A VFIO-assigned MSI-X device (`"kind": "vfio-msix"`) in the `qemu-x86` output: QEMU 7.2 under
/// TCG, where every interrupt of the device goes through QEMU's own eventfd handler
/// (hw/vfio/pci.c `vfio_msi_interrupt`: no KVM irqfd), and its MSI-X table is QEMU's (hw/pci/msix.c),
/// with the guest's per-vector masking visible through VFIO's vector notifiers:
///
/// - boot (Linux `pci_enable_msix`: MSI-X enabled with the function masked, every entry masked;
///   QEMU `vfio_msix_enable`): `vfio_msix_vector_do_use` and `vfio_msix_pba_disable` of vector 0,
///   `vfio_msix_vector_release` of 0, `vfio_msix_enable`; then `request_irq` unmasks each queue's
///   entry: `vfio_msix_vector_do_use`, `vfio_msix_pba_disable`;
/// - the guest driver masks a queue's vector in its hard-irq handler and unmasks it when it has
///   polled (NAPI-like; the table writes are untraced, the notifiers print `… released` and
///   `… used` on the vCPU's thread), and masks around an affinity change (Linux's
///   `__pci_write_msi_msg` masks an unmasked MSI-X entry while it rewrites the message);
/// - an interrupt is `vfio_msi_interrupt … vector N addr/data` on the main loop; for a masked
///   vector after `vfio_msix_pba_enable`, and then nothing more (the pending bit is latched); for an
///   unmasked one, its message on the APIC bus (through the IOMMU with remapping);
/// - the unmask of a vector with its pending bit set sends the message at once on the unmasking
///   vCPU's thread (`msix_handle_mask_update` → `msix_notify`), after the `… used` line (and
///   `vfio_msix_pba_disable` when no other vector of the device is pending).
///
/// The host's view (vfio-pci in the host kernel, the physical device) is in no QEMU event.
extension X86QEMUSimulation {
    /// The device's host PCI address as VFIO names it (`vbasedev.name`), `0000:BB:00.0` with bus
    /// 1 + the device's index (validated ≤ 9): domain, bus, slot.
    func hostAddress(_ i: Int) -> (Int64, Int64, Int64) { (0, Int64(1 + i), 0) }

    mutating func vfio(_ line: QEMUVFIOLine, _ i: Int, thread: Int, _ a: Int64 = 0, _ b: Int64 = 0, _ c: Int64 = 0) throws {
        let (domain, bus, slot) = hostAddress(i)
        try lines.emit(QEMUX86Line.allCases.count + line.rawValue, thread: thread, time: tick(), domain, bus, slot, a, b, c)
    }

    /// The message in queue `q`'s MSI-X table entry: Linux's compatibility format (physical fixed),
    /// or with remapping its remappable format (handle = IRTE index, SHV).
    func msixMessage(_ i: Int, _ q: Int) -> MSIMessage {
        let d = devices[i]
        if remapping { return remappableMSI(index: d.irteIndex[q]) }
        return MSIMessage(address: 0xFEE0_0000 | UInt64(d.targets[q]) << 12, data: UInt32(d.vector + q))
    }

    /// `msi_send_message`: the APIC bus, through the IOMMU with remapping.
    mutating func send(_ m: MSIMessage, thread: Int) throws {
        if remapping { try remap(m, thread: thread) } else { try deliver(m, thread: thread) }
    }

    /// Linux enables MSI-X (QEMU `vfio_msix_enable`), then unmasks each queue's entry.
    mutating func enableVFIO(_ i: Int, by v: Int) throws {
        let t = vcpuThreads[v]
        try vfio(.vectorUse, i, thread: t, 0)
        try vfio(.pbaDisable, i, thread: t)
        try vfio(.vectorRelease, i, thread: t, 0)
        try vfio(.msixEnable, i, thread: t)
        for q in devices[i].targets.indices { try unmask(i, q, thread: t) }
    }

    /// A table write masks entry `q` (QEMU `msix_handle_mask_update` → VFIO's release notifier).
    mutating func mask(_ i: Int, _ q: Int, thread: Int) throws {
        guard !devices[i].masked[q] else { return }
        devices[i].masked[q] = true
        try vfio(.vectorRelease, i, thread: thread, Int64(q))
    }

    /// A table write unmasks entry `q`: VFIO's use notifier (which clears VFIO's pending bit and
    /// disables PBA emulation when nothing else is pending), then the pending message, if any.
    mutating func unmask(_ i: Int, _ q: Int, thread: Int) throws {
        guard devices[i].masked[q] else { return }
        devices[i].masked[q] = false
        try vfio(.vectorUse, i, thread: thread, Int64(q))
        devices[i].vfioPending[q] = false
        if !devices[i].vfioPending.contains(true) { try vfio(.pbaDisable, i, thread: thread) }
        guard devices[i].pba[q] else { return }
        devices[i].pba[q] = false
        let m = msixMessage(i, q)
        if faults.due(F.msixUnmaskLost, now) {
            // The function clears the pending bit without sending the message.
            truth("msix-unmask-lost", "lost_interrupt", cpu: devices[i].targets[q], vector: devices[i].vector + q, irq: q,
                  "\(scenario.devices[i].name) MSI-X entry \(q) (vector \(devices[i].vector + q)) unmasked with its pending bit set: the pending bit was cleared and the message never sent")
            return
        }
        try send(m, thread: thread)
    }

    /// The device signals queue `q` (QEMU `vfio_msi_interrupt` → `msix_notify`).
    mutating func vfioInterrupt(_ i: Int, _ q: Int) throws {
        let m = msixMessage(i, q)
        if devices[i].masked[q] {
            devices[i].vfioPending[q] = true
            devices[i].pba[q] = true
            try vfio(.pbaEnable, i, thread: mainThread)
            try vfio(.interrupt, i, thread: mainThread, Int64(q), Int64(bitPattern: m.address), Int64(m.data))
            return
        }
        try vfio(.interrupt, i, thread: mainThread, Int64(q), Int64(bitPattern: m.address), Int64(m.data))
        try send(m, thread: mainThread)
    }

    /// The queue of a VFIO device whose vector this is.
    @inline(__always)   // out of line, a call from a mutating method copied all of `self`
    func vfioQueue(of vector: UInt8) -> (device: Int, queue: Int)? {
        let i = vectorDevice[Int(vector)]
        guard i >= 0, devices[i].kind == .vfio else { return nil }
        let q = Int(vector) - devices[i].vector
        return q >= 0 && q < devices[i].targets.count ? (i, q) : nil
    }

    /// The driver's hard-irq handler masks its queue's vector (NAPI-like) ...
    mutating func maskVFIOVector(_ vector: UInt8, by v: Int) throws {
        guard let (i, q) = vfioQueue(of: vector) else { return }
        try mask(i, q, thread: vcpuThreads[v])
    }

    /// ... and unmasks it when it has polled, before the EOI.
    mutating func unmaskVFIOVector(_ vector: UInt8, by v: Int) throws {
        guard let (i, q) = vfioQueue(of: vector) else { return }
        try unmask(i, q, thread: vcpuThreads[v])
    }

    /// An affinity change without remapping: Linux masks the unmasked entry, rewrites its message
    /// (untraced) and unmasks it, on a vCPU free to run it. A queue masked by its handler is moved
    /// another time (its pending message would go to the new address, which no event shows).
    mutating func moveVFIOQueue(_ i: Int, _ q: Int, to target: Int) throws -> Bool {
        guard !devices[i].masked[q] else { return true }
        guard let v = cpus.indices.first(where: { !cpus[$0].halted && !cpus[$0].busy }) else { return false }
        try mask(i, q, thread: vcpuThreads[v])
        devices[i].targets[q] = target
        try unmask(i, q, thread: vcpuThreads[v])
        return true
    }
}
