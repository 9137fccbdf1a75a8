import TraceFormat

/// A VFIO-assigned device's MSI-X in a QEMU 7.2 x86 log (hw/vfio/trace-events; hw/vfio/pci.c and
/// hw/pci/msix.c), replayed on an ``MSIXTable`` per device:
///
/// - `vfio_msix_vector_release … vector N released` / `vfio_msix_vector_do_use … vector N used`: QEMU's
///   MSI-X core calls VFIO's vector notifiers when a vector's effective mask (its Mask Bit or the
///   Function Mask) changes (`msix_handle_mask_update` → `msix_fire_vector_notifier`); the table
///   write itself is not traced. (`vfio_msix_enable` also prints a use and a release of vector 0.)
/// - `vfio_msix_pba_enable`, then `vfio_msi_interrupt … vector N addr/data`: an interrupt of a masked
///   vector (`vfio_msi_interrupt` enables PBA emulation first); `msix_notify` then latches the
///   pending bit and sends nothing. Without the PBA line the vector was unmasked and its message
///   (the address/data printed) follows on the same thread: `apic_deliver_irq`, or the IOMMU's
///   `vtd_ir_remap_msi_req` chain with interrupt remapping.
/// - a use of a vector whose pending bit the model latched: `msix_handle_mask_update` clears it and
///   sends the message right after the notifier, on the unmasking vCPU's thread (only
///   `vfio_msix_pba_disable` may come between). Anything else next on that thread is a divergence
///   and a ``Transition/DropReason/msixUnmaskNotSent`` drop: the interrupt is lost.
///
/// Checked: each interrupt's masked state against the model (once the vector's mask was shown by a
/// notifier), each unmasked interrupt's message on the APIC bus, and each unmask's pending message.
/// The vector's state before its first notifier or masked interrupt is unknown (unchecked).
/// Tested on simulated traces and unit tests only: no VFIO device was available to record one.
extension QEMUX86Adapter {
    /// The largest MSI-X table (Table Size is 11 bits).
    static let msixVectors = 2048

    struct VFIODevice: Codable {
        let key: Int64
        /// Enabled, function unmasked: the notifiers report the effective mask, which is what the
        /// table's per-vector Mask Bit stands for here.
        var table = MSIXTable(vectors: QEMUX86Adapter.msixVectors, enabled: true)
        var maskKnown = [Bool](repeating: false, count: QEMUX86Adapter.msixVectors)
        var messageKnown = [Bool](repeating: false, count: QEMUX86Adapter.msixVectors)

        init(key: Int64) { self.key = key }

        /// A snapshot stores only the vectors the log has shown (a table has 2048 entries).
        struct ShownVector: Codable {
            var vector: Int, address: UInt64, data: UInt32
            var masked: Bool, pending: Bool, maskKnown: Bool, messageKnown: Bool
        }
        enum CodingKeys: String, CodingKey { case key, vectors }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            self.init(key: try c.decode(Int64.self, forKey: .key))
            for v in try c.decode([ShownVector].self, forKey: .vectors) where v.vector >= 0 && v.vector < QEMUX86Adapter.msixVectors {
                table.writeMessage(v.vector, MSIMessage(address: v.address, data: v.data))
                // A pending bit is latched while masked (the adapter's tables never mask the function).
                if v.pending { _ = table.signal(v.vector) }
                _ = table.setMask(v.vector, masked: v.masked || v.pending)
                maskKnown[v.vector] = v.maskKnown
                messageKnown[v.vector] = v.messageKnown
            }
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(key, forKey: .key)
            let shown = (0..<QEMUX86Adapter.msixVectors).filter { maskKnown[$0] || messageKnown[$0] || table.isPending($0) }.map { v in
                let e = table.entries[v]
                return ShownVector(vector: v, address: e.message.address, data: e.message.data, masked: e.masked, pending: table.isPending(v),
                                   maskKnown: maskKnown[v], messageKnown: messageKnown[v])
            }
            try c.encode(shown, forKey: .vectors)
        }
    }

    /// A message the MSI-X core must send next on `thread`: at an unmask with the pending bit set, or
    /// for an interrupt of an unmasked vector (`msix_notify` → `msi_send_message`, synchronous).
    struct VFIOSend: Codable {
        let atUnmask: Bool
        let thread: Int32
        let device: Int
        let vector: Int
        let message: MSIMessage
        let event: Int
        let time: Int64
    }

    mutating func vfioDevice(_ key: Int64) -> Int {
        if let k = vfioDevices.firstIndex(where: { $0.key == key }) { return k }
        vfioDevices.append(VFIODevice(key: key))
        return vfioDevices.count - 1
    }

    mutating func handleVFIO(_ kind: Kind, _ f: FieldRef, thread: Int32, _ b: EventBatch, _ i: Int) {
        let d = vfioDevice(handlers.textKey(f, .name, b, i))
        let v = Int(handlers.number(f, .vector, b, i) ?? -1)
        let valid = v >= 0 && v < Self.msixVectors
        switch kind {
        case .vfioPBAEnable:
            if !vfioPBAThreads.contains(thread) { vfioPBAThreads.append(thread) }
        case .vfioPBADisable, .vfioMSIXEnable:
            break
        case .vfioMSIXDisable:
            // The notifiers are gone until MSI-X is enabled again: masks unknown until shown.
            for k in 0..<Self.msixVectors { vfioDevices[d].maskKnown[k] = false }
        case .vfioVectorUse, .vfioVectorRelease:
            guard valid else { tally.add("vfio_msix_vector_* (vector out of range)"); return }
            let update = vfioDevices[d].table.setMask(v, masked: kind == .vfioVectorRelease)
            vfioDevices[d].maskKnown[v] = true
            guard let sent = update.sent else { return }
            report.observationsTotal += 1
            guard vfioDevices[d].messageKnown[v] else { tally.add("MSI-X unmask with its pending bit set (message not traced yet)"); return }
            report.observationsChecked += 1
            vfioSends.append(VFIOSend(atUnmask: true, thread: thread, device: d, vector: v, message: sent, event: b.eventIndex(i), time: b.time(i)))
        case .vfioInterrupt:
            guard valid else { tally.add("vfio_msi_interrupt (vector out of range)"); return }
            let message = MSIMessage(address: UInt64(bitPattern: handlers.number(f, .addr, b, i) ?? 0),
                                     data: UInt32(truncatingIfNeeded: handlers.number(f, .data, b, i) ?? 0))
            vfioDevices[d].table.writeMessage(v, message)
            vfioDevices[d].messageKnown[v] = true
            // vfio_msi_interrupt prints vfio_msix_pba_enable first, on its thread, when the vector is masked.
            var maskedInLog = false
            if let k = vfioPBAThreads.firstIndex(of: thread) {
                vfioPBAThreads.remove(at: k)
                maskedInLog = true
            }
            report.observationsTotal += 1
            if vfioDevices[d].maskKnown[v] {
                report.observationsChecked += 1
                let masked = vfioDevices[d].table.isMasked(v)
                if masked != maskedInLog {
                    diverge(b, i, "VFIO MSI-X vector \(v) interrupt", expected: masked ? "masked: vfio_msix_pba_enable first, pending bit set, no message"
                                : "unmasked: its message sent", observed: maskedInLog ? "masked (vfio_msix_pba_enable)" : "unmasked (no vfio_msix_pba_enable)",
                            state: "pending \(vfioDevices[d].table.isPending(v))")
                    _ = vfioDevices[d].table.setMask(v, masked: maskedInLog)
                }
            } else {
                tally.add("vfio_msi_interrupt (the vector's mask not shown yet)")
                vfioDevices[d].maskKnown[v] = true
                _ = vfioDevices[d].table.setMask(v, masked: maskedInLog)
            }
            if let sent = vfioDevices[d].table.signal(v) {
                vfioSends.append(VFIOSend(atUnmask: false, thread: thread, device: d, vector: v, message: sent, event: b.eventIndex(i), time: b.time(i)))
            }
        default:
            break
        }
    }

    /// An MSI-X message the function sends on `thread`: without remapping the next `apic_deliver_irq`
    /// there must carry it (checked by the `apic_deliver_irq` handler); with remapping it enters the
    /// IOMMU's chain (whose steps are checked as for any request).
    mutating func expectMSIX(_ m: MSIMessage, thread: Int32) {
        guard !machine.remapping.enabled || !m.remappable else { return }
        chains.with(thread) { c in
            c.expectedDelivery = X86Machine.Message(m)
            c.deliveryFromMSIX = true
        }
    }

    /// The event after an unmask that must send a pending message, on the same thread.
    mutating func checkVFIOSend(_ kind: Kind, _ f: FieldRef, thread: Int32, _ b: EventBatch, _ i: Int, _ catalog: TemplateCatalog) {
        guard let k = vfioSends.firstIndex(where: { $0.thread == thread }) else { return }
        switch kind {
        case .vfioPBADisable:
            return
        case .apicDeliverIRQ, .irRequest:
            let s = vfioSends.remove(at: k)
            let what = s.atUnmask ? "MSI-X vector \(s.vector)'s pending message, sent at its unmask" : "MSI-X vector \(s.vector)'s message (vfio_msi_interrupt)"
            if kind == .irRequest {
                let request = MSIMessage(address: UInt64(bitPattern: handlers.number(f, .addr, b, i) ?? 0),
                                         data: UInt32(truncatingIfNeeded: handlers.number(f, .data, b, i) ?? 0))
                if request != s.message {
                    diverge(b, i, what, expected: "vtd_ir_remap_msi_req \(s.message)",
                            observed: "\(request)", state: "")
                }
            } else {
                expectMSIX(s.message, thread: thread)
            }
        default:
            let s = vfioSends.remove(at: k)
            lostVFIOSend(s, observed: catalog[b.template(i)].name)
        }
    }

    mutating func lostVFIOSend(_ s: VFIOSend, observed: String) {
        let dest = messageDestination(s.message)
        guard s.atUnmask else {
            report.add(Divergence(eventIndex: s.event, timeNs: s.time, what: "interrupt of unmasked MSI-X vector \(s.vector) of a VFIO device (vfio_msi_interrupt)",
                                                 expected: "its message sent at once: \(s.message)", observed: observed + ", no message", state: ""))
            return
        }
        report.add(Divergence(eventIndex: s.event, timeNs: s.time,
                                             what: "MSI-X vector \(s.vector) of a VFIO device unmasked (vfio_msix_vector_do_use) with its pending bit set",
                                             expected: "its pending message sent at once: \(s.message)" + (dest.vector >= 0 ? " (vector \(dest.vector) to APIC \(dest.cpu))" : ""),
                                             observed: observed + ", no message", state: "PBA bit \(s.vector) was set by an interrupt while masked"))
        if recordTransitions {
            transitions.append(Transition(.dropped, event: s.event, time: s.time, cpu: Int32(truncatingIfNeeded: dest.cpu),
                                          vector: Int16(truncatingIfNeeded: dest.vector), irq: Int32(s.vector), value: Int64(s.device),
                                          aux: Transition.DropReason.msixUnmaskNotSent.rawValue))
        }
    }

    /// The APIC ID and vector a message goes to: from the message, or through the IRTE the IOMMU
    /// last read for a remappable one (-1: unknown).
    func messageDestination(_ m: MSIMessage) -> (cpu: Int64, vector: Int64) {
        if m.remappable {
            guard machine.remapping.enabled, let e = machine.remapping.entries[m.remapIndex] else { return (-1, -1) }
            let dest = machine.remapping.extendedInterruptMode ? e.destination : (e.destination & 0xFF00) >> 8
            return (e.logical ? -1 : Int64(dest), Int64(e.vector))
        }
        return (m.logical ? -1 : Int64(m.destination & 0xFF), Int64(m.vector))
    }

    mutating func finishVFIO() {
        for s in vfioSends { lostVFIOSend(s, observed: "end of trace") }
        vfioSends.removeAll()
    }
}
