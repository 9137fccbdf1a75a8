import Testing
@testable import Replayer

/// QEMU's global LAPIC "delivered" counter (apic_report_irq_delivered) as QEMUDeliveredCounter checks it.
@Suite("QEMU delivered counter")
struct QEMUDeliveredCounterTests {
    @Test("a vector pending nowhere must count +1; an EOI for every accepted delivery makes all certain again")
    func idle() {
        var c = QEMUDeliveredCounter()
        c.message(mode: .fixed, vector: 0x41)
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        // Delivered again before any EOI: it may still be in IRR (acknowledgements are untraced).
        c.message(mode: .fixed, vector: 0x41)
        #expect(c.report(1) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
        // Another vector is certain while 0x41 is outstanding.
        c.message(mode: .lowestPriority, vector: 0x51)
        #expect(c.report(2) == .checked(expected: 1, observed: 1))
        // Two accepted deliveries: two EOIs end them.
        c.registerWrite(offset: 0xB0, value: 0)
        c.message(mode: .fixed, vector: 0x41)
        #expect(c.report(2) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
        c.registerWrite(offset: 0xB0, value: 0)
        #expect(c.outstanding == 0)
        c.message(mode: .fixed, vector: 0x41)
        #expect(c.report(2) == .checked(expected: 1, observed: 0))   // a coalesced report here is a divergence
    }

    @Test("with acknowledges traced (-d int): pending vectors are counted exactly, per destination")
    func acknowledges() {
        var c = QEMUDeliveredCounter()
        c.acknowledgesTraced = true
        // 0x23 to logical destination 2: accepted, then again before its acknowledge: it must coalesce.
        c.message(mode: .fixed, vector: 0x23, destination: 2, logical: true)
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        c.message(mode: .fixed, vector: 0x23, destination: 2, logical: true)
        #expect(c.report(1) == .checked(expected: 0, observed: 0))
        // A different destination may be the same LAPIC or not: unchecked.
        c.message(mode: .fixed, vector: 0x23, destination: 1, logical: true)
        #expect(c.report(2) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
        // Two pending at different places: an acknowledge takes one, which is unknown.
        #expect(c.acknowledge(0x23).0 == .fromIRR)
        c.message(mode: .fixed, vector: 0x23, destination: 2, logical: true)
        #expect(c.report(3) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
        #expect(c.acknowledge(0x23).0 == .fromIRR)
        #expect(c.acknowledge(0x23).0 == .fromIRR)
        // Pending nowhere again: certain, and one more acknowledge is a divergence.
        #expect(c.acknowledge(0x23).0 == .pendingNowhere)
        #expect(c.acknowledge(0xFF).0 == .spurious)                   // SVR's reset vector
        c.message(mode: .fixed, vector: 0x23, destination: 1, logical: true)
        #expect(c.report(4) == .checked(expected: 1, observed: 1))
        // A destination that reached two LAPICs (two reports) proves nothing about either.
        c.message(mode: .fixed, vector: 0x31, destination: 3, logical: true)
        #expect(c.report(5) == .checked(expected: 1, observed: 1))
        #expect(c.report(6) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))   // another LAPIC: which?
        c.message(mode: .fixed, vector: 0x31, destination: 3, logical: true)
        #expect(c.report(6) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
        // A write to an LDR starts a new epoch: the old destination no longer names a known LAPIC.
        c.registerWrite(offset: 0xD0, value: 0x0100_0000)
        c.message(mode: .fixed, vector: 0x23, destination: 1, logical: true)
        #expect(c.report(6) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
    }

    @Test("with acknowledges traced and LAPICs named: pending only in another LAPIC means +1; an INIT forgets places")
    func acknowledgesPerLAPIC() {
        var c = QEMUDeliveredCounter()
        c.acknowledgesTraced = true
        c.message(mode: .fixed, vector: 0x41)
        c.setTarget(.apics([0]))
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        c.message(mode: .fixed, vector: 0x41)
        c.setTarget(.apics([1]))
        #expect(c.report(2) == .checked(expected: 1, observed: 1))
        c.message(mode: .fixed, vector: 0x41)
        c.setTarget(.apics([1]))
        #expect(c.report(2) == .checked(expected: 0, observed: 0))
        c.registerWrite(offset: 0x300, value: 0x0000_0500)          // INIT: some LAPIC's IRR cleared untraced
        c.message(mode: .fixed, vector: 0x41)
        c.setTarget(.apics([1]))
        #expect(c.report(3) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
    }

    @Test("acknowledges attributed to a LAPIC track its ISR: one at or below the class in service shows a lost EOI")
    func inService() {
        var c = QEMUDeliveredCounter()
        c.acknowledgesTraced = true
        func deliver(_ v: UInt8, to a: UInt32, _ count: Int64) -> QEMUDeliveredCounter.Outcome {
            c.message(mode: .fixed, vector: v)
            c.setTarget(.apics([a]))
            return c.report(count)
        }
        #expect(deliver(0x23, to: 1, 1) == .checked(expected: 1, observed: 1))
        #expect(c.acknowledge(0x23).blocked == nil)
        #expect(deliver(0x31, to: 1, 2) == .checked(expected: 1, observed: 1))
        #expect(c.acknowledge(0x31).blocked == nil)                  // class 3 above 2: nests
        c.registerWrite(offset: 0xB0, value: 0, apic: 1)              // retires 0x31
        // 0x23 is still in service (its EOI is missing): 0x24, class 2, cannot be acknowledged.
        #expect(deliver(0x24, to: 1, 3) == .checked(expected: 1, observed: 1))
        #expect(c.acknowledge(0x24).blocked != nil)
        // TPR blocks the same way; another LAPIC is not concerned.
        #expect(deliver(0x25, to: 0, 4) == .checked(expected: 1, observed: 1))
        #expect(c.acknowledge(0x25, tpr: { $0 == 0 ? 0x20 : 0 }).blocked != nil)
        #expect(deliver(0x26, to: 2, 5) == .checked(expected: 1, observed: 1))
        #expect(c.acknowledge(0x26, tpr: { $0 == 0 ? 0x20 : 0 }).blocked == nil)
        // An EOI whose LAPIC is unknown: in-service state unknown until every LAPIC is idle.
        c.registerWrite(offset: 0xB0, value: 0)
        #expect(deliver(0x27, to: 1, 6) == .checked(expected: 1, observed: 1))
        #expect(c.acknowledge(0x27).blocked == nil)
    }

    @Test("IPIs through the ICR and LVT deliveries name their vectors; NMIs set no IRR bit")
    func causes() {
        var c = QEMUDeliveredCounter()
        c.registerWrite(offset: 0x300, value: 0x0000_08FB)          // fixed IPI, vector 0xfb
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        c.registerWrite(offset: 0x320, value: 0x0002_00EC)          // LVT timer: periodic, vector 0xec
        c.localDeliver(lvt: 0, mode: 0)
        #expect(c.report(2) == .checked(expected: 1, observed: 1))
        c.localDeliver(lvt: 3, mode: 0)                              // LINT0 never written: vector unknown
        #expect(c.report(3) == .unchecked(reason: "apic_report_irq_delivered (LVT vector unknown)"))
        // An unknown vector is outstanding: nothing is certain until every delivery has its EOI.
        c.message(mode: .fixed, vector: 0x61)
        #expect(c.report(4) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
        for _ in 0..<4 { c.registerWrite(offset: 0xB0, value: 0) }
        c.message(mode: .fixed, vector: 0x61)
        #expect(c.report(5) == .checked(expected: 1, observed: 1))
        c.registerWrite(offset: 0x300, value: 0x0000_0400)          // NMI IPI
        #expect(c.cause == .none)
    }

    @Test("the counter moves by 0 or 1 only; a reset (apic_reset_common) starts it again with clear IRRs")
    func jumpsAndReset() {
        var c = QEMUDeliveredCounter()
        c.message(mode: .fixed, vector: 0x30)
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        c.message(mode: .fixed, vector: 0x31)
        #expect(c.report(3) == .jump(from: 1, to: 3))
        c.reset()
        #expect(c.counter == 0 && c.outstanding == 0)
        c.message(mode: .fixed, vector: 0x30)
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        c.message(mode: .fixed, vector: 0x05)
        #expect(c.report(2) == .unchecked(reason: "apic_report_irq_delivered (vector below 16)"))
    }
}

/// Per-vCPU LAPIC registers from QEMU logs, when each vCPU has its own thread.
@Suite("QEMU LAPIC registers by thread")
struct QEMUAPICRegistersTests {
    @Test("a thread reading one APIC ID is that vCPU; its writes predict its reads; a thread reading two IDs is never bound")
    func binding() {
        var r = QEMUAPICRegisters()
        var single = QEMUAPICRegisters()
        single.learn(thread: 12, idRead: 0x0000_0000)
        single.learn(thread: 12, idRead: 0x0100_0000)
        #expect(single.apicID(of: 12) == nil && !single.attributed)
        #expect(single.read(thread: 12, offset: 0x300) == .unchecked("apic_mem_readl (per-vCPU register, vCPU unknown)"))
        #expect(single.read(thread: 12, offset: 0x30) == .expected(0x0005_0014))
        r.learn(thread: 10, idRead: 0x0000_0000)
        r.learn(thread: 11, idRead: 0x0100_0000)
        #expect(r.apicID(of: 10) == 0 && r.apicID(of: 11) == 1 && r.attributed)
        #expect(r.read(thread: 11, offset: 0x20) == .expected(0x0100_0000))
        #expect(r.read(thread: 10, offset: 0x350) == .expected(0x700))          // the BSP's LINT0: ExtINT at reset
        #expect(r.read(thread: 11, offset: 0xF0) == .expected(0xFF))
        r.write(thread: 11, offset: 0xF0, value: 0x0000_11FF, now: 0)
        #expect(r.read(thread: 11, offset: 0xF0) == .expected(0x1FF))            // QEMU keeps 9 bits of SVR
        r.write(thread: 10, offset: 0x310, value: 0x0100_0000, now: 0)
        r.write(thread: 10, offset: 0x300, value: 0x0000_08FB, now: 0)
        #expect(r.read(thread: 10, offset: 0x300) == .expected(0x08FB))          // delivery status never set
        #expect(r.read(thread: 11, offset: 0x300) == .expected(0))
        r.write(thread: 10, offset: 0xE0, value: 0x0FFF_FFFF, now: 0)
        #expect(r.read(thread: 10, offset: 0xE0) == .expected(0x0FFF_FFFF))
        r.write(thread: 10, offset: 0x3E0, value: 0xFF, now: 0)
        #expect(r.read(thread: 10, offset: 0x3E0) == .expected(0xB))
        #expect(r.read(thread: 10, offset: 0x390) == .unchecked("apic_mem_readl (timer current count)"))
    }

    @Test("an INIT IPI resets its target's registers; a system reset resets all")
    func resets() {
        var r = QEMUAPICRegisters()
        r.learn(thread: 10, idRead: 0)
        r.learn(thread: 11, idRead: 0x0100_0000)
        r.write(thread: 11, offset: 0x80, value: 0x20, now: 0)
        r.write(thread: 10, offset: 0x310, value: 0x0100_0000, now: 0)
        r.write(thread: 10, offset: 0x300, value: 0x0000_C500, now: 0)                 // INIT, level assert, to APIC 1
        #expect(r.read(thread: 11, offset: 0x80) == .expected(0))
        r.write(thread: 10, offset: 0x80, value: 0x30, now: 0)
        r.resetAll()
        #expect(r.read(thread: 10, offset: 0x80) == .expected(0))
    }
}

/// The per-LAPIC refinement of the delivered counter and the timer attribution (multi-threaded TCG).
@Suite("QEMU delivered counter per LAPIC")
struct QEMUDeliveredPerLAPICTests {
    @Test("a vector outstanding on one LAPIC leaves it certain on another; an EOI of that LAPIC makes it certain again")
    func perLAPIC() {
        var c = QEMUDeliveredCounter()
        c.message(mode: .fixed, vector: 0x23); c.setTarget(.apics([0]))
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        c.message(mode: .fixed, vector: 0x23); c.setTarget(.apics([1]))
        #expect(c.report(2) == .checked(expected: 1, observed: 1))            // globally uncertain, certain on LAPIC 1
        c.message(mode: .fixed, vector: 0x23); c.setTarget(.apics([0]))
        #expect(c.report(2) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
        c.registerWrite(offset: 0xB0, value: 0, apic: 0)
        c.registerWrite(offset: 0xB0, value: 0, apic: 0)                      // both of LAPIC 0's deliveries ended
        c.message(mode: .fixed, vector: 0x23); c.setTarget(.apics([0]))
        #expect(c.report(2) == .checked(expected: 1, observed: 0))            // coalesced on an idle LAPIC: a divergence
    }

    @Test("an unknown target or an unattributed EOI suspends the per-LAPIC reasoning until all are idle")
    func floating() {
        var c = QEMUDeliveredCounter()
        c.message(mode: .fixed, vector: 0x30); c.setTarget(.apics([0]))
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        c.message(mode: .fixed, vector: 0x31)                                  // target unknown
        #expect(c.report(2) == .checked(expected: 1, observed: 1))            // still certain globally
        c.message(mode: .fixed, vector: 0x30); c.setTarget(.apics([1]))
        #expect(c.report(3) == .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)"))
        c.registerWrite(offset: 0xB0, value: 0, apic: 0)
        c.registerWrite(offset: 0xB0, value: 0, apic: 1)
        c.registerWrite(offset: 0xB0, value: 0, apic: nil)
        #expect(c.outstanding == 0 && c.floating == 0)
    }

    @Test("simultaneous timers: each delivery of the group counts +1 when the vector was pending in none")
    func group() {
        var c = QEMUDeliveredCounter()
        c.localDeliver(lvt: 0, mode: 0, vector: 0xEC); c.setTarget(.oneOf([0, 1]))
        #expect(c.report(1) == .checked(expected: 1, observed: 1))
        #expect(c.continuesGroup(1))
        c.localDeliver(lvt: 0, mode: 0, vector: 0xEC); c.setTarget(.oneOf([1]))
        #expect(c.report(2) == .checked(expected: 1, observed: 1))            // the other LAPIC's timer
        #expect(!c.continuesGroup(1))
        #expect(c.perLAPIC[0]?.outstanding == 1 && c.perLAPIC[1]?.outstanding == 1)
    }

    @Test("timer deadlines from TMICT, TDCR and the LVT mode: one-shot, periodic, masked, simultaneous")
    func timers() {
        var t = QEMUAPICRegisters()
        t.learn(thread: 10, idRead: 0)
        t.learn(thread: 11, idRead: 0x0100_0000)
        t.write(thread: 10, offset: 0x3E0, value: 3, now: 0)                  // divide by 16: shift 4
        t.write(thread: 10, offset: 0x320, value: 0x2_00EC, now: 0)           // periodic
        t.write(thread: 10, offset: 0x380, value: 249_999, now: 1_000)        // period 4 ms
        #expect(t.fireTimer(at: 2_000_000).0 == .unknown)                     // not due yet
        #expect(t.fireTimer(at: 4_001_100).0 == .apic(0))
        #expect(t.fireTimer(at: 8_001_100).0 == .apic(0))
        t.write(thread: 11, offset: 0x3E0, value: 3, now: 9_000_000)
        t.write(thread: 11, offset: 0x320, value: 0xEC, now: 9_000_000)       // one-shot
        t.write(thread: 11, offset: 0x380, value: 187_499, now: 9_001_000)    // due at 12.001 ms, with LAPIC 0
        let (f, lvt) = t.fireTimer(at: 12_001_100)
        #expect(f == .oneOf([0, 1]))
        #expect(lvt.map { $0 & 0xFF } == 0xEC)
        #expect(t.fireTimer(at: 12_001_110).0 == .apic(1))                    // the other one, then LAPIC 1 is disarmed
        #expect(t.fireTimer(at: 16_001_100).0 == .apic(0))
        t.write(thread: 10, offset: 0x320, value: 0x3_00EC, now: 17_000_000)  // masked: stopped
        #expect(t.fireTimer(at: 20_001_100).0 == .unknown)
    }
}
