import Replayer
import TraceFormat
/// The actions of an x86 guest workload, whichever host it runs on and vocabulary it is written in.
enum X86Action {
    /// Device `i`, queue `q`: raise an interrupt.
    case device(Int, Int)
    /// Device, queue, interrupts left in the burst.
    case deviceBurst(Int, Int, Int)
    case timer(Int)
    case ipi(Int)
    /// An interrupt is pending for the vCPU: on KVM it is kicked out of the guest or woken, under
    /// TCG it takes the interrupt at its next instruction boundary.
    case interruptPending(Int)
    /// vCPU, epoch.
    case handlerEnd(Int, UInt64)
    /// vCPU, epoch.
    case idle(Int, UInt64)
    case tprRaise(Int)
    case tprLower(Int)
    case affinity(Int)
    /// KVM's delayed re-delivery of a level pin after an EOI storm (pin).
    case delayedEOI(Int)
    /// msi-flood fault: device, queue, messages left.
    case flood(Int, Int, Int)
}

/// The msi-flood fault's shape: `messages` MSIs of one queue, one every `gapNs` ± a quarter (about
/// 500 kHz for 1.2 ms), far above what a vCPU whose handler takes microseconds can service.
enum MSIFlood {
    static let fault = FaultSchedule.index("msi-flood")
    static let messages = 600
    static let gapNs: Int64 = 2_000
}

/// What the x86 simulations (`X86KVMSimulation` for kvm-vmx, `X86QEMUSimulation` for qemu-x86)
/// share: the scenario's devices and where their queues start, and the workload's clocks — device
/// interrupts (Poisson per queue, in geometric bursts), affinity changes (a queue moved to another
/// vCPU, retried while no vCPU is free to run the guest's code), IPIs, TPR raises and idle timers.
/// Each simulation says what an interrupt, an affinity change and the guest's reaction to them are
/// on its host and prints them in its vocabulary.
protocol X86Workload: Simulation where Action == X86Action {
    var scenario: Scenario { get }
    var rng: SimRandom { get set }
    var faults: FaultSchedule { get set }
    var deviceCount: Int { get }
    /// Each device's clock (``DeviceClock.table(_:)`` of the scenario).
    var clocks: [DeviceClock] { get }
    func queueCount(_ i: Int) -> Int
    /// The vCPU queue `q` of device `i` targets now, and its vector.
    func queueTarget(_ i: Int, _ q: Int) -> (vcpu: Int, vector: Int)
    /// One interrupt of queue `q` of device `i`.
    mutating func raise(_ i: Int, _ q: Int) throws
    /// Moves one queue of device `i` to another vCPU (``pickMove(_:)``); false when no vCPU is free
    /// to run the guest's code.
    mutating func changeAffinity(_ i: Int) throws -> Bool
    /// Schedules the vCPU's next halt (after `guest.run_ns` without work).
    mutating func scheduleIdle(_ v: Int)
}

extension X86Workload {
    mutating func gap(rateHz: Double) -> Int64 { rng.exponential(mean: 1e9 / rateHz) }

    /// The time of the next line: lines of one action are a few hundred ns apart.
    @inline(__always)
    mutating func tick() -> Int64 {
        now += 80 + Int64(rng.below(240))
        return now
    }

    /// Records a fault that fired, as ground truth at the current time.
    mutating func truth(_ fault: String, _ expect: String, cpu: Int, vector: Int? = nil, irq: Int? = nil, _ detail: String) {
        faults.fired(fault, GroundTruth(fault: fault, expect: expect, timeNs: now, cpu: cpu, vector: vector, irq: irq, detail: detail))
    }

    /// The vCPU each queue of device `i` targets at boot: its `affinity` (default all) cycled from `i`.
    static func initialTargets(_ scenario: Scenario, device i: Int, queues: Int) -> [Int] {
        let affinity = scenario.devices[i].affinity ?? Array(0..<scenario.vcpus)
        return (0..<queues).map { affinity[($0 + i) % affinity.count] }
    }

    /// Device interrupts and affinity changes start.
    mutating func startDeviceClocks() {
        for i in 0..<deviceCount {
            let d = clocks[i]
            guard d.rateHz > 0 else { continue }
            for q in 0..<queueCount(i) { queue.schedule(.device(i, q), at: now + gap(rateHz: d.rateHz)) }
            if d.affinityChangeHz > 0 { queue.schedule(.affinity(i), at: now + gap(rateHz: d.affinityChangeHz)) }
        }
    }

    /// IPIs, TPR raises and the vCPUs' idle timers start.
    mutating func startGuestClocks() {
        if let i = scenario.ipis, i.rateHz > 0, scenario.vcpus > 1 {
            for v in 0..<scenario.vcpus { queue.schedule(.ipi(v), at: now + gap(rateHz: i.rateHz)) }
        }
        if let p = scenario.guest.priorityMasking, p.rateHz > 0 {
            for v in 0..<scenario.vcpus { queue.schedule(.tprRaise(v), at: now + gap(rateHz: p.rateHz)) }
        }
        for v in 0..<scenario.vcpus { scheduleIdle(v) }
    }

    /// A queue to move and its new vCPU (another than its current one).
    mutating func pickMove(_ targets: [Int]) -> (queue: Int, target: Int) {
        let q = rng.below(targets.count)
        return (q, (targets[q] + 1 + rng.below(scenario.vcpus - 1)) % scenario.vcpus)
    }

    /// The device and affinity actions, the same on every host; false for the others.
    mutating func performWorkload(_ action: X86Action) throws -> Bool {
        switch action {
        case .device(let i, let q):
            let d = clocks[i]
            queue.schedule(.device(i, q), at: now + rng.exponential(mean: d.meanGapNs))
            // A queue that keeps its vCPU (no affinity changes), so the flood has one target.
            if d.floodable, faults.due(MSIFlood.fault, now) {
                let (vcpu, vector) = queueTarget(i, q)
                truth("msi-flood", "interrupt_storm", cpu: vcpu, vector: vector,
                      "\(scenario.devices[i].name) queue \(q) (vector \(vector) to vCPU \(vcpu)) floods: \(MSIFlood.messages) MSIs about \(MSIFlood.gapNs / 1000) µs apart")
                try raise(i, q)
                queue.schedule(.flood(i, q, MSIFlood.messages - 1), at: now + MSIFlood.gapNs)
                return true
            }
            let burst = d.burst
            // Geometric burst length with mean `burst`.
            var n = 1
            if burst > 1 { while n < 64 && rng.chance(1 - 1 / burst) { n += 1 } }
            try raise(i, q)
            if n > 1 { queue.schedule(.deviceBurst(i, q, n - 1), at: now + rng.between(1_000, 4_000)) }
        case .deviceBurst(let i, let q, let left):
            try raise(i, q)
            if left > 1 { queue.schedule(.deviceBurst(i, q, left - 1), at: now + rng.between(1_000, 4_000)) }
        case .flood(let i, let q, let left):
            try raise(i, q)
            if left > 1 { queue.schedule(.flood(i, q, left - 1), at: now + rng.between(MSIFlood.gapNs * 3 / 4, MSIFlood.gapNs * 5 / 4)) }
        case .affinity(let i):
            if try changeAffinity(i) {
                let a = clocks[i].affinityChangeHz
                if a > 0 { queue.schedule(.affinity(i), at: now + gap(rateHz: a)) }
            } else {
                // The guest's irq affinity code runs on a running vCPU: with none free, a little later.
                queue.schedule(.affinity(i), at: now + rng.between(20_000, 200_000))
            }
        default:
            return false
        }
        return true
    }
}

extension X86Machine {
    /// `apics[v].deliverable`, read in place: through the array's getter the whole `LocalAPIC` is
    /// copied out first to call a getter of another module, on every simulated event.
    @inline(__always)
    func deliverable(_ v: Int) -> UInt8? { apics.withUnsafeBufferPointer { $0[v].deliverable } }
}
