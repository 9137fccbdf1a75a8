import Replayer
import TraceFormat

/// The `qemu-gic` output: QEMU 7.2's hw/intc/arm_gic.c trace events (``QEMUGICLine``) of the virt
/// board's GICv2, as a `-msg timestamp=on` log. Every vCPU runs on one TCG thread, as in the
/// single-threaded TCG samples; device lines change on the main loop thread. QEMU prints every
/// access and every gic_update; WFI and exception entry print nothing.
struct QEMUGICOutput: GICOutput {
    static let name = "qemu-gic"
    let out: LineWriter
    /// `out`, unretained, for the per-event emit.
    let lines: Unmanaged<LineWriter>
    let mainThread: Int
    let tcgThread: Int

    init(writer: TraceWriter, scenario: Scenario) {
        out = LineWriter(style: .qemu, writer: writer, formats: QEMUGICLine.formats)
        lines = .passUnretained(out)
        // QEMU's log names the thread only (an imported QEMU log has no CPU: -1).
        mainThread = out.addThread(SimThread(comm: "qemu-system-aar", pid: 6100, cpu: -1))
        tcgThread = out.addThread(SimThread(comm: "CPU 0/TCG", pid: 6102, cpu: -1))
    }

    var writer: TraceWriter { out.writer }
    var eventCount: Int { out.eventCount }

    @inline(__always)
    func thread(_ a: GICActor) -> Int { a == .device ? mainThread : tcgThread }

    @inline(__always)
    func emit(_ line: QEMUGICLine, _ thread: Int, _ t: inout GICTime, _ a: Int64 = 0, _ b: Int64 = 0, _ c: Int64 = 0,
              _ d: Int64 = 0, _ e: Int64 = 0) throws {
        try lines.emit(line.rawValue, thread: thread, time: t.tick(), a, b, c, d, e)
    }

    func lineChanged(irq: Int, high: Bool, cpuMask: UInt8, target: UInt8, by: GICActor, queued: UInt8, lost: UInt8,
                     _ t: inout GICTime) throws {
        try emit(.setIRQ, thread(by), &t, Int64(irq), high ? 1 : 0, Int64(cpuMask), Int64(target))
    }

    func updated(_ u: GICv2.Update, by: GICActor, _ t: inout GICTime) throws {
        try emit(.bestIRQ, thread(by), &t, Int64(u.cpu), Int64(u.irq), Int64(u.priority), Int64(u.priorityMask), Int64(u.runningPriority))
        if u.signal { try emit(.setIRQLine, thread(by), &t, Int64(u.cpu), 1) }
    }

    func distributorWrite(offset: Int, size: Int, value: UInt32, by cpu: Int, _ t: inout GICTime) throws {
        try emit(value >= 0x1000_0000 ? .distWriteWide : .distWrite, tcgThread, &t, Int64(offset), Int64(size), Int64(value))
    }

    func distributorWriteDone(by cpu: Int, queued: UInt8, _ t: inout GICTime) throws {}

    func interruptEnabled(_ irq: Int, by cpu: Int, _ t: inout GICTime) throws {
        try emit(.enableIRQ, tcgThread, &t, Int64(irq))
    }

    func distributorRead(offset: Int, value: UInt32, by cpu: Int, _ t: inout GICTime) throws {
        try emit(value >= 0x1000_0000 ? .distReadWide : .distRead, tcgThread, &t, Int64(offset), 4, Int64(value))
    }

    func cpuInterfaceWrite(cpu: Int, offset: Int, value: UInt32, _ t: inout GICTime) throws {
        try emit(.cpuWrite, tcgThread, &t, Int64(cpu), Int64(offset), Int64(value))
    }

    func cpuInterfaceRead(cpu: Int, offset: Int, value: UInt32, _ t: inout GICTime) throws {
        try emit(.cpuRead, tcgThread, &t, Int64(cpu), Int64(offset), Int64(value))
    }

    func acknowledging(cpu: Int, shown: UInt32, _ t: inout GICTime) throws {
        try emit(.acknowledge, tcgThread, &t, Int64(cpu), Int64(shown))
    }

    func waitsForInterrupt(_ v: Int, _ t: inout GICTime) throws {}
    func takesInterrupt(_ v: Int, _ t: inout GICTime) throws {}
}
