import Testing
@testable import Replayer

/// The 8259A pair with QEMU's rules (hw/intc/i8259.c).
@Suite("8259 PIC model")
struct PIC8259Tests {
    /// Linux's init sequence: ICW1 0x11, ICW2 base, ICW3 cascade, ICW4 8086 mode; then IMR.
    func initialised() -> PIC8259 {
        var p = PIC8259()
        for (chip, base, icw3) in [(true, UInt8(0x30), UInt8(0x04)), (false, UInt8(0x38), UInt8(0x02))] {
            func w(_ a: Int, _ v: UInt8) { if chip { p.master.write(a, v) } else { p.slave.write(a, v) } }
            w(0, 0x11); w(1, base); w(1, icw3); w(1, 0x01); w(1, 0xFF)
        }
        return p
    }

    @Test("ICW2 sets the vector base; a masked input is not raised; an edge is latched once")
    func basics() {
        var p = initialised()
        #expect(p.master.irqBase == 0x30 && p.slave.irqBase == 0x38)
        p.master.setIRQ(0, level: true)
        #expect(p.master.pendingIRQ == nil)                 // IMR 0xff
        p.master.write(1, 0xFE)                             // unmask input 0
        #expect(p.master.pendingIRQ == 0)
        #expect(p.acknowledge() == (0, 0x30))
        #expect(p.master.isr == 1 && p.master.irr == 0)
        p.master.setIRQ(0, level: true)                     // still high: no new edge
        #expect(p.master.irr == 0)
        p.master.setIRQ(0, level: false); p.master.setIRQ(0, level: true)
        #expect(p.master.irr == 1 && p.master.pendingIRQ == nil)   // in service blocks the same priority
        p.master.write(0, 0x20)                             // non-specific EOI
        #expect(p.master.pendingIRQ == 0)
    }

    @Test("KVM's cascade (pic_update_irq): a slave input raises master input 2 and the output; the acknowledge gives the slave's vector")
    func kvmCascade() {
        var p = initialised()
        p.master.write(1, 0xFB)                             // master: only input 2 (the slave) unmasked
        p.slave.write(1, 0xFE)                              // slave: input 0 (IRQ 8)
        p.slave.setIRQ(0, level: true)
        #expect(!p.output)                                  // not yet propagated
        p.cascade()
        #expect(p.output && p.master.pendingIRQ == 2)
        #expect(p.acknowledge() == (8, 0x38))
        p.cascade()
        #expect(!p.output && p.slave.isr == 1 && p.master.isr == 4)
        p.slave.write(0, 0x20); p.master.write(0, 0x20)     // EOI to both, as Linux does
        p.slave.setIRQ(0, level: false); p.slave.setIRQ(0, level: true); p.cascade()
        #expect(p.output && p.acknowledge() == (8, 0x38))
    }

    @Test("priority: lower input first; a higher one preempts the one in service; rotation moves the lowest")
    func priority() {
        var p = initialised()
        p.master.write(1, 0x00)
        p.master.setIRQ(4, level: true); p.master.setIRQ(1, level: true)
        #expect(p.acknowledge().irq == 1)
        #expect(p.master.pendingIRQ == nil)                 // 4 is below 1 in service
        p.master.write(0, 0x20)
        #expect(p.acknowledge().irq == 4)
        p.master.write(0, 0xA0)                             // rotate on non-specific EOI: 4 retired, 5 highest
        #expect(p.master.priorityAdd == 5)
        p.master.setIRQ(0, level: false); p.master.setIRQ(0, level: true)
        p.master.setIRQ(6, level: true)
        #expect(p.acknowledge().irq == 6)                   // 6 now outranks 0
    }

    @Test("a slave input is acknowledged through master input 2 with the slave's vector; spurious is 7")
    func cascade() {
        var p = initialised()
        p.master.write(1, 0xFB); p.slave.write(1, 0xEF)    // cascade and slave input 4 (IRQ 12) unmasked
        #expect(p.acknowledge() == (7, 0x37))               // nothing pending: spurious IRQ 7
        p.slave.setIRQ(4, level: true)
        p.master.setIRQ(2, level: true)                     // the slave's output
        #expect(p.acknowledge() == (12, 0x3C))
        #expect(p.slave.isr == 0x10 && p.master.isr == 0x04)
    }

    @Test("OCW3 selects IRR or ISR reads; poll mode acknowledges; auto-EOI leaves nothing in service")
    func readsPollAutoEOI() {
        var p = initialised()
        p.master.write(1, 0x00)
        p.master.setIRQ(3, level: true)
        #expect(p.master.read(0) == 0x08)                   // IRR (default)
        p.master.write(0, 0x0B)                             // OCW3: read ISR
        #expect(p.master.read(0) == 0x00)
        p.master.write(0, 0x0C)                             // OCW3: poll
        #expect(p.master.read(0) == 0x83)                   // IRQ 3, acknowledged
        #expect(p.master.read(0) == 0x08)                   // ISR now (read select kept)
        var a = PIC8259()
        a.master.write(0, 0x11); a.master.write(1, 0x20); a.master.write(1, 0x04); a.master.write(1, 0x03)   // ICW4: auto-EOI
        a.master.write(1, 0x00)
        a.master.setIRQ(1, level: true)
        #expect(a.acknowledge() == (1, 0x21))
        #expect(a.master.isr == 0)
    }

    @Test("an input of unknown edge/level mode (a PCI line) makes its chip uncertain")
    func uncertain() {
        var p = initialised()
        p.slave.setIRQ(3, level: true)                      // IRQ 11
        #expect(p.uncertain)
        var q = initialised()
        q.master.setIRQ(4, level: true)                     // serial: ISA edge
        #expect(!q.uncertain)
    }
}
