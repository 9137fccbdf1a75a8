import TraceFormat

/// The KVM x86 adapter's handler of each event kind, dispatched by ``KVMX86Adapter/handle(_:_:catalog:)``
/// after the checks every event makes (ended KVM calls, missing acks, halts). One function per kind
/// keeps each small: the common `kvm_entry`/`kvm_exit` pay for their own few locals, not for the
/// stack frame and spills of the rare kinds' diagnostics.
extension KVMX86Adapter {
    /// The event a handler works on, besides its batch: its index, its template's fields, its slot
    /// row and its thread (plain values: nothing retained per event).
    struct EventAt {
        let i: Int
        let f: FieldRef
        let row: EventRow
        let thread: Int32
    }

    /// Whether APIC `k` is a destination (``LocalAPIC/matches(destination:logical:shorthand:source:)``),
    /// asked of the APIC in place: `machine.apics[k].matches(…)` would copy the whole LAPIC first.
    @inline(__always)
    func apic(_ k: Int, matches destination: UInt32, logical: Bool, shorthand: LocalAPIC.Shorthand = .none, source: UInt32? = nil) -> Bool {
        machine.apics.withUnsafeBufferPointer { $0[k].matches(destination: destination, logical: logical, shorthand: shorthand, source: source) }
    }

    /// Whether an APIC other than `k` is a destination of `m` (the APICs are borrowed, not copied).
    func anotherAPICMatches(_ m: X86Machine.Message, besides k: Int) -> Bool {
        machine.apics.withUnsafeBufferPointer { apics in
            apics.indices.contains {
                $0 != k && apics[$0].matches(destination: m.destination, logical: m.logical, shorthand: m.shorthand, source: m.source)
            }
        }
    }

    /// A numeric field of the event (0 when the template lacks it).
    @inline(__always)
    func n(_ field: Field, _ b: EventBatch, _ ev: EventAt) -> Int64 { handlers.number(ev.f, field, b, row: ev.row) ?? 0 }

    /// A field of the event as text ("" when the template lacks it).
    func text(_ field: Field, _ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) -> String {
        handlers.text(ev.f, field, b, ev.i, catalog[b.templates[ev.i]]) ?? ""
    }

    /// A per-event test of symbolic text (kept per template when the text is fixed template text).
    @inline(__always)
    mutating func flag(_ field: Field, _ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog, _ test: (String) -> Bool) -> Bool {
        handlers.code(ev.f, field, b, ev.i, catalog[b.templates[ev.i]]) { test($0) ? 1 : 0 } == 1
    }

    mutating func deliveryMode(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) -> DeliveryMode {
        let c = handlers.code(ev.f, .delivery_mode, b, ev.i, catalog[b.templates[ev.i]]) { Int16((DeliveryMode(kvmName: $0) ?? .fixed).rawValue) }
        return DeliveryMode(rawValue: UInt8(c)) ?? .fixed
    }

    /// `kvm_mmio`: IOAPIC window reads and writes, the guest's own EOI write.
    @inline(never)
    mutating func onMMIO(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread, f = ev.f
        let gpa = UInt64(bitPattern: n(.gpa, b, ev)), value = UInt32(truncatingIfNeeded: n(.value, b, ev))
        // kvm_mmio's type: 1 read, 2 write (one classifier for the field: its result is kept per template).
        let access = handlers.code(f, .type, b, i, catalog[b.template(i)]) { $0 == "read" ? 1 : $0 == "write" ? 2 : 0 }
        if access == 1 {
            // A read of a redirection entry through the IOAPIC window.
            guard gpa == 0xFEC0_0010, let expected = machine.ioapic.readRegister(select: machine.ioapic.registerSelect) else { return }
            report.observationsTotal &+= 1
            if midFlight, expected != value, adoptIOAPICRead(value: value) { return }
            report.observationsChecked &+= 1
            if expected != value {
                diverge(b, i, "IOAPIC register 0x\(String(machine.ioapic.registerSelect, radix: 16)) read",
                        expected: "0x\(String(expected, radix: 16))", observed: "0x\(String(value, radix: 16))")
            }
            return
        }
        guard access == 2 else { return }
        if gpa == 0xFEE0_00B0 {
            // The guest's own EOI write (its kvm_apic and kvm_eoi follow on this thread).
            if flavour == .pvm { guestEOIWrites.insert(thread) }
            return
        }
        if gpa == 0xFEC0_0000 {
            machine.ioapic.registerSelect = UInt8(truncatingIfNeeded: value)
            mid.selectKnown = true
        } else if gpa == 0xFEC0_0010 {
            let select = machine.ioapic.registerSelect
            let d = machine.ioapic.writeRegister(select: select, value: value)
            if select >= 0x10 && (Int(select) - 0x10) / 2 < IOAPIC.pinCount {
                let pin = (Int(select) - 0x10) / 2
                if select & 1 == 0 { mid.rteLowWritten |= 1 << UInt32(pin) } else { mid.rteHighWritten |= 1 << UInt32(pin) }
                mid.rteKnown |= mid.rteLowWritten & mid.rteHighWritten
                if !machine.ioapic.entries[pin].masked { everUnmasked |= 1 << UInt32(pin) }
                note(.routeWritten, b, i, irq: Int64(pin), value: Int64(bitPattern: machine.ioapic.entries[pin].bits))
            }
            if let d {
                send(X86Machine.Message(d.entry), b, i, thread: thread, from: .ioapic, pin: d.pin)
                if d.entry.levelTriggered { note(.remoteIRRSet, b, i, vector: Int64(d.entry.vector), irq: Int64(d.pin)) }
            }
        }
    }

    /// `kvm_apic`: LAPIC register writes (applied) and reads (checked).
    @inline(never)
    mutating func onAPICRegister(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        let reg = text(.reg, b, ev, catalog), value = UInt32(truncatingIfNeeded: n(.value, b, ev))
        guard let offset = registerOffset(reg, template: b.template(i)) else { return }
        if flag(.rw, b, ev, catalog, { $0 == "write" }) {
            if offset == 0xB0 { return } // EOI: handled at kvm_eoi
            if let a = boundAPIC(thread) { write(apic(a), offset, value, thread: thread) } else { unbound[thread, default: []].append((reg, value)) }
            return
        }
        report.observationsTotal &+= 1
        if offset == 0x20 {
            // The guest reads its own APIC ID (every OS does at bring-up): xAPIC has it in bits 31:24,
            // x2APIC reads give the whole ID. It binds the thread to its vCPU.
            let id = value & 0xFF_FFFF == 0 ? value >> 24 : value
            report.observationsChecked &+= 1
            if let a = boundAPIC(thread) {
                if a != id { diverge(b, i, "LAPIC APIC_ID read", expected: "APIC ID \(a) (this thread's vCPU)", observed: "APIC ID \(id)") }
            } else {
                bind(thread, to: id)
            }
            return
        }
        guard let a = boundAPIC(thread) else { report.unchecked["kvm_apic (read, vCPU not known yet)", default: 0] += 1; return }
        let k = apic(a)
        if flavour == .pvm { adoptFaultedDelivery(b, i, k: k, offset: offset, value: value) }
        // (Read in place: `let apicState = machine.apics[k]` copied the whole LAPIC on every read.)
        let expected: UInt32? = machine.apics.withUnsafeBufferPointer { apics in
            switch offset {
            case 0xA0: UInt32(apics[k].ppr)
            case 0x80: UInt32(apics[k].tpr)
            case 0x100...0x170 where offset % 0x10 == 0: apics[k].isr.register(Int(offset - 0x100) / 0x10)
            case 0x180...0x1F0 where offset % 0x10 == 0: apics[k].tmr.register(Int(offset - 0x180) / 0x10)
            case 0x200...0x270 where offset % 0x10 == 0: apics[k].irr.register(Int(offset - 0x200) / 0x10)
            default: nil
            }
        }
        guard let expected else { report.unchecked["kvm_apic (read \(reg))", default: 0] += 1; return }
        if midFlight, expected != value, adoptRegisterRead(k: k, offset: offset, value: value) { return }
        report.observationsChecked &+= 1
        if expected != value {
            diverge(b, i, "LAPIC \(reg) read", expected: "0x\(String(expected, radix: 16))", observed: "0x\(String(value, radix: 16))", state: describe(k))
        }
    }

    /// `kvm_msi_set_irq`: a message whose acceptances follow on this thread.
    mutating func onMSI(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        let vector = n(.vector, b, ev), dest = n(.dest, b, ev)
        note(.raised, b, i, cpu: dest, vector: vector)
        let mode = deliveryMode(b, ev, catalog)
        send(X86Machine.Message(
            vector: UInt8(truncatingIfNeeded: vector), destination: UInt32(truncatingIfNeeded: dest),
            logical: flag(.dest_mode, b, ev, catalog, { $0 == "logical" }), mode: mode, levelTriggered: flag(.trigger_mode, b, ev, catalog, { $0 == "level" }),
            redirectionHint: flag(.redirection_hint, b, ev, catalog, { $0.contains("rh") })), b, i, thread: thread, from: .msi)
    }

    /// `kvm_apic_ipi`: an IPI message whose acceptances follow on this thread.
    @inline(never)
    mutating func onIPI(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        note(.raised, b, i, cpu: n(.dest, b, ev), vector: n(.vector, b, ev))
        let mode = deliveryMode(b, ev, catalog)
        let shorthand: LocalAPIC.Shorthand
        switch text(.shorthand, b, ev, catalog) {
        case "self": shorthand = .selfOnly
        case "all": shorthand = .allIncludingSelf
        case "all-but-self": shorthand = .allExcludingSelf
        default: shorthand = .none
        }
        send(X86Machine.Message(
            vector: UInt8(truncatingIfNeeded: n(.vector, b, ev)), destination: UInt32(truncatingIfNeeded: n(.dest, b, ev)),
            logical: flag(.dest_mode, b, ev, catalog, { $0 == "logical" }), mode: mode, levelTriggered: flag(.trigger_mode, b, ev, catalog, { $0 == "level" }),
            level: flag(.level, b, ev, catalog, { $0 == "assert" }), shorthand: shorthand, source: binding[thread]), b, i, thread: thread, from: .ipi)
    }

    /// `kvm_set_irq`: a GSI line change (the 8259's line state, the IOAPIC pin).
    @inline(never)
    mutating func onSetIRQ(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        let gsi = Int(n(.gsi, b, ev))
        if midFlight { mid.lastPin[thread] = (gsi, false) }
        if gsi >= 0 && gsi < 16 {
            // KVM's irq_states: the line is the OR over source ids.
            var sources = picLines[gsi] ?? []
            if n(.level, b, ev) != 0 { sources.insert(Int(n(.source, b, ev))) } else { sources.remove(Int(n(.source, b, ev))) }
            picLines[gsi] = sources
            lastSetIRQ[thread] = !sources.isEmpty
        }
        guard gsi >= 0 && gsi < IOAPIC.pinCount else { return }
        let e = machine.ioapic.entries[gsi]
        note(n(.level, b, ev) != 0 ? .raised : .lineLowered, b, i, vector: Int64(e.vector), irq: Int64(gsi))
        switch machine.ioapic.setLine(pin: gsi, level: n(.level, b, ev) != 0, source: Int(n(.source, b, ev))) {
        case .delivered(let d):
            send(X86Machine.Message(d.entry), b, i, thread: thread, from: .ioapic, pin: gsi)
            if d.entry.levelTriggered { note(.remoteIRRSet, b, i, vector: Int64(d.entry.vector), irq: Int64(gsi)) }
        case .masked where !e.levelTriggered:
            note(.maskedEdge, b, i, cpu: e.logical ? -1 : Int64(e.destination), vector: Int64(e.vector), irq: Int64(gsi),
                 aux: everUnmasked & (1 << UInt32(gsi)) != 0 ? 1 : 0)
        default: break
        }
    }

    /// `kvm_ioapic_set_irq`: the pin's redirection entry as the guest programmed it.
    @inline(never)
    mutating func onIOAPICSetIRQ(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i
        report.observationsTotal &+= 1
        report.observationsChecked &+= 1
        let pin = Int(n(.pin, b, ev))
        guard pin >= 0 && pin < IOAPIC.pinCount else { return }
        let e = machine.ioapic.entries[pin]
        let expected = "vec \(e.vector) dst \(e.destination) \(e.levelTriggered ? "level" : "edge")\(e.masked ? " masked" : "")"
        let observed = "vec \(n(.vector, b, ev)) dst \(n(.dest, b, ev)) \(text(.trigger_mode, b, ev, catalog))\(text(.masked, b, ev, catalog).contains("masked") ? " masked" : "")"
        if expected != observed, midFlight, !rteKnown(pin) {
            adoptRTE(pin: pin, vector: n(.vector, b, ev), dest: n(.dest, b, ev), level: text(.trigger_mode, b, ev, catalog) == "level",
                     masked: text(.masked, b, ev, catalog).contains("masked"), logical: text(.dest_mode, b, ev, catalog) == "logical")
            report.observationsChecked -= 1
            return
        }
        if midFlight { mid.rteKnown |= 1 << UInt32(pin) }
        if expected != observed {
            diverge(b, i, "redirection entry of pin \(pin)", expected: expected, observed: observed,
                    state: "RTE \(pin) = 0x\(String(e.bits, radix: 16))")
        }
    }

    /// A message to exactly this APIC ID in physical mode, no shorthand: it matches whatever the APIC's
    /// mode (xAPIC compares the low byte, x2APIC the whole ID, and KVM's 0xFF-to-x2APIC quirk makes it a
    /// broadcast). The usual MSI's test, taken before ``LocalAPIC/Addressing/matches(destination:logical:shorthand:source:)``,
    /// which the compiler kept out of line (its arguments repacked per call: ~70 instructions each,
    /// two per acceptance).
    @inline(__always)
    static func physicallyTo(_ m: X86Machine.Message, _ id: UInt32) -> Bool {
        !m.logical && m.shorthand == .none && m.destination == id
    }

    /// `kvm_apic_accept_irq`: an acceptance, matched against the messages pending on its thread.
    @inline(never)
    mutating func onAccept(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog, firstOnThread: Bool) {
        let i = ev.i, thread = ev.thread
        let apicID = UInt32(truncatingIfNeeded: n(.apicid, b, ev)), vector = UInt8(truncatingIfNeeded: n(.vector, b, ev))
        let trigger = flag(.trigger_mode, b, ev, catalog, { $0 == "level" })
        let k = apic(apicID)
        var source = (from: MessageSource.msi, pin: Int64(-1))
        // The thread's record, created when new (the acceptance is remembered on it below). It is
        // moved out and worked on as a local (reading its list in the map copied the whole record),
        // and goes back before anything else reads or changes `messageThreads`.
        let t = messageThreads.slot(of: thread, orInsert: MessageThread())
        var rec = messageThreads.take(slot: t)
        if !rec.pending.isEmpty {
            // Its list is moved out of it too, so both are mutated in place; they go back below.
            // (What needs the record is handed it; `bind` gets it back first.)
            var list: [X86Machine.Message] = []
            swap(&list, &rec.pending)
            let lastSend = rec.lastSend
            if let s = lastSend { source = (s.source, Int64(s.pin)) }
            report.observationsTotal &+= 1
            report.observationsChecked &+= 1
            // Messages before the first one this acceptance matches were accepted by no APIC: each
            // is one divergence (not a cascade of mismatches on every later acceptance).
            // (A loop against the accepting LAPIC's addressing, taken once — not `first(where:)` or a
            // method of the adapter or the LAPIC: a closure capturing the adapter, or a call passing
            // it or the LAPIC, copied the whole 1.2 KB adapter or 136-byte LAPIC per acceptance.)
            let addressing = machine.apics.withUnsafeBufferPointer { $0[k].addressing }
            var first: Int?
            for j in list.indices {
                let c = list[j]
                if c.vector == vector && c.levelTriggered == trigger
                    && (c.shorthand == .selfOnly || Self.physicallyTo(c, addressing.id)
                        || addressing.matches(destination: c.destination, logical: c.logical, shorthand: c.shorthand, source: c.source)) {
                    first = j
                    break
                }
            }
            if let j = first, j > 0 {
                // (A head some APIC already accepted was delivered: the rest of its destinations declined.)
                for (idx, lost) in list[0..<j].enumerated() where !(idx == 0 && rec.headAccepted) {
                    dropped(lost, at: (b.eventIndex(i), b.time(i)), origin: lastSend,
                            observed: "vector \(vector) accepted at APIC \(apicID) next", state: describe(k))
                }
                list.removeFirst(j)
                rec.headAccepted = false
            }
            var m = list[0]
            if m.shorthand == .selfOnly && m.source == nil {
                // A self IPI from a thread whose vCPU is not known yet: the accepting APIC is its own.
                m.source = apicID
                if binding[thread] == nil {
                    // (Its earlier register writes replay with the record in place, its list still out.)
                    messageThreads.put(slot: t, consume rec)
                    bind(thread, to: apicID)
                    rec = messageThreads.take(slot: t)
                }
            }
            // (Read again: binding the thread above replays its earlier register writes, LDR and DFR included.)
            let ownID = machine.apics.withUnsafeBufferPointer { $0[k].id }
            var matches = Self.physicallyTo(m, ownID) || machine.apics.withUnsafeBufferPointer { $0[k].addressing }
                .matches(destination: m.destination, logical: m.logical, shorthand: m.shorthand, source: m.source)
            if !matches, midFlight, m.logical, !mid.ldrKnown.contains(apicID), m.vector == vector, m.levelTriggered == trigger {
                // A logical destination the trace never set up (LDR written before it).
                adopt("logical destination")
                matches = true
            }
            if !matches, midFlight, let s = lastSend, s.source == .ioapic, s.pin >= 0, !rteKnown(Int(s.pin)),
               m.vector == vector, m.levelTriggered == trigger {
                // The entry's destination half was written before the trace: take it from the acceptance.
                adoptRTEDestination(pin: Int(s.pin), apicID: apicID)
                matches = true
            }
            if m.vector != vector || m.levelTriggered != trigger || !matches {
                diverge(b, i, "interrupt accepted by APIC \(apicID)",
                        expected: "vector \(m.vector) \(m.levelTriggered ? "level" : "edge") to \(m.logical ? "logical" : "physical") \(m.destination)",
                        observed: "vector \(vector) \(trigger ? "level" : "edge") at APIC \(apicID)", state: describe(k))
            }
            // A message goes to every destination it matches; drop it once no other known APIC remains.
            let unicast = m.shorthand == .none && !m.logical && m.destination != 0xFF
            if unicast || !anotherAPICMatches(m, besides: k) {
                // (One message, the usual case: removeLast keeps the buffer without removeFirst's shuffle.)
                if list.count == 1 { list.removeLast() } else { list.removeFirst() }
                rec.headAccepted = false
            } else {
                rec.headAccepted = true
            }
            // (closeIfDone without reading the list back out of the record)
            if list.isEmpty, rec.close() { openThreadCount -= 1 }
            swap(&list, &rec.pending)
            rec.lastAccept = Acceptance(apicID: apicID, vector: vector)
            messageThreads.put(slot: t, consume rec)
        } else {
            // (The acceptance is remembered on the record as it goes back: only kvm_apicv_accept_irq,
            // a later event, reads it.)
            rec.lastAccept = Acceptance(apicID: apicID, vector: vector)
            messageThreads.put(slot: t, consume rec)
            if !trigger, localSource(apicID: apicID, vector: vector) != nil {
                // A local interrupt (LAPIC timer, LINT, error): its LVT entry gives this vector.
                source = (.local, -1)
                note(.raised, b, i, cpu: Int64(apicID), vector: Int64(vector))
                report.observationsTotal &+= 1
                report.observationsChecked &+= 1
            } else if trigger, let d = delayedPins.firstIndex(where: { pin in
                let e = machine.ioapic.entries[pin]
                return e.vector == vector && apic(k, matches: UInt32(e.destination), logical: e.logical)
            }) {
                // The delayed re-delivery of a level pin (kvm_ioapic_eoi_inject_work).
                let pin = delayedPins.remove(at: d)
                source = (.ioapic, Int64(pin))
                machine.ioapic.entries[pin].remoteIRR = true
                report.observationsTotal &+= 1
                report.observationsChecked &+= 1
            } else if let pin = adoptDeliveryThroughUnknownPin(thread: thread, apicID: apicID, vector: vector, level: trigger) {
                source = (.ioapic, Int64(pin))
                report.observationsTotal &+= 1
            } else if firstOnThread {
                // Its message was sent before the trace began.
                adopt("acceptance of a message")
                report.observationsTotal &+= 1
            } else {
                report.observationsTotal &+= 1
                report.observationsChecked &+= 1
                diverge(b, i, "interrupt accepted by APIC \(apicID)", expected: "no message on the APIC bus from this thread",
                        observed: "vector \(vector) \(trigger ? "level" : "edge")", state: describe(k))
            }
        }
        if machine.apics[k].irr.contains(vector) {
            // aux: the source, | 0x100 when the LAPIC could deliver the vector then (above PPR).
            let open: Int64 = (vector & 0xF0) > machine.apics[k].ppr ? 0x100 : 0
            note(.coalesced, b, i, cpu: Int64(apicID), vector: Int64(vector), value: source.pin, aux: source.from.rawValue | open)
            coalescedAccepts[UInt64(apicID) << 8 | UInt64(vector)] = (b.time(i), b.cpu(i), false)
        } else {
            acceptTimes[UInt64(apicID) << 8 | UInt64(vector)] = AcceptTime(time: b.time(i), cpu: b.cpu(i))
        }
        if midFlight { mid.accepted.insert(UInt64(apicID) << 8 | UInt64(vector)) }
        if let d = deferred.firstIndex(where: { $0.apicID == apicID && $0.vector == vector && $0.cpu != b.cpu(i) }) {
            // The injection printed before this acceptance on another CPU happened after it.
            deferred.remove(at: d)
            report.reordered += 1
            report.observationsChecked &+= 1
            machine.apics[k].isr.insert(vector)
            note(.accepted, b, i, cpu: Int64(apicID), vector: Int64(vector), aux: trigger ? 1 : 0)
            note(.delivered, b, i, cpu: Int64(apicID), vector: Int64(vector), value: Int64(machine.apics[k].ppr), aux: Int64(vector))
            return
        }
        if boundAPICs.contains(apicID) {
            _ = machine.apics[k].accept(vector: vector, mode: .fixed, level: true, trigger: trigger)
        } else {
            // The APIC's own writes (SPIV enable) are not attributed yet: KVM traced the acceptance,
            // so take it as accepted (kvm_apic_accept_irq fires before the enable check).
            machine.apics[k].irr.insert(vector)
            if trigger { machine.apics[k].tmr.insert(vector) } else { machine.apics[k].tmr.remove(vector) }
        }
        if recordTransitions {
            // (In place, not a copy; PPR computed once.)
            let open = machine.apics.withUnsafeBufferPointer { a in
                let p = a[k].ppr
                return (vector & 0xF0) > p && a[k].deliverable(ppr: p) != nil
            }
            note(.accepted, b, i, cpu: Int64(apicID), vector: Int64(vector), value: open ? 1 : 0,
                 aux: (trigger ? 1 : 0) | postedBits(apicID: apicID, k: k))
        }
    }

    /// VMX/SVM `kvm_eoi`: the guest's EOI (``guestEOI(_:_:k:apicID:vector:thread:)``).
    mutating func onGuestEOI(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        let apicID = UInt32(truncatingIfNeeded: n(.apicid, b, ev)), vector = n(.vector, b, ev)
        guestEOI(b, i, k: apic(apicID), apicID: apicID, vector: vector, thread: thread)
    }

    /// `kvm_inj_virq` (VMX/SVM; not Soft/INTn).
    mutating func onInject(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        guard flavour.delegatesDeliveryToGuestEOI, !flag(.kind, b, ev, catalog, { $0.hasPrefix("Soft") }) else { return }  // Soft/INTn: an INT instruction
        inject(b, i, vector: UInt8(truncatingIfNeeded: n(.vector, b, ev)), reinjected: flag(.reinjected, b, ev, catalog, { $0.contains("reinjected") }), thread: thread)
    }

    /// `kvm_pv_eoi`: repeats the `kvm_eoi` before it.
    @inline(never)
    mutating func onPVEOI(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        // apic_sync_pv_eoi_from_guest: apic_set_eoi (traced as kvm_eoi) then kvm_pv_eoi with its result.
        report.observationsTotal &+= 1
        guard let last = lastEOI[thread] else { report.unchecked["kvm_pv_eoi (no kvm_eoi before it)", default: 0] += 1; return }
        report.observationsChecked &+= 1
        if last != n(.vector, b, ev) { diverge(b, i, "PV EOI", expected: "vector \(last) (the kvm_eoi before it)", observed: "vector \(n(.vector, b, ev))") }
    }

    /// `kvm_apicv_accept_irq`: posted by APICv/AVIC.
    @inline(never)
    mutating func onAPICvAccept(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        // Posted to the vCPU by APICv/AVIC: the hardware delivers and EOIs it from now on.
        let apicID = UInt32(truncatingIfNeeded: n(.apicid, b, ev)), vector = UInt8(truncatingIfNeeded: n(.vector, b, ev))
        hardwareDelivered.insert(apicID)
        report.observationsTotal &+= 1
        report.observationsChecked &+= 1
        if let t = messageThreads.slot(of: thread), let last = messageThreads[slot: t].lastAccept, last != Acceptance(apicID: apicID, vector: vector) {
            diverge(b, i, "APICv acceptance", expected: "apicid \(last.apicID) vec \(last.vector) (the kvm_apic_accept_irq before it)",
                    observed: "apicid \(apicID) vec \(vector)")
        }
        if flavour == .vmx || flavour == .hardware { postedAccept(b, i, apicID: apicID, vector: vector) }
    }

    /// `kvm_exit`: out of guest mode (a HLT exit blocks the vCPU).
    mutating func onExit(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        // VMX/SVM: a HLT exit blocks the vCPU until its wakeup (or next entry).
        guard let a = boundAPIC(thread) else { return }
        // (A code kept per template: the reason is template text, and a String compare per exit cost
        // its retain, release and compare.)
        let hlt = flag(.reason, b, ev, catalog, { $0 == "HLT" })
        if flavour != .pvm { postedExit(b, i, apicID: a, hlt: hlt) }
        if recordTransitions, hlt && haltedAPICs.insert(a) { note(.halted, b, i, cpu: Int64(a)) }
    }

    /// `kvm_entry`: into guest mode.
    mutating func onEntry(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        guard let a = boundAPIC(thread) else { return }
        if recordTransitions, haltedAPICs.remove(a) { note(.woke, b, i, cpu: Int64(a)) }
        if flavour != .pvm { postedEntry(b, i, apicID: a) }
    }

    /// `kvm_ioapic_delayed_eoi_inj`.
    @inline(never)
    mutating func onDelayedEOI(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let thread = ev.thread
        // KVM delayed a level pin's re-delivery after 10,000 successive EOIs. The models count
        // them too; only a trace that starts mid-storm can disagree (the count began before it).
        if midFlight { adoptDelayedRedelivery(vector: UInt8(truncatingIfNeeded: n(.vector, b, ev)), thread: thread) }
    }

    /// `kvm_pi_irte_update`.
    @inline(never)
    mutating func onPostedIRTE(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        // VT-d posted interrupts (kvm_pi_irte_update "PI is enabled for irq …, vcpu V, … gvec X"): the
        // device now posts X into vCPU V's PI descriptor, and the CPU delivers it, all without KVM
        // seeing it. That vCPU's IRR/ISR are the hardware's from here on (deliveries and EOIs unchecked).
        if text(.state, b, ev, catalog).hasPrefix("enabled") {
            hardwareDelivered.insert(UInt32(truncatingIfNeeded: n(.vcpu, b, ev)))
            postedRoute(vcpu: UInt32(truncatingIfNeeded: n(.vcpu, b, ev)))
        }
    }

    /// `kvm_pio`: 8259 and ELCR port writes.
    @inline(never)
    mutating func onPIO(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        guard text(.rw, b, ev, catalog) == "write" else { return }
        let port = n(.port, b, ev), value = UInt8(truncatingIfNeeded: n(.value, b, ev))
        switch port {
        case 0x20, 0x21:
            pic.master.write(Int(port & 1), value)
            if port == 0x20 && value & 0x10 != 0 { mid.picKnown |= 1 }   // ICW1
        case 0xA0, 0xA1:
            pic.slave.write(Int(port & 1), value)
            if port == 0xA0 && value & 0x10 != 0 { mid.picKnown |= 2 }
        case 0x4D0: pic.master.elcr = value & 0xF8        // kvm elcr_mask: 0xf8 master, 0xde slave
        case 0x4D1: pic.slave.elcr = value & 0xDE
        default: return
        }
        pic.cascade()
    }

    /// `kvm_pic_set_irq`: the 8259 input's state after the line change.
    @inline(never)
    mutating func onPICSetIRQ(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        // kvm_pic_set_irq traces after pic_set_irq1: the input's ELCR and IMR bits, and whether it
        // coalesced (pending already, unmasked). The line state comes from the kvm_set_irq before it.
        picActive = true
        report.observationsTotal &+= 1
        let chip = Int(n(.chip, b, ev)), pin = Int(n(.pin, b, ev))
        guard chip == 0 || chip == 1, pin >= 0 && pin < 8, let level = lastSetIRQ[thread] else {
            report.unchecked["kvm_pic_set_irq (no kvm_set_irq before it)", default: 0] += 1
            return
        }
        lastSetIRQ[thread] = nil
        let mask = UInt8(1) << UInt8(pin)
        let already = chip == 0 ? pic.master.setIRQ(pin, level: level) : pic.slave.setIRQ(pin, level: level)
        let c = chip == 0 ? pic.master : pic.slave
        pic.cascade()
        let expected = "(\(c.elcr & mask != 0 ? "level" : "edge")\(c.imr & mask != 0 ? "|masked" : ""))\(already && c.imr & mask == 0 ? " (coalesced)" : "")"
        let observed = "(\(text(.trigger_mode, b, ev, catalog))\(text(.masked, b, ev, catalog)))\(text(.coalesced, b, ev, catalog))"
        if expected != observed, midFlight, mid.picKnown & (1 << UInt8(chip)) == 0 {
            // Initialised before the trace: take the input's mask and trigger bits as printed.
            if chip == 0 {
                pic.master.imr = text(.masked, b, ev, catalog).contains("masked") ? pic.master.imr | mask : pic.master.imr & ~mask
                pic.master.elcr = text(.trigger_mode, b, ev, catalog) == "level" ? pic.master.elcr | mask : pic.master.elcr & ~mask
            } else {
                pic.slave.imr = text(.masked, b, ev, catalog).contains("masked") ? pic.slave.imr | mask : pic.slave.imr & ~mask
                pic.slave.elcr = text(.trigger_mode, b, ev, catalog) == "level" ? pic.slave.elcr | mask : pic.slave.elcr & ~mask
            }
            adopt("8259 input")
            return
        }
        report.observationsChecked &+= 1
        if expected != observed {
            diverge(b, i, "8259 input \(chip * 8 + pin)", expected: expected, observed: observed,
                    state: "IRR 0x\(String(c.irr, radix: 16)) IMR 0x\(String(c.imr, radix: 16)) ELCR 0x\(String(c.elcr, radix: 16))")
        }
    }

    /// pvm `kvm_eoi`: the delivery-time EOI (or the guest's own, after its EOI write).
    @inline(never)
    mutating func onDeliveryEOI(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        let apicID = UInt32(truncatingIfNeeded: n(.apicid, b, ev)), vector = n(.vector, b, ev)
        let k = apic(apicID)
        if binding[thread] == nil { bind(thread, to: apicID) }
        report.observationsTotal &+= 1
        report.observationsChecked &+= 1
        let byGuest = guestEOIWrites.remove(thread) != nil
        if byGuest, vector >= 0, let top = machine.apics[k].isr.highest, top == UInt8(truncatingIfNeeded: vector) {
            // The guest's EOI retires a vector left in service (its delivery faulted in the guest).
            let v = top
            note(.eoi, b, i, cpu: Int64(apicID), vector: Int64(v))
            machine.apics[k].isr.remove(v)
            if machine.apics[k].tmr.contains(v) { ioapicEOI(b, i, v, thread: thread, level: true) }
            return
        }
        if vector < 0 {
            if let v = machine.apics[k].isr.highest, vectorUnknown(apicID, v) {
                adopt("EOI with an empty ISR"); report.observationsChecked -= 1
                machine.apics[k].isr.remove(v)
            } else if let v = machine.apics[k].isr.highest {
                diverge(b, i, "EOI with an empty ISR", expected: "vector \(v) retired", observed: "vector -1", state: describe(k))
            }
            return
        }
        let v = UInt8(truncatingIfNeeded: vector)
        var expected = machine.apics[k].deliverable
        let key = UInt64(apicID) << 8 | UInt64(v)
        if expected != v, let c = coalescedAccepts[key], c.armed {
            // The merged acceptance happened after the earlier delivery: it set IRR again.
            machine.apics[k].irr.insert(v)
            expected = machine.apics[k].deliverable
            report.reordered += 1
            coalescedAccepts[key] = nil
        } else if expected == v, let c = coalescedAccepts[key] {
            // This delivery consumes the vector; a merged acceptance printed on another CPU within the
            // skew window before it may have come after it.
            if c.cpu != b.cpu(i) && b.time(i) - c.time <= Self.reorderWindowNs { coalescedAccepts[key]!.armed = true } else { coalescedAccepts[key] = nil }
        }
        if expected != v, vectorUnknown(apicID, v) {
            // Pending since before the trace (or behind vectors that were): adopt.
            adopt("delivery of a vector")
            report.observationsChecked -= 1
            adoptLevelEOI(b, i, k: k, vector: v, thread: thread)
        } else if expected != v {
            diverge(b, i, "vector delivered to APIC \(apicID)", expected: expected.map { "vector \($0)" } ?? "none deliverable",
                    observed: "vector \(v)", state: describe(k))
        }
        note(.delivered, b, i, cpu: Int64(apicID), vector: Int64(v), value: Int64(machine.apics[k].ppr), aux: expected.map(Int64.init) ?? -1)
        note(.eoi, b, i, cpu: Int64(apicID), vector: Int64(v))
        // Delivered and EOI'd at once: IRR → (ISR) → retired; a level vector's EOI reaches the IOAPIC.
        machine.apics[k].irr.remove(v)
        if machine.apics[k].tmr.contains(v) { ioapicEOI(b, i, v, thread: thread, level: true) }
    }

    /// `kvm_vcpu_wakeup`.
    @inline(never)
    mutating func onWakeup(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        if flavour != .pvm, recordTransitions, !haltedAPICs.isEmpty, let a = boundAPIC(thread), haltedAPICs.remove(a) { note(.woke, b, i, cpu: Int64(a)) }
        guard flavour == .pvm else {
            if !hardwareDelivered.isEmpty, let a = boundAPIC(thread), hardwareDelivered.contains(a) { postedWakeup(apicID: a) }
            return
        }
        // The vCPU blocked in HLT for `time_ns`: nothing deliverable can have been pending when it
        // blocked (pvm delivers pending interrupts at HLT), or the wakeup was lost.
        guard text(.kind, b, ev, catalog) == "wait", let a = boundAPIC(thread) else { return }
        let k = apic(a)
        let blockedAt = b.time(i) - n(.time_ns, b, ev)
        report.observationsTotal &+= 1
        report.observationsChecked &+= 1
        let apicState = machine.apics[k]
        let stale = apicState.irr.vectors.reversed().first { v in
            (v & 0xF0) > apicState.ppr && (acceptTimes[UInt64(a) << 8 | UInt64(v)].map { $0.time + Self.reorderWindowNs < blockedAt } ?? false)
        }
        if recordTransitions { haltEnds[thread] = HaltEnd(apic: a, blockedAt: blockedAt, event: b.eventIndex(i), time: b.time(i)) }
        if let v = stale, let t = acceptTimes[UInt64(a) << 8 | UInt64(v)]?.time {
            note(.haltedWithPending, b, i, cpu: Int64(a), vector: Int64(v), value: blockedAt, aux: HaltEvidence.pendingAtHalt.rawValue)
            diverge(b, i, "vCPU of APIC \(a) halted with a deliverable interrupt pending",
                    expected: "vector \(v) (accepted \(blockedAt - t) ns before the halt) delivered before halting",
                    observed: "halted for \(n(.time_ns, b, ev)) ns", state: describe(k))
        }
    }

    /// `kvm_ack_irq` of the IOAPIC.
    @inline(never)
    mutating func onAck(_ b: EventBatch, _ ev: EventAt, _ catalog: TemplateCatalog) {
        let i = ev.i, thread = ev.thread
        guard text(.irqchip, b, ev, catalog) == "IOAPIC" else { return }
        report.observationsTotal &+= 1
        report.observationsChecked &+= 1
        let pin = Int(n(.pin, b, ev))
        guard pin >= 0 && pin < IOAPIC.pinCount else { return }
        if let k = pendingAcks[thread]?.firstIndex(of: pin) {
            pendingAcks[thread]!.remove(at: k)
            if pendingAcks[thread]!.isEmpty { threadsAwaitingAcks -= 1 }
        } else if midFlight && (!rteKnown(pin) || vectorUnknown(UInt32(machine.ioapic.entries[pin].destination), machine.ioapic.entries[pin].vector)) {
            adopt("IOAPIC ack of a pin"); report.observationsChecked -= 1
            machine.ioapic.entries[pin].remoteIRR = false
            mid.lastPin[thread] = (pin, true)
        } else {
            diverge(b, i, "IOAPIC ack of pin \(pin)", expected: "\(pendingAcks[thread] ?? [])", observed: "pin \(pin)",
                    state: "RTE \(pin) = 0x\(String(machine.ioapic.entries[pin].bits, radix: 16))")
        }
    }
}
