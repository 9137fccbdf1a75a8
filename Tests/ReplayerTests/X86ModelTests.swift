import Testing
@testable import Replayer

/// The behaviours kvm-unit-tests x86/ioapic.c and x86/apic.c check (semantics.md §7.1, §7.2), as
/// scenarios on the models, for KVM's and QEMU's rules where they agree, and where they differ.
@Suite("x86 models: kvm-unit-tests behaviours")
struct X86ModelTests {
    /// A machine with `n` vCPUs whose LAPICs are software-enabled, and pin 0xe programmed.
    func machine(_ behaviour: APICBehaviour, vcpus n: Int = 1, pin: Int = 0xe, vector: UInt8, level: Bool,
                 masked: Bool = false, destination: UInt8 = 0, logical: Bool = false) -> X86Machine {
        var m = X86Machine(vcpus: n, behaviour: behaviour)
        for k in 0..<n { m.apics[k].writeSPIV(0x1FF) }
        let low = UInt32(vector) | (logical ? 1 << 11 : 0) | (level ? 1 << 15 : 0) | (masked ? 1 << 16 : 0)
        _ = m.ioapic.writeRegister(select: UInt8(0x10 + 2 * pin), value: low)
        _ = m.ioapic.writeRegister(select: UInt8(0x11 + 2 * pin), value: UInt32(destination) << 24)
        return m
    }

    /// Takes and EOIs everything pending on vCPU `k`, counting interrupts; `onTake` runs in the "handler".
    func drain(_ m: inout X86Machine, vcpu k: Int = 0, onTake: (inout X86Machine, UInt8, Int) -> Void = { _, _, _ in }) -> [UInt8] {
        var taken: [UInt8] = []
        while let v = m.acknowledge(vcpu: k), taken.count < 100 {
            taken.append(v)
            onTake(&m, v, taken.count)
            _ = m.endOfInterrupt(vcpu: k)
        }
        return taken
    }

    @Test("edge: one toggle, one interrupt", arguments: [APICBehaviour.kvm, .qemu])
    func edge(b: APICBehaviour) {
        var m = machine(b, vector: 0x76, level: false)
        _ = m.setLine(pin: 0xe, level: true)
        _ = m.setLine(pin: 0xe, level: false)
        #expect(drain(&m) == [0x76])
    }

    @Test("level: line high, handler lowers it and EOIs: one interrupt, Remote IRR clear", arguments: [APICBehaviour.kvm, .qemu])
    func level(b: APICBehaviour) {
        var m = machine(b, vector: 0x77, level: true)
        _ = m.setLine(pin: 0xe, level: true)
        #expect(m.ioapic.entries[0xe].remoteIRR)
        #expect(drain(&m) { m, _, _ in _ = m.setLine(pin: 0xe, level: false) } == [0x77])
        #expect(!m.ioapic.entries[0xe].remoteIRR)
    }

    @Test("level coalesce: re-asserting while Remote IRR is set gives one interrupt", arguments: [APICBehaviour.kvm, .qemu])
    func levelCoalesce(b: APICBehaviour) {
        var m = machine(b, vector: 0x98, level: true)
        _ = m.setLine(pin: 0xe, level: true)
        let taken = drain(&m) { m, _, n in
            if n == 1 {
                _ = m.setLine(pin: 0xe, level: false)
                _ = m.setLine(pin: 0xe, level: true)
                _ = m.setLine(pin: 0xe, level: false)
            }
        }
        #expect(taken == [0x98])
    }

    @Test("level sequential: two assertions, two interrupts", arguments: [APICBehaviour.kvm, .qemu])
    func levelSequential(b: APICBehaviour) {
        var m = machine(b, vector: 0x99, level: true)
        _ = m.setLine(pin: 0xe, level: true)
        var taken = drain(&m) { m, _, _ in _ = m.setLine(pin: 0xe, level: false) }
        _ = m.setLine(pin: 0xe, level: true)
        taken += drain(&m) { m, _, _ in _ = m.setLine(pin: 0xe, level: false) }
        #expect(taken == [0x99, 0x99])
    }

    @Test("level retrigger: EOI with the line still high re-delivers", arguments: [APICBehaviour.kvm, .qemu])
    func levelRetrigger(b: APICBehaviour) {
        var m = machine(b, vector: 0x9a, level: true)
        _ = m.setLine(pin: 0xe, level: true)
        let taken = drain(&m) { m, _, n in if n == 2 { _ = m.setLine(pin: 0xe, level: false) } }
        #expect(taken == [0x9a, 0x9a])
    }

    @Test("edge mask: edges while masked are lost; after unmask a new edge is delivered", arguments: [APICBehaviour.kvm, .qemu])
    func edgeMask(b: APICBehaviour) {
        var m = machine(b, vector: 0x81, level: false, masked: true)
        _ = m.setLine(pin: 0xe, level: true)
        _ = m.setLine(pin: 0xe, level: false)
        #expect(drain(&m).isEmpty)
        _ = m.ioapic.writeRegister(select: 0x10 + 2 * 0xe, value: 0x81)
        #expect(drain(&m).isEmpty)
        _ = m.setLine(pin: 0xe, level: true)
        #expect(drain(&m) == [0x81])
    }

    @Test("level mask: a level pending while masked is delivered on unmask")
    func levelMask() {
        var m = machine(.kvm, vector: 0x82, level: true, masked: true)
        _ = m.setLine(pin: 0xe, level: true)
        #expect(drain(&m).isEmpty)
        if let d = m.ioapic.writeRegister(select: 0x10 + 2 * 0xe, value: 0x82 | 1 << 15) {
            _ = m.deliver(X86Machine.Message(d.entry))
        }
        #expect(drain(&m) { m, _, _ in _ = m.setLine(pin: 0xe, level: false) } == [0x82])
    }

    @Test("TMR: set on level acceptance, clear on edge; EOI does not clear it", arguments: [APICBehaviour.kvm, .qemu])
    func tmr(b: APICBehaviour) {
        var m = machine(b, vector: 0x79, level: true)
        _ = m.setLine(pin: 0xe, level: true)
        #expect(m.apics[0].tmr.contains(0x79))
        _ = drain(&m) { m, _, _ in _ = m.setLine(pin: 0xe, level: false) }
        #expect(m.apics[0].tmr.contains(0x79))
        _ = m.ioapic.writeRegister(select: 0x10 + 2 * 0xe, value: 0x79)
        _ = m.setLine(pin: 0xe, level: true)
        #expect(!m.apics[0].tmr.contains(0x79))
    }

    @Test("physical destination 1 reaches only vCPU 1; logical 0xd reaches three", arguments: [APICBehaviour.kvm, .qemu])
    func destinations(b: APICBehaviour) {
        var m = machine(b, vcpus: 4, vector: 0x85, level: true, destination: 1)
        let (_, outcomes) = m.setLine(pin: 0xe, level: true)
        #expect(outcomes.map(\.vcpu) == [1])
        var l = machine(b, vcpus: 4, vector: 0x86, level: true, destination: 0xd, logical: true)
        for k in 0..<4 { l.apics[k].writeLDR(UInt32(1 << k) << 24) }
        let (_, lo) = l.setLine(pin: 0xe, level: true)
        #expect(lo.map(\.vcpu) == [0, 2, 3])
    }

    @Test("simultaneous edges: the higher vector is taken first")
    func simultaneous() {
        var m = machine(.kvm, vector: 0x78, level: false)
        _ = m.ioapic.writeRegister(select: 0x10 + 2 * 0xf, value: 0x66)
        _ = m.setLine(pin: 0xe, level: true)
        _ = m.setLine(pin: 0xf, level: true)
        #expect(drain(&m) == [0x78, 0x66])
    }

    @Test("TPR blocks vectors at or below its class until lowered")
    func tpr() {
        var a = LocalAPIC(id: 0, behaviour: .kvm)
        a.writeSPIV(0x1FF)
        a.tpr = 0x50
        _ = a.accept(vector: 0x45, trigger: false)
        #expect(a.acknowledge() == nil)
        _ = a.accept(vector: 0x61, trigger: false)
        #expect(a.acknowledge() == 0x61)
        #expect(a.ppr == 0x60)
        _ = a.endOfInterrupt()
        a.tpr = 0x30
        #expect(a.acknowledge() == 0x45)
    }

    @Test("PPR 0: QEMU delivers vectors 0x00-0x0F, KVM never does")
    func classZero() {
        for (b, expected) in [(APICBehaviour.kvm, nil), (.qemu, UInt8(0x08))] as [(APICBehaviour, UInt8?)] {
            var a = LocalAPIC(id: 0, behaviour: b)
            a.writeSPIV(0x1FF)
            _ = a.accept(vector: 0x08, trigger: false)
            #expect(a.acknowledge() == expected)
        }
    }

    @Test("coalescing: a vector already in IRR is merged")
    func coalescing() {
        var a = LocalAPIC(id: 0, behaviour: .qemu)
        a.writeSPIV(0x1FF)
        #expect(a.accept(vector: 0x35, trigger: false) == .accepted)
        #expect(a.accept(vector: 0x35, trigger: false) == .coalesced)
        #expect(a.acknowledge() == 0x35)
        #expect(a.acknowledge() == nil)
    }

    @Test("a software-disabled APIC drops fixed interrupts")
    func disabled() {
        var a = LocalAPIC(id: 0, behaviour: .kvm)
        #expect(a.accept(vector: 0x40, trigger: false) == .droppedDisabled)
    }

    @Test("self IPI and physical broadcast", arguments: [APICBehaviour.kvm, .qemu])
    func ipis(b: APICBehaviour) {
        var m = X86Machine(vcpus: 3, behaviour: b)
        for k in 0..<3 { m.apics[k].writeSPIV(0x1FF) }
        #expect(m.deliver(.init(vector: 0xF1, destination: 0, shorthand: .selfOnly, source: 1)).map(\.vcpu) == [1])
        #expect(m.deliver(.init(vector: 0xF2, destination: 0xFF, source: 0)).map(\.vcpu) == [0, 1, 2])
        #expect(m.deliver(.init(vector: 0xF3, destination: 0, shorthand: .allExcludingSelf, source: 0)).map(\.vcpu) == [1, 2])
    }

    @Test("xAPIC cluster 0xF: a broadcast to all clusters in QEMU only")
    func clusterBroadcast() {
        for (b, expected) in [(APICBehaviour.kvm, [Int]()), (.qemu, [0, 1])] {
            var m = X86Machine(vcpus: 2, behaviour: b)
            for k in 0..<2 {
                m.apics[k].writeSPIV(0x1FF)
                m.apics[k].writeDFR(0x0FFF_FFFF)
                m.apics[k].writeLDR(UInt32((k << 4) | 1) << 24)
            }
            #expect(m.deliver(.init(vector: 0x40, destination: 0xF1, logical: true)).map(\.vcpu) == expected)
        }
    }

    @Test("VT-d: a real IRTE from the q35 trace remaps as QEMU did")
    func remap() {
        // vtd_ir_irte_get index 21 low 0x40018 high 0x1000025000d (QEMU prints the quadwords swapped)
        var ir = InterruptRemapping()
        ir.enabled = true
        ir.entries[21] = IRTE(low: 0x1000025000d, high: 0x40018)
        // handle 21, SHV 0, remappable: addr bits 19:5 = 21, bit 4 = 1
        let request = MSIMessage(address: 0xFEE0_0000 | (21 << 5) | 0x10, data: 0)
        let out = try? ir.remap(request).get()
        #expect(out?.vector == 37)
        #expect(out?.destination == 1)
        #expect(out?.logical == true)
        #expect(ir.remap(request, sourceID: 0x0019) == .failure(.sourceIDMismatch))
        #expect(ir.remap(MSIMessage(address: 0xFEE0_0000 | (22 << 5) | 0x10, data: 0)) == .failure(.rootInvalid))
        ir.entries[5] = IRTE(low: 0x1000025000c, high: 0)
        #expect(ir.remap(MSIMessage(address: 0xFEE0_0000 | (5 << 5) | 0x10, data: 0)) == .failure(.notPresent))
    }
}
