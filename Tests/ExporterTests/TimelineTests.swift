import Foundation
import Testing
@testable import Exporter
import Analyzer
import Recorder
import Replayer
import TraceFormat

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
func sample(_ relative: String) -> String { root.appendingPathComponent(relative).path }

@Suite("Timeline from model transitions")
struct TimelineTests {
    @Test("QEMU GICv2 boot: one in-service slice per acknowledged interrupt, closed by its EOI; flows from pending to acknowledge")
    func gic() throws {
        let (reader, _) = try Recorder.open(sample("traces/qemu-arm64-virt-gicv2-smp2.log.zst"))
        var delivered = 0, eois = 0
        try TransitionStream.replay(reader) { t in
            if t.kind == .delivered && t.irq != 1023 { delivered += 1 }
            if t.kind == .eoi { eois += 1 }
        }
        let tl = try Timeline.build(reader)
        let inService = tl.slices.filter { $0.kind == .inService }
        #expect(inService.count == delivered)
        #expect(tl.cpus == [0, 1])
        let closed = inService.filter { $0.end != nil }
        #expect(closed.count >= delivered - 2, "every handler but those running at power-off ends with its EOI")
        #expect(closed.allSatisfy { $0.end! >= $0.start && $0.endEvent! > $0.startEvent })
        #expect(!tl.flows.isEmpty && tl.flows.allSatisfy { $0.toTime >= $0.fromTime })
        #expect(tl.report?.divergences.isEmpty == true)
    }

    @Test("real KVM fault recording: the faulted vector's slice stays open; halts are slices")
    func kvm() throws {
        let (reader, _) = try Recorder.open(sample("traces/kvm/pvm-idt-fault.trace.txt"))
        let tl = try Timeline.build(reader)
        #expect(tl.slices.contains { $0.kind == .inService && $0.vector == 0x58 && $0.end == nil }, "vector 0x58 stays in service")
        #expect(!tl.instants.isEmpty)
        #expect(tl.firstTime <= tl.lastTime)
    }

    @Test("built from transitions: nesting closes innermost first")
    func nesting() {
        let tl = Timeline.build([
            Transition(.accepted, event: 0, time: 10, cpu: 0, vector: 0x30),
            Transition(.delivered, event: 1, time: 20, cpu: 0, vector: 0x30),
            Transition(.delivered, event: 2, time: 30, cpu: 0, vector: 0x50),
            Transition(.eoi, event: 3, time: 40, cpu: 0, vector: 0x50),
            Transition(.eoi, event: 4, time: 50, cpu: 0, vector: 0x30),
        ])
        #expect(tl.slices.map(\.end) == [50, 40])
        #expect(tl.flows == [Timeline.Flow(cpu: 0, vector: 0x30, irq: -1, fromTime: 10, fromEvent: 0, toTime: 20, toEvent: 1)])
    }

    @Test("a new VM ends what the last one left in service or halted; its acceptances flow nowhere")
    func vmStart() {
        let tl = Timeline.build([
            Transition(.delivered, event: 0, time: 10, cpu: 0, vector: 0x58),         // never EOI'd in VM 1
            Transition(.halted, event: 1, time: 15, cpu: 1),
            Transition(.accepted, event: 2, time: 18, cpu: 0, vector: 0x43),          // never delivered in VM 1
            Transition(.vmStarted, event: 3, time: 100, cpu: 0, value: 0, aux: 1),
            Transition(.delivered, event: 4, time: 110, cpu: 0, vector: 0x43),
            Transition(.eoi, event: 5, time: 120, cpu: 0, vector: 0x43),
        ])
        #expect(tl.slices.map(\.end) == [100, 100, 120])
        #expect(tl.flows.isEmpty)
        #expect(tl.instants.contains { $0.kind == .vmStarted && $0.time == 100 })
    }
}
