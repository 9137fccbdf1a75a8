import TraceFormat

/// A trace that starts mid-flight (a flight-recorder window, a live recording attached to running
/// guests) begins with state the models cannot know: redirection entries programmed earlier, vectors
/// pending or in service, TPRs, 8259 masks. With ``KVMX86Adapter/midFlight`` set, an observation that
/// disagrees with the models **about state never established inside the trace** is adopted — the
/// models take the state the event shows — and counted as unchecked ("state from before the trace
/// began") instead of reported; once a pin is written, a vector accepted or a register written in the
/// trace, it is checked as usual. A trace recorded from reset never sets it, so nothing is hidden there.
struct MidFlightKnowledge {
    /// Pins whose redirection entry the trace wrote (or an event showed whole); the two 32-bit halves
    /// are written separately, so a trace may start between them.
    var rteKnown: UInt32 = 0
    var rteLowWritten: UInt32 = 0
    var rteHighWritten: UInt32 = 0
    /// IOREGSEL written inside the trace.
    var selectKnown = false
    /// Threads seen so far.
    var threadsSeen = IntSet<Int32>()
    /// APICs whose logical destination (LDR, DFR) the trace wrote.
    var ldrKnown = IntSet<UInt32>()
    /// (APIC ID << 8 | vector) accepted inside the trace: its IRR/ISR/TMR state is the models'.
    var accepted = IntSet<UInt64>()
    /// APICs whose TPR the trace wrote.
    var tprKnown = IntSet<UInt32>()
    /// 8259 chips (0 master, 1 slave) initialised inside the trace (ICW1).
    var picKnown: UInt8 = 0
    /// The pin of the last kvm_set_irq, or of an adopted IOAPIC ack, on each thread: an acceptance
    /// with no predicted message after it is that pin's delivery through an entry programmed before
    /// the trace (after an ack: the re-delivery of a line asserted before the trace).
    var lastPin = IntMap<Int32, (pin: Int, afterAck: Bool)>()
    /// Observations adopted.
    var adopted = 0
}

extension KVMX86Adapter {
    static let beforeTrace = "(state from before the trace began: adopted)"

    /// Counts one adoption under `what`.
    mutating func adopt(_ what: String) {
        mid.adopted += 1
        report.unchecked["\(what) \(Self.beforeTrace)", default: 0] += 1
    }

    func rteKnown(_ pin: Int) -> Bool { mid.rteKnown & (1 << UInt32(pin)) != 0 }

    /// kvm_ioapic_set_irq printed an entry the models disagree with and the trace never wrote it:
    /// take it (vector, destination, trigger, mask; physical, fixed).
    mutating func adoptRTE(pin: Int, vector: Int64, dest: Int64, level: Bool, masked: Bool, logical: Bool) {
        var bits: UInt64 = UInt64(UInt8(truncatingIfNeeded: vector)) | UInt64(UInt8(truncatingIfNeeded: dest)) << 56
        if level { bits |= 1 << 15 }
        if masked { bits |= 1 << 16 }
        if logical { bits |= 1 << 11 }
        let old = machine.ioapic.entries[pin]
        if old.remoteIRR && level { bits |= 1 << 14 }
        machine.ioapic.entries[pin].bits = bits
        mid.rteKnown |= 1 << UInt32(pin)
        adopt("redirection entry of a pin")
    }

    /// An acceptance no model predicted on a thread whose last kvm_set_irq hit a pin the trace never
    /// programmed: that pin delivered through its earlier entry. Takes vector, trigger and
    /// destination from the acceptance (the kvm_ioapic_set_irq after it completes the entry).
    mutating func adoptDeliveryThroughUnknownPin(thread: Int32, apicID: UInt32, vector: UInt8, level: Bool) -> Int? {
        guard midFlight, let (pin, afterAck) = mid.lastPin[thread], !rteKnown(pin) || afterAck else { return nil }
        mid.lastPin[thread] = nil
        var bits: UInt64 = UInt64(vector) | UInt64(UInt8(truncatingIfNeeded: apicID)) << 56
        if level { bits |= 1 << 15 | 1 << 14 }   // delivered level: Remote IRR set
        machine.ioapic.entries[pin].bits = bits
        mid.rteKnown |= 1 << UInt32(pin)
        if afterAck && level {
            // Re-delivered at the EOI: the line has been high since before the trace (KVM's
            // userspace source id 0 until a kvm_set_irq says otherwise).
            machine.ioapic.irr |= 1 << UInt32(pin)
            machine.ioapic.sources[pin] |= 1
        }
        adopt("acceptance through a pin")
        return pin
    }

    /// A delivery, injection or EOI of a vector the trace never saw accepted at this APIC.
    func vectorUnknown(_ apicID: UInt32, _ v: UInt8) -> Bool {
        midFlight && !mid.accepted.contains(UInt64(apicID) << 8 | UInt64(v))
    }

    /// A level vector from before the trace is EOId: its pin's Remote IRR clears as in the models,
    /// when an entry with that vector is known to be level (the TMR bit was set before the trace).
    mutating func adoptLevelEOI(_ b: EventBatch, _ i: Int, k: Int, vector v: UInt8, thread: Int32) {
        let level = machine.ioapic.entries.indices.contains { machine.ioapic.entries[$0].vector == v && machine.ioapic.entries[$0].levelTriggered && rteKnown($0) }
        if level && !machine.apics[k].tmr.contains(v) { ioapicEOI(b, i, v, thread: thread, level: true) }
    }
}

extension KVMX86Adapter {
    /// A LAPIC register read disagrees with the models: when the register holds state from before
    /// the trace (vectors never accepted in it, a TPR never written), take the value read. True when
    /// adopted.
    mutating func adoptRegisterRead(k: Int, offset: UInt32, value: UInt32) -> Bool {
        let id = machine.apics[k].id
        func adoptBits(_ base: UInt32, _ apply: (inout LocalAPIC, UInt8, Bool) -> Void) -> Bool {
            let r = Int(offset - base) / 0x10
            // Only bits of vectors the trace never accepted may change.
            for bit in 0..<32 {
                let v = UInt8(r * 32 + bit)
                let observed = value & (1 << UInt32(bit)) != 0
                if !vectorUnknown(id, v) {
                    let model: UInt32
                    switch base {
                    case 0x100: model = machine.apics[k].isr.register(r)
                    case 0x180: model = machine.apics[k].tmr.register(r)
                    default: model = machine.apics[k].irr.register(r)
                    }
                    if (model & (1 << UInt32(bit)) != 0) != observed { return false }
                }
            }
            for bit in 0..<32 {
                let v = UInt8(r * 32 + bit)
                if vectorUnknown(id, v) { apply(&machine.apics[k], v, value & (1 << UInt32(bit)) != 0) }
            }
            return true
        }
        let done: Bool
        switch offset {
        case 0x80 where !mid.tprKnown.contains(id):
            machine.apics[k].tpr = UInt8(truncatingIfNeeded: value)
            mid.tprKnown.insert(id)
            done = true
        case 0xA0 where !mid.tprKnown.contains(id):
            done = true   // PPR depends on a TPR from before the trace
        case 0x100...0x170 where offset % 0x10 == 0:
            done = adoptBits(0x100) { a, v, on in if on { a.isr.insert(v) } else { a.isr.remove(v) } }
        case 0x180...0x1F0 where offset % 0x10 == 0:
            done = adoptBits(0x180) { a, v, on in if on { a.tmr.insert(v) } else { a.tmr.remove(v) } }
        case 0x200...0x270 where offset % 0x10 == 0:
            done = adoptBits(0x200) { a, v, on in if on { a.irr.insert(v) } else { a.irr.remove(v) } }
        default:
            done = false
        }
        if done { adopt("LAPIC register read") }
        return done
    }
}

extension KVMX86Adapter {
    /// kvm_ioapic_delayed_eoi_inj where the models re-delivered at once: the successive-EOI count
    /// began before the trace. Take the delay (the kworker's acceptance comes ~10 ms later).
    mutating func adoptDelayedRedelivery(vector v: UInt8, thread: Int32) {
        guard let pin = machine.ioapic.entries.indices.first(where: { machine.ioapic.entries[$0].vector == v && machine.ioapic.entries[$0].levelTriggered }),
              !delayedPins.contains(pin),
              let t = messageThreads.slot(of: thread),
              let j = messageThreads[slot: t].pending.firstIndex(where: { $0.vector == v && $0.levelTriggered }) else { return }
        messageThreads[slot: t].pending.remove(at: j)
        closeIfDone(thread)
        delayedPins.append(pin)
        machine.ioapic.successiveEOIs[pin] = 0
        adopt("successive-EOI count")
    }
}

extension KVMX86Adapter {
    /// An IOAPIC window read disagrees: when IOREGSEL or the redirection-entry half it selects was
    /// written before the trace, take the value read. True when adopted.
    mutating func adoptIOAPICRead(value: UInt32) -> Bool {
        guard mid.selectKnown else { adopt("IOAPIC register read (IOREGSEL)"); return true }
        let select = machine.ioapic.registerSelect
        guard select >= 0x10, (Int(select) - 0x10) / 2 < IOAPIC.pinCount else { return false }
        let pin = (Int(select) - 0x10) / 2
        let bit = UInt32(1) << UInt32(pin)
        let high = select & 1 == 1
        guard (high ? mid.rteHighWritten : mid.rteLowWritten) & bit == 0 else { return false }
        var bits = machine.ioapic.entries[pin].bits
        bits = high ? (bits & 0xFFFF_FFFF) | UInt64(value) << 32 : (bits & ~0xFFFF_FFFF) | UInt64(value)
        machine.ioapic.entries[pin].bits = bits
        if high { mid.rteHighWritten |= bit } else { mid.rteLowWritten |= bit }
        mid.rteKnown |= mid.rteLowWritten & mid.rteHighWritten
        adopt("IOAPIC register read")
        return true
    }
}

extension KVMX86Adapter {
    /// Physical destination `apicID` for `pin`, whose high half the trace never wrote.
    mutating func adoptRTEDestination(pin: Int, apicID: UInt32) {
        var bits = machine.ioapic.entries[pin].bits
        bits = (bits & 0x00FF_FFFF_FFFF_F7FF) | UInt64(UInt8(truncatingIfNeeded: apicID)) << 56
        machine.ioapic.entries[pin].bits = bits
        mid.rteHighWritten |= 1 << UInt32(pin)
        mid.rteKnown |= mid.rteLowWritten & mid.rteHighWritten
        adopt("redirection entry destination")
    }
}
