import Replayer
import TraceFormat

/// Who drives a line or makes an access in a GICv2 run: a device model on the host (QEMU's main loop
/// or I/O thread) or a vCPU (its own code, or QEMU's device emulation on the vCPU's thread).
enum GICActor: Equatable {
    case device
    case vcpu(Int)
}

/// The simulated clock and random source of a GICv2 run, shared by the workload and its output (an
/// output advances time for each line it writes, from the same generator, so a seed fixes the trace).
struct GICTime {
    var now: Int64 = 0
    var rng: SimRandom
    /// Time of the last event written (the end of the trace as the analyzers see it).
    var last: Int64 = 0

    /// The time of the next line: lines of one operation are a microsecond or so apart.
    @inline(__always)
    mutating func tick() -> Int64 {
        now += 300 + Int64(rng.below(1500))
        last = now
        return now
    }
}

/// How a GICv2 run is written. ``GICSimulation`` runs the arm64 guest on the Replayer's `GICv2`
/// model and tells its output what happened, in order; the output writes what its source prints for
/// it (QEMU's `gic_*` events: every access and update; KVM's tracepoints: injections, exits and
/// traps only — a hardware vGIC hides the CPU interface) and nothing else.
protocol GICOutput {
    /// The output's name (`irqtrace sim --vocabulary`, metadata `simulation.output`).
    static var name: String { get }
    init(writer: TraceWriter, scenario: Scenario)
    var writer: TraceWriter { get }
    /// Events written so far (the line writer's count: cheaper to read than the writer's).
    var eventCount: Int { get }
    /// A device or timer line changed level at the distributor (`cpuMask` 0xff for an SPI, the
    /// CPU's bit for a PPI; `target` the CPUs it goes to); `queued`: CPUs where it became pending
    /// and enabled (the model's change is made before the call); `lost`: CPUs the hypervisor queued
    /// it for and then lost it (the lr-overwrite fault: never pending in the model).
    mutating func lineChanged(irq: Int, high: Bool, cpuMask: UInt8, target: UInt8, by: GICActor, queued: UInt8, lost: UInt8,
                              _ t: inout GICTime) throws
    /// One CPU's result of gic_update (a best interrupt; `signal`: its IRQ line goes up).
    mutating func updated(_ u: GICv2.Update, by: GICActor, _ t: inout GICTime) throws
    /// A distributor write by vCPU `cpu`, before the model applies it.
    mutating func distributorWrite(offset: Int, size: Int, value: UInt32, by cpu: Int, _ t: inout GICTime) throws
    /// The write is applied; `queued`: CPUs an interrupt became pending at (a GICD_SGIR write).
    mutating func distributorWriteDone(by cpu: Int, queued: UInt8, _ t: inout GICTime) throws
    /// An ISENABLER write enabled an interrupt that was disabled.
    mutating func interruptEnabled(_ irq: Int, by cpu: Int, _ t: inout GICTime) throws
    mutating func distributorRead(offset: Int, value: UInt32, by cpu: Int, _ t: inout GICTime) throws
    mutating func cpuInterfaceWrite(cpu: Int, offset: Int, value: UInt32, _ t: inout GICTime) throws
    mutating func cpuInterfaceRead(cpu: Int, offset: Int, value: UInt32, _ t: inout GICTime) throws
    /// A GICC_IAR read, before the acknowledge (`shown`: the CPU's current pending interrupt).
    mutating func acknowledging(cpu: Int, shown: UInt32, _ t: inout GICTime) throws
    /// vCPU `v` has nothing to run and executes WFI.
    mutating func waitsForInterrupt(_ v: Int, _ t: inout GICTime) throws
    /// vCPU `v` takes the IRQ exception (its virtual IRQ line is up), before its first IAR read.
    mutating func takesInterrupt(_ v: Int, _ t: inout GICTime) throws
}
