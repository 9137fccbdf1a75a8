import TraceFormat

/// The model transitions of a QEMU x86 log (``QEMUX86Adapter/recordTransitions``): only what the
/// log's events prove. Appended on the rare IOAPIC and message paths, never per LAPIC register access.
extension QEMUX86Adapter {
    @inline(__always)
    mutating func note(_ kind: Transition.Kind, _ b: EventBatch, _ i: Int, cpu: Int64 = -1, vector: Int64 = -1, irq: Int64 = -1,
                       value: Int64 = 0, aux: Int64 = 0) {
        transitions.append(Transition(kind, event: b.eventIndex(i), time: b.time(i), cpu: Int32(truncatingIfNeeded: cpu),
                                      vector: Int16(truncatingIfNeeded: vector), irq: Int32(truncatingIfNeeded: irq), value: value, aux: aux))
    }

    /// The APIC ID an entry sends to, when it names one (physical, not remappable format): -1 otherwise.
    func physicalDestination(_ e: RedirectionEntry) -> Int64 {
        if e.logical || (machine.remapping.enabled && e.bits & (1 << 48) != 0) || e.destination == 0xFF { return -1 }
        return Int64(e.destination)
    }

    /// A message on the APIC bus (`apic_deliver_irq`: an MSI, or an IOAPIC entry's): ``Transition/Kind/raised``
    /// with `cpu` = its physical destination (-1: logical, broadcast, or not a fixed/lowest-priority
    /// message) and `aux` = where it came from (``KVMX86Adapter/MessageSource``: the IOAPIC, when the
    /// models sent it for an entry, else an MSI); a fixed message with vector 0–15 is ``Transition/Kind/dropped`` (illegal vector,
    /// SDM 10.5.3: QEMU sets the IRR bit, but a vector below 16 is never above the PPR, so never taken).
    mutating func noteMessage(_ m: X86Machine.Message, fromIOAPIC: Bool, _ b: EventBatch, _ i: Int) {
        let physical = !m.logical && m.destination & 0xFF != 0xFF && (m.mode == .fixed || m.mode == .lowestPriority)
        let cpu: Int64 = physical ? Int64(m.destination & 0xFF) : -1
        note(.raised, b, i, cpu: cpu, vector: Int64(m.vector),
             aux: (fromIOAPIC ? KVMX86Adapter.MessageSource.ioapic : KVMX86Adapter.MessageSource.msi).rawValue)
        if physical, m.vector < 16 {
            // `value`: the message's source (an IOAPIC entry with vector 0–15 is one nobody programmed: firmware, boot).
            note(.dropped, b, i, cpu: cpu, vector: Int64(m.vector),
                 value: (fromIOAPIC ? KVMX86Adapter.MessageSource.ioapic : KVMX86Adapter.MessageSource.msi).rawValue,
                 aux: Transition.DropReason.illegalVector.rawValue)
        }
    }

    /// An IOAPIC input changed (`ioapic_set_irq`): an edge on a masked pin is lost (QEMU ignores it,
    /// 82093AA; `aux` = 1 when the pin is in use: the guest unmasked it before and the masked entry
    /// still routes somewhere — a vector ≥ 16, or a remappable entry's IRTE index — rather than an
    /// entry cleared to "masked, vector 0" as Linux leaves unused pins and every pin at shutdown),
    /// a level line going low ends any storm on it.
    mutating func noteLine(pin: Int, _ result: IOAPIC.LineResult, _ b: EventBatch, _ i: Int) {
        guard pin >= 0 && pin < IOAPIC.pinCount else { return }
        let e = machine.ioapic.entries[pin]
        switch result {
        case .masked where !e.levelTriggered:
            note(.maskedEdge, b, i, cpu: physicalDestination(e), vector: Int64(e.vector), irq: Int64(pin),
                 aux: everUnmasked & (1 << UInt32(pin)) != 0 && inUse(e) ? 1 : 0)
        case .lowered:
            note(.lineLowered, b, i, irq: Int64(pin))
        default:
            break
        }
    }

    func inUse(_ e: RedirectionEntry) -> Bool {
        e.vector >= 16 || (machine.remapping.enabled && e.bits & (1 << 48) != 0 && e.bits >> 49 != 0)
    }

    /// A redirection entry's low half written: the route, and whether the guest has unmasked it.
    mutating func noteRouteWritten(pin: Int, _ b: EventBatch, _ i: Int) {
        guard pin >= 0 && pin < IOAPIC.pinCount else { return }
        let e = machine.ioapic.entries[pin]
        if !e.masked { everUnmasked |= 1 << UInt32(pin) }
        if recordTransitions { note(.routeWritten, b, i, irq: Int64(pin), value: Int64(bitPattern: e.bits)) }
    }

    /// An EOI that reached the IOAPIC (`ioapic_eoi_broadcast`: a level vector's EOI): ``Transition/Kind/eoi``
    /// with the vector (`cpu`: the vCPU whose thread wrote it, when threads are bound), and each pin it
    /// re-delivers because its line is still high (``Transition/Kind/redelivered``, `aux` = successive
    /// re-deliveries, `cpu` = the entry's destination).
    mutating func noteEOIBroadcast(vector: UInt8, _ effects: [IOAPIC.EOIEffect], thread: Int32, _ b: EventBatch, _ i: Int) {
        let cpu = registers.attributed ? registers.apicID(of: thread).map(Int64.init) ?? -1 : -1
        note(.eoi, b, i, cpu: cpu, vector: Int64(vector))
        for effect in effects {
            switch effect {
            case .redelivered(let d):
                note(.redelivered, b, i, cpu: physicalDestination(d.entry), vector: Int64(d.entry.vector), irq: Int64(d.pin),
                     aux: Int64(machine.ioapic.successiveEOIs[d.pin]))
            case .delayedRedelivery(let pin):
                note(.redelivered, b, i, cpu: physicalDestination(machine.ioapic.entries[pin]), vector: Int64(vector), irq: Int64(pin),
                     aux: Int64(IOAPIC.successiveEOILimit))
            case .remoteIRRCleared:
                break
            }
        }
    }
}
