/// The 8259A pair (master, and the slave on master input 2) with QEMU's rules (hw/intc/i8259.c,
/// 7.2): edge detection through `last_irr` unless ELCR marks an input level-triggered, priority
/// rotation by `priority_add`, special mask and special fully nested modes, auto-EOI, poll mode, the
/// ICW1–4 initialisation sequence and the OCW2/OCW3 commands.
///
/// ELCR writes (ports 0x4d0/0x4d1) are not traced by QEMU, and firmware sets level mode for the PCI
/// interrupt inputs: an input not known to be an ISA edge input makes its chip `uncertain` once it
/// is raised, and predictions on that chip are not made from then on.
public struct PIC8259Chip: Sendable, Equatable, Codable {
    public let master: Bool
    public var irr: UInt8 = 0
    public var imr: UInt8 = 0
    public var isr: UInt8 = 0
    public var lastIRR: UInt8 = 0
    public var priorityAdd: UInt8 = 0
    public var irqBase: UInt8 = 0
    public var readRegisterSelect = false
    public var poll = false
    public var specialMask = false
    public var initState = 0
    public var autoEOI = false
    public var rotateOnAutoEOI = false
    public var specialFullyNested = false
    public var init4 = false
    public var singleMode = false
    /// An input whose edge/level mode is unknown has been raised.
    public var uncertain = false
    /// Edge/level control, when the source traces its writes (KVM: port 0x4d0/0x4d1 as kvm_pio).
    public var elcr: UInt8 = 0
    /// The ELCR is known (KVM); QEMU does not trace its writes (see `uncertain`).
    public var elcrKnown = false

    /// ISA inputs that are edge-triggered on PC machines: master 0–4 and 6 (timer, keyboard,
    /// cascade, serial ports, floppy); slave 0 and 4–7 (RTC, mouse, FPU, IDE).
    var knownEdge: UInt8 { master ? 0b0101_1111 : 0b1111_0001 }

    public init(master: Bool) { self.master = master }

    /// `get_priority`: 0 highest … 8 none.
    func priority(_ mask: UInt8) -> Int {
        guard mask != 0 else { return 8 }
        var p = 0
        while mask & (1 << UInt8((p + Int(priorityAdd)) & 7)) == 0 { p += 1 }
        return p
    }

    /// `pic_get_irq`: the input to raise, nil when none.
    public var pendingIRQ: Int? {
        let p = priority(irr & ~imr)
        guard p != 8 else { return nil }
        var mask = isr
        if specialMask { mask &= ~imr }
        if specialFullyNested && master { mask &= ~(1 << 2) }
        return p < priority(mask) ? (p + Int(priorityAdd)) & 7 : nil
    }

    /// `pic_set_irq` (QEMU) / `pic_set_irq1` (KVM): true when the input was already pending (KVM
    /// reports that as coalesced).
    @discardableResult
    public mutating func setIRQ(_ irq: Int, level: Bool) -> Bool {
        let mask = UInt8(1) << UInt8(irq & 7)
        if level && !elcrKnown && knownEdge & mask == 0 { uncertain = true }
        var already = false
        if elcr & mask != 0 {
            if level { already = irr & mask != 0; irr |= mask; lastIRR |= mask } else { irr &= ~mask; lastIRR &= ~mask }
        } else if level {
            if lastIRR & mask == 0 { already = irr & mask != 0; irr |= mask }
            lastIRR |= mask
        } else {
            lastIRR &= ~mask
        }
        return already
    }

    /// `pic_intack`.
    mutating func intack(_ irq: Int) {
        let mask = UInt8(1) << UInt8(irq & 7)
        if autoEOI {
            if rotateOnAutoEOI { priorityAdd = UInt8((irq + 1) & 7) }
        } else {
            isr |= mask
        }
        if elcr & mask == 0 { irr &= ~mask }     // a level input stays pending while high
    }

    /// `pic_ioport_write` at offset 0 or 1.
    public mutating func write(_ addr: Int, _ val: UInt8) {
        if addr & 1 == 0 {
            if val & 0x10 != 0 {
                // pic_init_reset (ELCR kept: edge inputs have irr & elcr = 0)
                let (keep, e, known) = (uncertain, elcr, elcrKnown)
                self = PIC8259Chip(master: master)
                (uncertain, elcr, elcrKnown) = (keep, e, known)
                irr &= elcr
                initState = 1
                init4 = val & 1 != 0
                singleMode = val & 2 != 0
            } else if val & 0x08 != 0 {
                if val & 0x04 != 0 { poll = true }
                if val & 0x02 != 0 { readRegisterSelect = val & 1 != 0 }
                if val & 0x40 != 0 { specialMask = (val >> 5) & 1 != 0 }
            } else {
                let cmd = val >> 5
                switch cmd {
                case 0, 4: rotateOnAutoEOI = cmd >> 2 != 0
                case 1, 5:
                    let p = priority(isr)
                    if p != 8 {
                        let irq = (p + Int(priorityAdd)) & 7
                        isr &= ~(1 << UInt8(irq))
                        if cmd == 5 { priorityAdd = UInt8((irq + 1) & 7) }
                    }
                case 3: isr &= ~(1 << (val & 7))
                case 6: priorityAdd = (val &+ 1) & 7
                case 7:
                    let irq = val & 7
                    isr &= ~(1 << irq)
                    priorityAdd = (irq + 1) & 7
                default: break
                }
            }
        } else {
            switch initState {
            case 0: imr = val
            case 1:
                irqBase = val & 0xF8
                initState = singleMode ? (init4 ? 3 : 0) : 2
            case 2: initState = init4 ? 3 : 0
            case 3:
                specialFullyNested = (val >> 4) & 1 != 0
                autoEOI = (val >> 1) & 1 != 0
                initState = 0
            default: break
            }
        }
    }

    /// `pic_ioport_read`: the value (poll mode acknowledges).
    public mutating func read(_ addr: Int) -> UInt8 {
        if poll {
            poll = false
            guard let irq = pendingIRQ else { return 0 }
            intack(irq)
            return UInt8(irq) | 0x80
        }
        if addr & 1 == 0 { return readRegisterSelect ? isr : irr }
        return imr
    }
}

/// Master and slave.
public struct PIC8259: Sendable, Equatable, Codable {
    public var master = PIC8259Chip(master: true)
    public var slave = PIC8259Chip(master: false)

    public init() {}

    public var uncertain: Bool { master.uncertain || slave.uncertain }

    /// The INT output to the CPU: the master has an input to raise (KVM `pic_irq_request(irq >= 0)`).
    public var output: Bool { master.pendingIRQ != nil }

    /// KVM's `pic_update_irq`: the slave's output drives master input 2. KVM does it inside the
    /// PIC after every input change, port write and acknowledge, with no trace event; QEMU's
    /// cascade goes through a traced `pic_set_irq` of master input 2 instead.
    public mutating func cascade() {
        master.setIRQ(2, level: slave.pendingIRQ != nil)
    }

    /// `pic_read_irq`, the CPU's acknowledgement: the input (0–15; 7 or 15 when spurious) and vector.
    public mutating func acknowledge() -> (irq: Int, vector: Int) {
        guard let irq = master.pendingIRQ else { return (7, Int(master.irqBase) + 7) }
        var vector = Int(master.irqBase) + irq
        var irq2 = 7
        if irq == 2 {
            if let s = slave.pendingIRQ { irq2 = s; slave.intack(s) }
            vector = Int(slave.irqBase) + irq2
        }
        master.intack(irq)
        return (irq == 2 ? irq2 + 8 : irq, vector)
    }
}
