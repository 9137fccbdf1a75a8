import TraceFormat

/// Replays QEMU's x86 interrupt-controller trace events (QEMU 7.2 `-trace apic_* ioapic_* vtd_ir_*`)
/// on the x86 models with QEMU's rules, and checks what QEMU reports against them:
///
/// - stimuli: IOAPIC register writes (`ioapic_mem_write`), line changes (`ioapic_set_irq`, ISA IRQ0
///   routed to pin 2), EOIs reaching the IOAPIC (`ioapic_eoi_broadcast`), MSI requests into the IOMMU
///   (`vtd_ir_remap_msi_req`), IRTE contents as the IOMMU reads them (`vtd_ir_irte_get`), remapping
///   enable (`vtd_ir_enable`), MSIs without interrupt remapping (`apic_deliver_irq` with nothing pending);
/// - observations checked: Remote IRR set and clear (`ioapic_set_remote_irr`, `ioapic_clear_remote_irr`),
///   the IRTE index an IOAPIC or MSI request selects (`vtd_ir_irte_get`), the remapped fields
///   (`vtd_ir_remap`), the translated message (`vtd_ir_remap_msi`), and the message that reaches the APIC
///   bus (`apic_deliver_irq`);
/// - AMD-Vi (`amdvi_ir_*`, QEMU 7.2's amdvi_int_remap_msi): the delivery mode printed, the IRTE's
///   offset and format (Control.GAEn from `amdvi_control_status`), the result against
///   ``AMDVIRemapping`` applied to the IRTE QEMU read, and faults; the DTE is not traced but for
///   IntCtl, so its IV and pass bits are inferred from which events follow.
///
/// Expectations are kept per thread: QEMU's device model and vCPU threads interleave in the log, but
/// each causal chain (line change → Remote IRR → remapping → APIC bus) runs on one thread.
public struct QEMUX86Adapter {
    public internal(set) var machine: X86Machine
    public internal(set) var report: ReplayReport

    /// What a thread's current causal chain still has to show.
    /// A reference per thread: the handlers update it in place (no copy of its lists per event).
    /// Adapters are not copied while replaying, so sharing cannot leak between runs.
    final class Chain {
        var expectedRemoteIRRSet: [Int] = []
        var expectedRemoteIRRClear: [(pin: Int, vector: UInt8)] = []
        /// The MSI request the IOAPIC made, which the IOMMU must receive next.
        var expectedRequest: MSIMessage?
        /// The request in the IOMMU, and whether the IOAPIC sent it (as the models predicted).
        var request: MSIMessage?
        var requestFromIOAPIC = false
        /// The message that must reach the APIC bus.
        var expectedDelivery: X86Machine.Message?
        /// The expected delivery is a VFIO device's MSI-X message (QEMUX86Adapter-vfio.swift), not the IOAPIC's.
        var deliveryFromMSIX = false
        /// AMD-Vi: the request in the IOMMU, and what QEMU showed of its DTE and IRTE so far:
        /// `amdvi_ir_delivery_mode` only follows a DTE with IV = 1, `amdvi_ir_intctl` gives its
        /// IntCtl, `amdvi_ir_irte` the IRTE's table offset and `amdvi_ir_irte(_ga)_val` the IRTE.
        var amdRequest: MSIMessage?
        var amdRemapValid = false
        var amdIntCtl: AMDVIDeviceInterrupts.InterruptControl?
        var amdIRTEOffset: UInt64?
        var amdIRTE: AMDVIIRTE?
        /// `vtd_ir_remap` disagreed with the IRTE just read: the translated message follows from
        /// what QEMU remapped with, not from the models' IRTE, and is not reported again.
        var remapDiverged = false

        func resetAMD() {
            amdRequest = nil
            amdRemapValid = false
            amdIntCtl = nil
            amdIRTEOffset = nil
            amdIRTE = nil
        }
    }

    /// IRTE index → the IRTE read and the `vtd_ir_remap` fields last reported as disagreeing with it:
    /// a remapping unit that keeps translating with another entry (a stale cached IRTE) is reported
    /// once per entry it shows, not at every interrupt.
    var remapDisagreements: [Int: (IRTE, [Int])] = [:]
    /// Pins the guest has unmasked at least once (an edge on a masked pin before is boot-time noise).
    var everUnmasked: UInt32 = 0
    /// The thread and event of the last `ioapic_set_irq` raising a line (transitions only).
    var lastLineRaise: (thread: Int32, event: Int) = (-1, -1)

    /// When set, model transitions are appended to ``transitions`` (for the analyzers): what the log
    /// proves (QEMUX86Adapter-transitions.swift) — messages on the APIC bus, the IOAPIC's Remote IRR,
    /// EOI broadcasts and re-deliveries, masked edges, route writes, and the
    /// ``Transition/Kind/misrouted`` deliveries of a stale IRTE. No `accepted`/`delivered`: QEMU
    /// traces neither when a LAPIC takes a vector nor which vector an EOI retires.
    public var recordTransitions = false
    public var transitions = TransitionBuffer()

    var chains = ThreadTable { Chain() }
    /// AMD-Vi with QEMU 7.2's rules; `guestVirtualAPIC` from the control register writes
    /// (`amdvi_control_status`), when traced.
    var amdvi = AMDVIRemapping(rules: .qemu72)
    var amdControlKnown = false
    var delivered = QEMUDeliveredCounter()
    /// First pass: the log has `Servicing hardware INT` lines / delivered-counter reports.
    var sawAcknowledge = false, sawReport = false
    var registers = QEMUAPICRegisters()
    var tally = UncheckedTally()
    public internal(set) var pic = PIC8259()
    var handlers = TemplateHandlers<Kind, Field> { Self.kind(of: $0) }
    /// VFIO-assigned devices' MSI-X tables (QEMUX86Adapter-vfio.swift).
    var vfioDevices: [VFIODevice] = []
    /// Messages an MSI-X unmask must send next on its thread (a vector unmasked with its pending bit set).
    var vfioSends: [VFIOSend] = []
    /// Threads whose last VFIO event was `vfio_msix_pba_enable`: printed by vfio_msi_interrupt just
    /// before the interrupt line of a masked vector (other threads' lines may come between).
    var vfioPBAThreads: [Int32] = []

    /// The schema fields this adapter reads.
    enum Field: Int, FieldKey {
        case addr, regsel, value, pin, level, vector, enabled, data, index, irte_low, irte_high, trigger
        case delivery_mode, dest, dest_mode, remapped_addr, remapped_data, trigger_mode, type
        case offset, delivered, lvt, master, irq
        case high, low, mode, reason
        case name
    }


    enum Kind {
        case ioapicMemWrite, ioapicMemRead, ioapicSetIRQ, ioapicSetRemoteIRR, ioapicClearRemoteIRR, ioapicEOIBroadcast
        case irEnable, irRequest, irteGet, irRemap, irRemapType, irRemapMSI, apicDeliverIRQ
        case apicLocalDeliver, apicMemWrite, apicMemRead, apicReportDelivered, apicResetDelivered
        case picSetIRQ, picWrite, picRead, picInterrupt, acknowledge
        case amdRequest, amdIRTE, amdIRTEValue, amdIRTEGAValue, amdRemapMSI, amdDeliveryMode, amdIntCtl, amdFault, amdControl
        case vfioInterrupt, vfioVectorUse, vfioVectorRelease, vfioPBAEnable, vfioPBADisable, vfioMSIXEnable, vfioMSIXDisable
        case uncheckedObservation
    }

    public init(vcpus: Int = 0) {
        // Per-vCPU LAPICs are not modelled from QEMU logs (acknowledgements are not traced, and one
        // TCG thread runs every vCPU): the machine holds the IOAPIC and the remapping unit, and
        // QEMUDeliveredCounter checks what is certain about the LAPICs' IRRs.
        machine = X86Machine(vcpus: 0, behaviour: .qemu)
        report = ReplayReport(adapter: "qemu-x86", behaviour: "qemu")
    }

    /// First pass: which thread runs which vCPU, from the APIC ID each thread reads (multi-threaded
    /// TCG; with one TCG thread nothing is bound).
    public mutating func learnThreads(_ b: EventBatch, catalog: TemplateCatalog) {
        for i in 0..<b.count {
            guard let (kind, f) = handlers.resolve(b.template(i), in: catalog) else { continue }
            switch kind {
            case .acknowledge: sawAcknowledge = true
            case .apicReportDelivered: sawReport = true
            case .apicMemRead:
                guard handlers.number(f, .offset, b, i).map({ $0 & 0xFFF }) == 0x20, let v = handlers.number(f, .value, b, i) else { continue }
                registers.learn(thread: b.thread(i), idRead: UInt32(truncatingIfNeeded: v))
            default: continue
            }
        }
        // Acknowledges are checked against the delivered counter's reports: both must be in the log.
        delivered.acknowledgesTraced = sawAcknowledge && sawReport
    }

    static func kind(of name: String) -> Kind? {
        switch name {
        case "ioapic_mem_write": .ioapicMemWrite
        case "ioapic_set_irq": .ioapicSetIRQ
        case "ioapic_set_remote_irr": .ioapicSetRemoteIRR
        case "ioapic_clear_remote_irr": .ioapicClearRemoteIRR
        case "ioapic_eoi_broadcast": .ioapicEOIBroadcast
        case "vtd_ir_enable": .irEnable
        case "vtd_ir_remap_msi_req": .irRequest
        case "vtd_ir_irte_get": .irteGet
        case "vtd_ir_remap": .irRemap
        case "vtd_ir_remap_type": .irRemapType
        case "vtd_ir_remap_msi": .irRemapMSI
        case "apic_deliver_irq": .apicDeliverIRQ
        case "apic_local_deliver": .apicLocalDeliver
        case "apic_mem_writel": .apicMemWrite
        case "apic_mem_readl": .apicMemRead
        case "apic_report_irq_delivered": .apicReportDelivered
        case "apic_reset_irq_delivered": .apicResetDelivered
        case "amdvi_ir_remap_msi_req": .amdRequest
        case "amdvi_ir_irte": .amdIRTE
        case "amdvi_ir_irte_val": .amdIRTEValue
        case "amdvi_ir_irte_ga_val": .amdIRTEGAValue
        case "amdvi_ir_remap_msi": .amdRemapMSI
        case "amdvi_ir_delivery_mode": .amdDeliveryMode
        case "amdvi_ir_intctl": .amdIntCtl
        case "amdvi_ir_target_abort", "amdvi_ir_err", "amdvi_err": .amdFault
        case "amdvi_control_status": .amdControl
        case "pic_set_irq": .picSetIRQ
        case "pic_ioport_write": .picWrite
        case "pic_ioport_read": .picRead
        case "pic_interrupt": .picInterrupt
        case "Servicing": .acknowledge
        case "ioapic_mem_read": .ioapicMemRead
        case "vfio_msi_interrupt": .vfioInterrupt
        case "vfio_msix_vector_do_use": .vfioVectorUse
        case "vfio_msix_vector_release": .vfioVectorRelease
        case "vfio_msix_pba_enable": .vfioPBAEnable
        case "vfio_msix_pba_disable": .vfioPBADisable
        case "vfio_msix_enable": .vfioMSIXEnable
        case "vfio_msix_disable": .vfioMSIXDisable
        default: nil
        }
    }

    /// The MSI the IOAPIC sends for an entry (QEMU `ioapic_entry_parse`): address from bits 63:48
    /// (destination, or remappable format and index) and the destination-mode bit; data from the
    /// vector, delivery mode and trigger mode.
    static func ioapicMSI(_ e: RedirectionEntry) -> MSIMessage {
        let address = 0xFEE0_0000 | (((e.bits >> 48) & 0xFFFF) << 4) | (e.logical ? 4 : 0)
        let data = UInt32(e.vector) | UInt32(e.deliveryMode.rawValue) << 8 | (e.levelTriggered ? 1 << 15 : 0)
        return MSIMessage(address: address, data: data)
    }

    mutating func diverge(_ b: EventBatch, _ i: Int, _ what: String, expected: String, observed: String, state: String) {
        report.add(Divergence(eventIndex: b.eventIndex(i), timeNs: b.time(i), what: what,
                                             expected: expected, observed: observed, state: state))
    }

    /// The IOAPIC's effects of a delivery request on a thread: Remote IRR for level entries, then the MSI.
    mutating func expectService(_ d: IOAPIC.Delivery, thread: Int32) {
        let c = chains.with(thread) { $0 }
        if d.entry.levelTriggered { c.expectedRemoteIRRSet.append(d.pin) }
        let msi = Self.ioapicMSI(d.entry)
        if machine.remapping.enabled {
            c.expectedRequest = msi
        } else {
            c.expectedDelivery = X86Machine.Message(msi)
            c.deliveryFromMSIX = false
        }
    }

    public mutating func handle(_ b: EventBatch, _ i: Int, catalog: TemplateCatalog) {
        report.events += 1
        let id = Int(b.template(i))
        guard let (kind, f) = handlers.resolve(UInt32(id), in: catalog) else { return }
        let thread = b.thread(i)
        func n(_ field: Field) -> Int64 { handlers.number(f, field, b, i) ?? 0 }
        if !vfioSends.isEmpty { checkVFIOSend(kind, f, thread: thread, b, i, catalog) }

        switch kind {
        case .vfioInterrupt, .vfioVectorUse, .vfioVectorRelease, .vfioPBAEnable, .vfioPBADisable, .vfioMSIXEnable, .vfioMSIXDisable:
            handleVFIO(kind, f, thread: thread, b, i)

        case .uncheckedObservation:
            report.observationsTotal += 1
            report.unchecked[catalog[b.template(i)].name, default: 0] += 1

        case .ioapicMemWrite:
            let addr = n(.addr), regsel = UInt8(truncatingIfNeeded: n(.regsel)), value = UInt32(truncatingIfNeeded: n(.value))
            if addr == 0 {
                machine.ioapic.registerSelect = UInt8(truncatingIfNeeded: value)
            } else if addr == 0x10 {
                let d = machine.ioapic.writeRegister(select: regsel, value: value)
                if regsel >= 0x10, regsel < 0x10 + 2 * UInt8(IOAPIC.pinCount), regsel & 1 == 0 { noteRouteWritten(pin: Int(regsel - 0x10) / 2, b, i) }
                if let d { expectService(d, thread: thread) }
            }

        case .ioapicMemRead:
            // A read of a redirection entry through IOWIN: the entry as the guest programmed it.
            report.observationsTotal += 1
            let addr = n(.addr), regsel = UInt8(truncatingIfNeeded: n(.regsel)), value = UInt32(truncatingIfNeeded: n(.value))
            guard addr == 0x10, let expected = machine.ioapic.readRegister(select: regsel) else {
                tally.add("ioapic_mem_read (IOREGSEL)")
                return
            }
            report.observationsChecked += 1
            if expected != value {
                diverge(b, i, "IOAPIC register 0x\(String(regsel, radix: 16)) read", expected: "0x\(String(expected, radix: 16))",
                        observed: "0x\(String(value, radix: 16))", state: "")
            }

        case .ioapicSetIRQ:
            // QEMU routes ISA IRQ0 to IOAPIC input 2 (hw/intc/ioapic.c ioapic_set_irq).
            var pin = Int(n(.pin))
            if pin == 0 { pin = 2 }
            let result = machine.ioapic.setLine(pin: pin, level: n(.level) != 0)
            if recordTransitions {
                noteLine(pin: pin, result, b, i)
                if n(.level) != 0 { lastLineRaise = (thread, b.eventIndex(i)) }
            }
            if case .delivered(let d) = result {
                expectService(d, thread: thread)
            }

        case .ioapicSetRemoteIRR:
            report.observationsTotal += 1
            let pin = Int(n(.pin))
            guard pin >= 0 && pin < IOAPIC.pinCount else { report.unchecked["ioapic_set_remote_irr (pin out of range)", default: 0] += 1; return }
            let c = chains.with(thread) { $0 }
            if let k = c.expectedRemoteIRRSet.firstIndex(of: pin) {
                c.expectedRemoteIRRSet.remove(at: k)
                report.observationsChecked += 1
                if recordTransitions { note(.remoteIRRSet, b, i, cpu: physicalDestination(machine.ioapic.entries[pin]), vector: Int64(machine.ioapic.entries[pin].vector), irq: Int64(pin)) }
            } else {
                report.observationsChecked += 1
                diverge(b, i, "Remote IRR set for pin \(pin)", expected: "no delivery of pin \(pin)", observed: "ioapic_set_remote_irr",
                        state: "RTE \(pin) = 0x\(String(machine.ioapic.entries[pin].bits, radix: 16)), IRR 0x\(String(machine.ioapic.irr, radix: 16))")
            }

        case .ioapicEOIBroadcast:
            let vector = UInt8(truncatingIfNeeded: n(.vector))
            let effects = machine.ioapic.endOfInterrupt(vector: vector)
            if recordTransitions { noteEOIBroadcast(vector: vector, effects, thread: thread, b, i) }
            let c = chains.with(thread) { $0 }
            for e in effects {
                switch e {
                case .remoteIRRCleared(let pin): c.expectedRemoteIRRClear.append((pin, vector))
                case .redelivered, .delayedRedelivery: break
                }
            }
            for case .redelivered(let d) in effects { expectService(d, thread: thread) }

        case .ioapicClearRemoteIRR:
            report.observationsTotal += 1
            report.observationsChecked += 1
            let pin = Int(n(.pin)), vector = UInt8(truncatingIfNeeded: n(.vector))
            guard pin >= 0 && pin < IOAPIC.pinCount else { report.observationsChecked -= 1; report.unchecked["ioapic_clear_remote_irr (pin out of range)", default: 0] += 1; return }
            let c = chains.with(thread) { $0 }
            if let k = c.expectedRemoteIRRClear.firstIndex(where: { $0.pin == pin && $0.vector == vector }) {
                c.expectedRemoteIRRClear.remove(at: k)
                if recordTransitions { note(.remoteIRRCleared, b, i, vector: Int64(vector), irq: Int64(pin)) }
            } else {
                diverge(b, i, "Remote IRR clear for pin \(pin) vector \(vector)", expected: c.expectedRemoteIRRClear.isEmpty ? "none" : "\(c.expectedRemoteIRRClear)",
                        observed: "ioapic_clear_remote_irr pin \(pin) vector \(vector)",
                        state: "RTE \(pin) = 0x\(String(machine.ioapic.entries[pin].bits, radix: 16))")
            }

        case .irEnable:
            machine.remapping.enabled = n(.enabled) != 0

        case .irRequest:
            let request = MSIMessage(address: UInt64(bitPattern: n(.addr)), data: UInt32(truncatingIfNeeded: n(.data)))
            let c = chains.with(thread) { $0 }
            if let expected = c.expectedRequest {
                report.observationsTotal += 1
                report.observationsChecked += 1
                if expected != request {
                    diverge(b, i, "MSI request from the IOAPIC", expected: "\(expected)", observed: "\(request)", state: "")
                }
                c.expectedRequest = nil
                c.requestFromIOAPIC = true
            } else {
                c.requestFromIOAPIC = false
            }
            if let open = c.request {
                diverge(b, i, "interrupt remapping of the previous request", expected: "vtd_ir_remap_msi for \(open)",
                        observed: "a new request \(request)", state: "")
            }
            c.request = request

        case .irteGet:
            report.observationsTotal += 1
            let index = Int(n(.index))
            // QEMU prints the IRTE's quadwords swapped (semantics.md §6.2).
            machine.remapping.entries[index] = IRTE(low: UInt64(bitPattern: n(.irte_low)), high: UInt64(bitPattern: n(.irte_high)))
            if let request = chains.with(thread, { $0.request }), request.remappable {
                report.observationsChecked += 1
                if request.remapIndex != index {
                    diverge(b, i, "IRTE index", expected: "\(request.remapIndex)", observed: "\(index)", state: "request \(request)")
                }
            } else {
                report.unchecked["vtd_ir_irte_get", default: 0] += 1
            }

        case .irRemap:
            report.observationsTotal += 1
            let index = Int(n(.index))
            guard let irte = machine.remapping.entries[index] else {
                report.unchecked["vtd_ir_remap", default: 0] += 1
                return
            }
            report.observationsChecked += 1
            let dest = machine.remapping.extendedInterruptMode ? irte.destination : (irte.destination & 0xFF00) >> 8
            let expected = [irte.levelTriggered ? 1 : 0, Int(irte.vector), Int(irte.deliveryMode.rawValue), Int(dest), irte.logical ? 1 : 0]
            let observed = [n(.trigger), n(.vector), n(.delivery_mode), n(.dest), n(.dest_mode)].map { Int($0) }
            let c = chains.with(thread) { $0 }
            c.remapDiverged = expected != observed
            if expected != observed {
                if let last = remapDisagreements[index], last.0 == irte, last.1 == observed { return }
                remapDisagreements[index] = (irte, observed)
                if recordTransitions, expected[3] != observed[3] {
                    transitions.append(Transition(.misrouted, event: b.eventIndex(i), time: b.time(i), cpu: Int32(truncatingIfNeeded: observed[3]),
                                                  vector: Int16(truncatingIfNeeded: observed[1]), irq: Int32(index), value: Int64(expected[3]),
                                                  aux: Int64(expected[1])))
                }
                diverge(b, i, "vtd_ir_remap fields (trigger vector deliver dest mode) against the IRTE just read (a stale cached IRTE?)",
                        expected: "\(expected)", observed: "\(observed)",
                        state: "IRTE \(index) = 0x\(String(irte.high, radix: 16)):\(String(irte.low, radix: 16))")
            } else if !remapDisagreements.isEmpty {
                remapDisagreements[index] = nil
            }

        case .irRemapType:
            // "IOAPIC" (no sub-handle) requests come from the IOAPIC: the models must have sent one.
            report.observationsTotal += 1
            report.observationsChecked += 1
            let fromIOAPIC = handlers.text(f, .type, b, i, catalog[b.template(i)]) == "IOAPIC"
            let c = chains.with(thread) { $0 }
            if fromIOAPIC && !c.requestFromIOAPIC {
                diverge(b, i, "IOAPIC-format remapping request", expected: "no IOAPIC delivery in the models",
                        observed: "vtd_ir_remap_type IOAPIC", state: c.request.map { "request \($0)" } ?? "")
            }

        case .irRemapMSI:
            report.observationsTotal += 1
            report.observationsChecked += 1
            let from = MSIMessage(address: UInt64(bitPattern: n(.addr)), data: UInt32(truncatingIfNeeded: n(.data)))
            let to = MSIMessage(address: UInt64(bitPattern: n(.remapped_addr)), data: UInt32(truncatingIfNeeded: n(.remapped_data)))
            let c = chains.with(thread) { $0 }
            if let request = c.request, request != from {
                diverge(b, i, "vtd_ir_remap_msi input", expected: "\(request)", observed: "\(from)", state: "")
            }
            switch machine.remapping.remap(from) {
            case .success(let out):
                if out != to && !c.remapDiverged {
                    diverge(b, i, "vtd_ir_remap_msi result", expected: "\(out)", observed: "\(to)",
                            state: "IRTE \(from.remapIndex) = \(machine.remapping.entries[from.remapIndex].map { "0x\(String($0.high, radix: 16)):\(String($0.low, radix: 16))" } ?? "unknown")")
                }
            case .failure(let fault):
                diverge(b, i, "vtd_ir_remap_msi", expected: "fault: \(fault)", observed: "\(from) -> \(to)", state: "")
            }
            c.request = nil
            c.remapDiverged = false
            c.expectedDelivery = X86Machine.Message(to); c.deliveryFromMSIX = false

        case .amdRequest:
            // QEMU's amdvi_int_remap_msi: every MSI, the IOAPIC's too, goes through the IOMMU.
            let request = MSIMessage(address: UInt64(bitPattern: n(.addr)), data: UInt32(truncatingIfNeeded: n(.data)))
            let c = chains.with(thread) { $0 }
            closeAMDRequest(b, i, c)
            if let e = c.expectedDelivery {
                report.observationsTotal += 1
                report.observationsChecked += 1
                if X86Machine.Message(request) != e {
                    diverge(b, i, "MSI request from the IOAPIC", expected: Self.describe(e), observed: "\(request)", state: "")
                }
                c.expectedDelivery = nil
            }
            c.amdRequest = request

        case .amdDeliveryMode:
            // Printed only past the DTE's IV check: the requester's DTE has IV = 1.
            let c = chains.with(thread) { $0 }
            guard let r = c.amdRequest else { return }
            c.amdRemapValid = true
            report.observationsTotal += 1
            report.observationsChecked += 1
            let observed = handlers.text(f, .mode, b, i, catalog[b.template(i)]) ?? ""
            if let expected = AMDVIRemapping.deliveryModeTrace(of: r), expected != observed {
                diverge(b, i, "amdvi_ir_delivery_mode (MSI data bits 10:8)", expected: expected, observed: observed, state: "request \(r)")
            }

        case .amdIntCtl:
            chains.with(thread) { $0 }.amdIntCtl = AMDVIDeviceInterrupts.InterruptControl(rawValue: UInt8(n(.value) & 3))

        case .amdIRTE:
            chains.with(thread) { $0 }.amdIRTEOffset = UInt64(bitPattern: n(.offset))

        case .amdIRTEValue, .amdIRTEGAValue:
            let ga = kind == .amdIRTEGAValue
            let irte = ga ? AMDVIIRTE(gaLow: UInt64(bitPattern: n(.low)), gaHigh: UInt64(bitPattern: n(.high)))
                : AMDVIIRTE(basic: UInt32(truncatingIfNeeded: n(.data)))
            let c = chains.with(thread) { $0 }
            c.amdIRTE = irte
            guard let r = c.amdRequest, let offset = c.amdIRTEOffset else {
                report.observationsTotal += 1
                tally.add("amdvi_ir_irte_val (no request)")
                return
            }
            // The IRTE the request selects (data bits 10:0), 4 or 16 bytes an entry, in the
            // format Control.GAEn chose.
            report.observationsTotal += 1
            report.observationsChecked += 1
            var format = amdvi
            format.guestVirtualAPIC = ga
            if offset != format.irteOffset(of: r) {
                diverge(b, i, "AMD-Vi IRTE offset (MSI data bits 10:0, \(ga ? 16 : 4) bytes an entry)",
                        expected: "0x\(String(format.irteOffset(of: r), radix: 16))", observed: "0x\(String(offset, radix: 16))", state: "request \(r)")
            } else if amdControlKnown && ga != amdvi.guestVirtualAPIC {
                diverge(b, i, "AMD-Vi IRTE format", expected: amdvi.guestVirtualAPIC ? "128-bit (Control.GAEn = 1)" : "32-bit (Control.GAEn = 0)",
                        observed: ga ? "amdvi_ir_irte_ga_val" : "amdvi_ir_irte_val", state: "")
            }

        case .amdFault:
            // QEMU refused the request: no result, no message follows.
            let c = chains.with(thread) { $0 }
            guard let r = c.amdRequest else { return }
            report.observationsTotal += 1
            let name = catalog[b.template(i)].name
            let observed = handlers.text(f, .reason, b, i, catalog[b.template(i)]) ?? ""
            switch amdPrediction(c, refused: true) {
            case .fault(let fault)?:
                report.observationsChecked += 1
                if let t = fault.qemuTrace, t.event != name || t.text != observed {
                    diverge(b, i, "AMD-Vi fault", expected: "\(t.event) \(t.text) (\(fault))", observed: "\(name) \(observed)", state: "request \(r)")
                } else if fault.qemuTrace == nil {
                    diverge(b, i, "AMD-Vi fault", expected: "\(fault) (no trace event)", observed: "\(name) \(observed)", state: "request \(r)")
                }
            case let outcome?:
                report.observationsChecked += 1
                diverge(b, i, "AMD-Vi fault", expected: "\(outcome)", observed: "\(name) \(observed)", state: Self.describeAMD(c))
            case nil:
                tally.add("AMD-Vi fault event (IRTE not traced)")
            }
            c.resetAMD()

        case .amdControl:
            // amdvi_handle_control_write prints the control register (MMIO 0x18): GAEn is bit 17.
            amdvi.guestVirtualAPIC = n(.value) & (1 << 17) != 0
            amdControlKnown = true

        case .amdRemapMSI:
            report.observationsTotal += 1
            let from = MSIMessage(address: UInt64(bitPattern: n(.addr)), data: UInt32(truncatingIfNeeded: n(.data)))
            let to = MSIMessage(address: UInt64(bitPattern: n(.remapped_addr)), data: UInt32(truncatingIfNeeded: n(.remapped_data)))
            let c = chains.with(thread) { $0 }
            defer {
                c.resetAMD()
                c.expectedDelivery = X86Machine.Message(to); c.deliveryFromMSIX = false
            }
            if let r = c.amdRequest, r != from {
                report.observationsChecked += 1
                diverge(b, i, "amdvi_ir_remap_msi input", expected: "\(r)", observed: "\(from)", state: "")
                return
            }
            guard let predicted = amdPrediction(c, refused: false) else {
                tally.add("amdvi_ir_remap_msi (IRTE not traced)")
                return
            }
            report.observationsChecked += 1
            if predicted.message != to {
                diverge(b, i, "amdvi_ir_remap_msi result", expected: "\(predicted)", observed: "\(from) -> \(to)", state: Self.describeAMD(c))
            }

        case .picSetIRQ:
            if n(.master) != 0 { pic.master.setIRQ(Int(n(.irq)), level: n(.level) != 0) } else { pic.slave.setIRQ(Int(n(.irq)), level: n(.level) != 0) }

        case .picWrite:
            let v = UInt8(truncatingIfNeeded: n(.value)), a = Int(n(.addr))
            if n(.master) != 0 { pic.master.write(a, v) } else { pic.slave.write(a, v) }

        case .picRead:
            report.observationsTotal += 1
            let master = n(.master) != 0, a = Int(n(.addr)), observed = UInt8(truncatingIfNeeded: n(.value))
            let uncertain = master ? pic.master.uncertain : pic.slave.uncertain
            let expected = master ? pic.master.read(a) : pic.slave.read(a)
            guard !uncertain else { tally.add("pic_ioport_read (an input of unknown edge/level mode was raised)"); return }
            report.observationsChecked += 1
            if expected != observed {
                diverge(b, i, "8259 \(master ? "master" : "slave") register read at offset \(a)", expected: "0x\(String(expected, radix: 16))",
                        observed: "0x\(String(observed, radix: 16))", state: "IRR 0x\(String(master ? pic.master.irr : pic.slave.irr, radix: 16))")
            }

        case .acknowledge:
            // `Servicing hardware INT=0xNN` (QEMU -d int): see QEMUDeliveredCounter.
            let vector = UInt8(truncatingIfNeeded: n(.vector))
            if delivered.picAcknowledged == vector {
                delivered.picAcknowledged = nil          // the 8259's vector, checked at pic_interrupt
                return
            }
            report.observationsTotal += 1
            guard delivered.acknowledgesTraced else { tally.add("acknowledge (apic_report_irq_delivered not traced)"); return }
            let regs = registers
            let (outcome, blocked) = delivered.acknowledge(vector, tpr: { regs.attributed ? regs.lapic($0).tpr : nil })
            switch outcome {
            case .fromIRR, .spurious:
                report.observationsChecked += 1
                if let blocked {
                    diverge(b, i, "LAPIC acknowledge below the processor priority", expected: "a vector of a class above the PPR",
                            observed: "0x\(String(vector, radix: 16))", state: blocked + " (an EOI missing?)")
                }
            case .unknownDelivery:
                tally.add("acknowledge (an earlier delivery's vector is unknown)")
            case .pendingNowhere:
                report.observationsChecked += 1
                diverge(b, i, "LAPIC acknowledge", expected: "a vector some LAPIC has in IRR",
                        observed: "0x\(String(vector, radix: 16)) (pending in no LAPIC)",
                        state: "pending vectors \(delivered.pendingDescription)")
            }

        case .picInterrupt:
            delivered.picAcknowledged = UInt8(truncatingIfNeeded: n(.vector))
            report.observationsTotal += 1
            let uncertain = pic.uncertain
            let (irq, vector) = pic.acknowledge()
            guard !uncertain else { tally.add("pic_interrupt (an input of unknown edge/level mode was raised)"); return }
            report.observationsChecked += 1
            if irq != Int(n(.irq)) || vector != Int(n(.vector)) {
                diverge(b, i, "8259 acknowledge (ExtINT)", expected: "irq \(irq) vector \(vector)", observed: "irq \(n(.irq)) vector \(n(.vector))",
                        state: "master IRR 0x\(String(pic.master.irr, radix: 16)) IMR 0x\(String(pic.master.imr, radix: 16)) ISR 0x\(String(pic.master.isr, radix: 16))")
            }

        case .apicLocalDeliver:
            defer { checkMissingReports(b, i) }
            let lvt = Int(n(.lvt)), mode = Int(n(.delivery_mode))
            guard lvt == 0, registers.attributed else {
                delivered.localDeliver(lvt: lvt, mode: mode)
                return
            }
            // The timer callback names no LAPIC: the one whose deadline is due (QEMUAPICTimers).
            let (fire, lvtValue) = registers.fireTimer(at: b.time(i))
            delivered.localDeliver(lvt: lvt, mode: mode, vector: lvtValue.map { UInt8(truncatingIfNeeded: $0) })
            switch fire {
            case .apic(let a) where delivered.continuesGroup(a): delivered.setTarget(.oneOf([a]))
            case .apic(let a): delivered.setTarget(.apics(mode == 0 ? [a] : []))
            case .oneOf(let members): delivered.setTarget(lvtValue == nil ? .unknown : .oneOf(members))
            case .unknown: delivered.setTarget(.unknown)
            }

        case .apicMemWrite:
            defer { checkMissingReports(b, i) }
            let offset = n(.offset), value = UInt32(truncatingIfNeeded: n(.value))
            let me = registers.attributed ? registers.apicID(of: thread) : nil
            delivered.registerWrite(offset: offset, value: value, apic: me)
            if offset & 0xFFF == 0x300, let t = registers.icrTargets(thread: thread, low: value) {
                // Only fixed and lowest-priority IPIs set IRR bits (INIT, SIPI, NMI, SMI do not report).
                let mode = (value >> 8) & 7
                delivered.setTarget(.apics(mode <= 1 ? t : []))
            }
            registers.write(thread: thread, offset: offset, value: value, now: b.time(i))

        case .apicMemRead:
            report.observationsTotal += 1
            let offset = n(.offset) & 0xFFF, value = UInt32(truncatingIfNeeded: n(.value))
            // The reading vCPU is known when each vCPU has its own thread (multi-threaded TCG);
            // with one TCG thread only registers equal in every LAPIC (the version) are checked.
            switch registers.read(thread: thread, offset: offset) {
            case .unchecked(let why):
                tally.add(why)
            case .expected(let expected):
                report.observationsChecked += 1
                if value != expected {
                    let who = registers.apicID(of: thread).map { "LAPIC \($0)" } ?? "LAPIC"
                    diverge(b, i, "\(who) register 0x\(String(offset, radix: 16)) read", expected: "0x\(String(expected, radix: 16))",
                            observed: "0x\(String(value, radix: 16))", state: "")
                }
            }

        case .apicResetDelivered:
            delivered.reset()
            registers.resetAll()

        case .apicReportDelivered:
            report.observationsTotal += 1
            switch delivered.report(n(.delivered)) {
            case .checked(let expected, let observed):
                report.observationsChecked += 1
                if expected != observed {
                    diverge(b, i, expected == 1 ? "LAPIC delivery counted as coalesced" : "LAPIC delivery counted as accepted",
                            expected: expected == 1 ? "+1: the vector is not pending in that LAPIC" : "+0: the vector is still pending in that LAPIC",
                            observed: "+\(observed)", state: "outstanding accepted deliveries \(delivered.outstanding), pending vectors \(delivered.pendingDescription)")
                }
            case .jump(let from, let to):
                report.observationsChecked += 1
                diverge(b, i, "LAPIC delivered counter", expected: "\(from) or \(from + 1)", observed: "\(to)", state: "")
            case .unchecked(let reason):
                tally.add(reason)
            }

        case .apicDeliverIRQ:
            defer { checkMissingReports(b, i) }
            let mode = DeliveryMode(rawValue: UInt8(n(.delivery_mode) & 7))!
            delivered.message(mode: mode, vector: UInt8(truncatingIfNeeded: n(.vector)),
                              destination: UInt32(truncatingIfNeeded: n(.dest)), logical: n(.dest_mode) != 0)
            if let t = registers.targets(destination: UInt32(truncatingIfNeeded: n(.dest)), logical: n(.dest_mode) != 0,
                                          lowestPriority: mode == .lowestPriority) {
                delivered.setTarget(.apics(mode == .fixed || mode == .lowestPriority ? t : []))
            }
            if let open = chains.with(thread, { $0.request }) {
                report.observationsTotal += 1
                report.observationsChecked += 1
                diverge(b, i, "message on the APIC bus before the remapping result", expected: "vtd_ir_remap_msi for \(open)",
                        observed: "apic_deliver_irq", state: "")
                chains.with(thread) { $0.request = nil }
            }
            let observed = X86Machine.Message(vector: UInt8(truncatingIfNeeded: n(.vector)), destination: UInt32(truncatingIfNeeded: n(.dest)),
                                              logical: n(.dest_mode) != 0, mode: DeliveryMode(rawValue: UInt8(n(.delivery_mode) & 7))!,
                                              levelTriggered: n(.trigger_mode) != 0)
            if recordTransitions {
                // From the IOAPIC: the models sent it for an entry, or it follows a line raise at once on the
                // same thread (an entry the models hold masked because it was programmed before the trace).
                let fromIOAPIC = (machine.remapping.enabled ? chains.with(thread, { $0.requestFromIOAPIC }) : chains.with(thread, { $0.expectedDelivery != nil && !$0.deliveryFromMSIX }))
                    || lastLineRaise == (thread, b.eventIndex(i) - 1)
                noteMessage(observed, fromIOAPIC: fromIOAPIC, b, i)
            }
            let c = chains.with(thread) { $0 }
            if let expected = c.expectedDelivery {
                report.observationsTotal += 1
                report.observationsChecked += 1
                // QEMU's trace prototype truncates dest to 8 bits (semantics.md §6.1).
                let same = expected.vector == observed.vector && UInt8(truncatingIfNeeded: expected.destination) == UInt8(truncatingIfNeeded: observed.destination)
                    && expected.logical == observed.logical && expected.mode == observed.mode && expected.levelTriggered == observed.levelTriggered
                if !same {
                    diverge(b, i, "message on the APIC bus", expected: Self.describe(expected), observed: Self.describe(observed), state: "")
                }
                c.expectedDelivery = nil
                c.deliveryFromMSIX = false
            }
        }
    }

    /// A delivery that reached a LAPIC without QEMU reporting it (multi-threaded TCG only).
    @inline(__always)
    mutating func checkMissingReports(_ b: EventBatch, _ i: Int) {
        guard !delivered.missingReports.isEmpty else { return }
        let missed = delivered.takeMissingReports()
        report.observationsTotal += 1
        report.observationsChecked += 1
        diverge(b, i, "LAPIC delivery report", expected: "apic_report_irq_delivered for LAPIC \(missed.map(String.init).joined(separator: ", "))",
                observed: "none before the next delivery", state: "")
    }

    /// What the AMD-Vi model predicts for a thread's open request, from the DTE and IRTE as QEMU
    /// showed them (nil: the IRTE was read but is not in the trace). The DTE is untraced but for
    /// IntCtl; what the event being checked implies fills the rest: a refusal (`refused`) comes
    /// after the IV check (IV = 1) and means the NMI/INIT/ExtInt pass bit was clear; a result means
    /// IV = 1 only if `amdvi_ir_delivery_mode` was printed, and a set pass bit.
    func amdPrediction(_ c: Chain, refused: Bool) -> AMDVIRemapOutcome? {
        guard let r = c.amdRequest else { return nil }
        let dte: AMDVIDeviceInterrupts? = c.amdRemapValid || refused
            ? .make(control: c.amdIntCtl ?? .remap, initPass: !refused, extIntPass: !refused, nmiPass: !refused) : nil
        if c.amdIRTEOffset != nil && c.amdIRTE == nil { return nil }
        return amdvi.remap(r, dte: dte) { _ in c.amdIRTE }
    }

    /// A request left without a result or fault when the next one starts: QEMU refused it without
    /// a trace event (SMI, GuestMode, reserved IntType); the model must agree.
    mutating func closeAMDRequest(_ b: EventBatch, _ i: Int, _ c: Chain) {
        guard let r = c.amdRequest else { return }
        defer { c.resetAMD() }
        report.observationsTotal += 1
        guard let predicted = amdPrediction(c, refused: true) else { tally.add("AMD-Vi request without result (IRTE not traced)"); return }
        report.observationsChecked += 1
        if case .fault(let fault) = predicted, fault.qemuTrace == nil { return }
        diverge(b, i, "AMD-Vi request without amdvi_ir_remap_msi or fault event", expected: "\(predicted)", observed: "next request",
                state: "request \(r); " + Self.describeAMD(c))
    }

    static func describeAMD(_ c: Chain) -> String {
        "IV \(c.amdRemapValid ? 1 : 0), IntCtl \(c.amdIntCtl.map { "\($0)" } ?? "untraced"), IRTE "
            + (c.amdIRTE.map { $0.isGuestVirtualAPICFormat ? "0x\(String($0.high, radix: 16)):\(String($0.low, radix: 16))" : "0x\(String($0.low, radix: 16))" } ?? "not read")
    }

    static func describe(_ m: X86Machine.Message) -> String {
        "vector \(m.vector) dest \(m.destination) \(m.logical ? "logical" : "physical") \(m.mode.kvmName) \(m.levelTriggered ? "level" : "edge")"
    }

    /// Expectations still open at the end are divergences: the system never did what the models say.
    public mutating func finish() -> ReplayReport {
        finishVFIO()
        tally.merge(into: &report.unchecked)
        for (thread, c) in chains.all.sorted(by: { $0.0 < $1.0 }) {
            for pin in c.expectedRemoteIRRSet {
                report.add(Divergence(eventIndex: -1, timeNs: 0, what: "Remote IRR set for pin \(pin) (thread \(thread))",
                                                     expected: "ioapic_set_remote_irr", observed: "end of trace", state: ""))
            }
        }
        var d = StateDigest()
        for e in machine.ioapic.entries { d.combine(e.bits) }
        d.combine(Int(machine.ioapic.irr))
        for (k, e) in machine.remapping.entries.sorted(by: { $0.key < $1.key }) { d.combine(k); d.combine(e.low); d.combine(e.high) }
        d.combine(machine.remapping.enabled)
        report.digest = d.value
        return report
    }
}
