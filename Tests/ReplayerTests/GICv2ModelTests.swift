import Testing
@testable import Replayer

/// kvm-unit-tests arm/gic.c behaviours (semantics.md §7.4) and the QEMU rules of semantics.md §5,
/// as scenarios on the GICv2 model.
@Suite("GICv2 model")
struct GICv2ModelTests {
    func gic(cpus: Int = 4) -> GICv2 {
        var g = GICv2(cpus: cpus)
        g.writeDistributor(offset: 0, value: 1, cpu: 0)
        for c in 0..<cpus {
            g.writeCPUInterface(cpu: c, offset: 0x00, value: 1)
            g.writeCPUInterface(cpu: c, offset: 0x04, value: 0xF0)
            for irq in stride(from: 0, to: 32, by: 4) { g.writeDistributor(offset: 0x400 + irq, value: 0xA0A0A0A0, cpu: c) }
        }
        g.update()
        return g
    }

    /// Takes every interrupt a CPU can take, EOI'ing each; returns the IAR values.
    func drain(_ g: inout GICv2, cpu: Int) -> [UInt32] {
        var out: [UInt32] = []
        g.update()
        while out.count < 64 {
            let iar = g.acknowledge(cpu: cpu)
            if iar == GICv2.spurious { break }
            out.append(iar)
            g.update()
            g.writeCPUInterface(cpu: cpu, offset: 0x10, value: iar)
            g.update()
        }
        return out
    }

    @Test("self SGI: exactly one, with the sender in IAR bits 12:10")
    func selfSGI() {
        var g = gic()
        g.writeDistributor(offset: 0xF00, value: 2 << 24 | 1, cpu: 2)
        #expect(drain(&g, cpu: 2) == [UInt32(2 << 10 | 1)])
        for c in [0, 1, 3] { #expect(drain(&g, cpu: c).isEmpty) }
    }

    @Test("target list: only the listed CPUs, once each; broadcast: all but the sender")
    func targetsAndBroadcast() {
        var g = gic()
        g.writeDistributor(offset: 0xF00, value: 0b1010 << 16 | 3, cpu: 0)
        #expect(drain(&g, cpu: 1) == [3])
        #expect(drain(&g, cpu: 3) == [3])
        #expect(drain(&g, cpu: 2).isEmpty)
        g.writeDistributor(offset: 0xF00, value: 1 << 24 | 5, cpu: 1)
        for c in [0, 2, 3] { #expect(drain(&g, cpu: c) == [UInt32(1 << 10 | 5)]) }
        #expect(drain(&g, cpu: 1).isEmpty)
    }

    @Test("an SGI from two sources is delivered twice, one source at a time")
    func sgiSources() {
        var g = gic()
        g.writeDistributor(offset: 0xF00, value: 1 << 16 | 4, cpu: 2)
        g.writeDistributor(offset: 0xF00, value: 1 << 16 | 4, cpu: 3)
        #expect(drain(&g, cpu: 0) == [UInt32(2 << 10 | 4), UInt32(3 << 10 | 4)])
    }

    @Test("active: deactivated through ICACTIVER without EOIR, the SGI is counted once")
    func activeClearedByICACTIVER() {
        var g = gic()
        g.writeDistributor(offset: 0xF00, value: 2 << 24 | 1, cpu: 0)
        g.update()
        #expect(g.acknowledge(cpu: 0) == 1)
        g.writeDistributor(offset: 0x380, value: 1 << 1, cpu: 0)
        g.update()
        #expect(g.active[1] & 1 == 0)
        #expect(g.acknowledge(cpu: 0) == GICv2.spurious)
    }

    @Test("a level PPI stays pending while its line is high and re-pends after EOI")
    func levelRepend() {
        var g = gic(cpus: 2)
        g.writeDistributor(offset: 0x100, value: 1 << 27, cpu: 0)
        g.setLine(27, high: true, cpuMask: 1)
        g.update()
        #expect(g.acknowledge(cpu: 0) == 27)
        g.update()
        #expect(g.acknowledge(cpu: 0) == GICv2.spurious) // active: not re-signalled
        g.writeCPUInterface(cpu: 0, offset: 0x10, value: 27)
        g.update()
        #expect(g.acknowledge(cpu: 0) == 27) // line still high
        g.writeCPUInterface(cpu: 0, offset: 0x10, value: 27)
        g.setLine(27, high: false, cpuMask: 1)
        g.update()
        #expect(g.acknowledge(cpu: 0) == GICv2.spurious)
        #expect(drain(&g, cpu: 1).isEmpty) // PPI of CPU 0 only
    }

    @Test("priority mask and running priority: masked below PMR, no preemption at equal priority")
    func priorities() {
        var g = gic(cpus: 1)
        g.writeDistributor(offset: 0x100, value: 0b11 << 16 | 0, cpu: 0) // enable PPIs 16 and 17
        g.writeDistributor(offset: 0x410, value: 0x0000_F0A0, cpu: 0)    // 16: 0xA0, 17: 0xF0
        g.setLine(16, high: true, cpuMask: 1)
        g.setLine(17, high: true, cpuMask: 1)
        g.update()
        #expect(g.acknowledge(cpu: 0) == 16)
        g.update()
        #expect(g.acknowledge(cpu: 0) == GICv2.spurious) // 0xF0 is not below PMR 0xF0
        g.writeCPUInterface(cpu: 0, offset: 0x04, value: 0xFF)
        g.update()
        #expect(g.acknowledge(cpu: 0) == GICv2.spurious) // 0xF0 cannot preempt running 0xA0
        g.setLine(16, high: false, cpuMask: 1)
        g.writeCPUInterface(cpu: 0, offset: 0x10, value: 16)
        g.update()
        #expect(g.acknowledge(cpu: 0) == 17)
    }

    @Test("EOImode: EOIR drops priority only; DIR deactivates")
    func splitEOI() {
        var g = gic(cpus: 1)
        g.writeCPUInterface(cpu: 0, offset: 0x00, value: 1 | 1 << 9)
        g.writeDistributor(offset: 0xF00, value: 2 << 24 | 7, cpu: 0)
        g.update()
        #expect(g.acknowledge(cpu: 0) == 7)
        g.writeCPUInterface(cpu: 0, offset: 0x10, value: 7)
        #expect(g.runningPriority[0] == GICv2.idlePriority)
        #expect(g.active[7] & 1 != 0)
        g.writeCPUInterface(cpu: 0, offset: 0x1000, value: 7)
        #expect(g.active[7] & 1 == 0)
    }

    @Test("SPI to two CPUs: QEMU lets each acknowledge it; the 1-N model only one")
    func oneOfN() {
        for (oneOfN, expected) in [(false, 2), (true, 1)] {
            var g = gic(cpus: 2)
            g.oneOfN = oneOfN
            g.writeDistributor(offset: 0x104, value: 1 << 8, cpu: 0) // enable SPI 40
            g.writeDistributor(offset: 0x828, value: 0x0000_0003, cpu: 0)
            g.writeDistributor(offset: 0xC08, value: 0x0002_0000, cpu: 0) // edge
            g.setLine(40, high: true, cpuMask: 0)
            let taken = drain(&g, cpu: 0).count + drain(&g, cpu: 1).count
            #expect(taken == expected)
        }
    }
}
