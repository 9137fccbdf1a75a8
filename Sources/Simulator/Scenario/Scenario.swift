import Foundation
import TraceFormat

/// A simulated machine and its workload (docs/SIMULATOR.md). Stored as JSON; field names are
/// snake_case; times are nanoseconds (`_ns`), microseconds (`_us`) or milliseconds (`_ms`) as named.
public struct Scenario: Codable, Sendable, Equatable {
    public var name: String
    public var description: String
    public var platform: Platform
    /// The vocabulary written (`kvm-vmx`; `qemu-gic` or `kvm-arm64`); default: the platform's first
    /// (``Simulator/outputs(arch:)``).
    public var output: String?
    public var vcpus: Int
    public var devices: [Device]
    public var timer: Timer?
    public var ipis: IPIs?
    public var guest: Guest
    /// Length of a run when neither `--events` nor `--duration` is given.
    public var durationMs: Double

    public init(name: String, description: String, platform: Platform, output: String? = nil, vcpus: Int,
                devices: [Device], timer: Timer? = nil, ipis: IPIs? = nil, guest: Guest, durationMs: Double) {
        self.name = name
        self.description = description
        self.platform = platform
        self.output = output
        self.vcpus = vcpus
        self.devices = devices
        self.timer = timer
        self.ipis = ipis
        self.guest = guest
        self.durationMs = durationMs
    }

    enum CodingKeys: String, CodingKey {
        case name, description, platform, output, vcpus, devices, timer, ipis, guest
        case durationMs = "duration_ms"
    }

    /// The interrupt hardware.
    public struct Platform: Codable, Sendable, Equatable {
        /// "x86_64" or "arm64".
        public var arch: String
        /// x86: VT-d interrupt remapping on.
        public var interruptRemapping: Bool?
        /// x86: VT-d posted interrupts for MSI-X devices.
        public var postedInterrupts: Bool?
        /// arm64: a GICv2m MSI frame (MSIs become SPIs).
        public var gicv2m: Bool?
        public init(arch: String, interruptRemapping: Bool? = nil, postedInterrupts: Bool? = nil, gicv2m: Bool? = nil) {
            self.arch = arch
            self.interruptRemapping = interruptRemapping
            self.postedInterrupts = postedInterrupts
            self.gicv2m = gicv2m
        }
        enum CodingKeys: String, CodingKey {
            case arch, gicv2m
            case interruptRemapping = "interrupt_remapping"
            case postedInterrupts = "posted_interrupts"
        }
    }

    /// An interrupt source.
    public struct Device: Codable, Sendable, Equatable {
        public var name: String
        /// x86: "msix" (N queues, one vector each, through a GSI route), "ioapic-edge", "ioapic-level";
        /// arm64: "spi-edge", "spi-level", "msi" (GICv2m SPIs, N queues).
        public var kind: String
        /// MSI-X / GICv2m: number of queues (vectors); default 1.
        public var queues: Int?
        /// x86: the (first) vector; queues take consecutive vectors.
        public var vector: Int?
        /// x86: the IOAPIC pin (= GSI); arm64: the (first) SPI interrupt ID.
        public var irq: Int?
        /// MSI-X on x86: the first KVM GSI of its routes (default 24 + 8 × device index).
        public var gsi: Int?
        /// Interrupts per second per queue (Poisson).
        public var rateHz: Double
        /// Mean interrupts per burst (geometric; 1 = no bursts).
        public var burst: Double?
        /// vCPUs the queues target, cycled by queue (default: queue i → vCPU i mod vcpus).
        public var affinity: [Int]?
        /// Rate of guest affinity changes (rewrites the RTE / MSI address / ITARGETSR while running).
        public var affinityChangeHz: Double?
        /// arm64: the interrupt's priority (GICD_IPRIORITYR byte); default 0xa0.
        public var priority: Int?

        public init(name: String, kind: String, queues: Int? = nil, vector: Int? = nil, irq: Int? = nil, gsi: Int? = nil,
                    rateHz: Double, burst: Double? = nil, affinity: [Int]? = nil, affinityChangeHz: Double? = nil, priority: Int? = nil) {
            self.name = name
            self.kind = kind
            self.queues = queues
            self.vector = vector
            self.irq = irq
            self.gsi = gsi
            self.rateHz = rateHz
            self.burst = burst
            self.affinity = affinity
            self.affinityChangeHz = affinityChangeHz
            self.priority = priority
        }
        enum CodingKeys: String, CodingKey {
            case name, kind, queues, vector, irq, gsi, burst, affinity, priority
            case rateHz = "rate_hz"
            case affinityChangeHz = "affinity_change_hz"
        }
    }

    /// The per-vCPU timer: LAPIC timer (x86) or the virtual arch timer PPI (arm64).
    public struct Timer: Codable, Sendable, Equatable {
        public var periodUs: Double
        /// x86: the LVT timer vector (default 0xec); arm64: the PPI (default 27).
        public var vector: Int?
        public var irq: Int?
        public init(periodUs: Double, vector: Int? = nil, irq: Int? = nil) {
            self.periodUs = periodUs
            self.vector = vector
            self.irq = irq
        }
        enum CodingKeys: String, CodingKey {
            case vector, irq
            case periodUs = "period_us"
        }
    }

    /// Inter-processor interrupts (x86 fixed IPIs, arm64 SGIs) between running vCPUs.
    public struct IPIs: Codable, Sendable, Equatable {
        /// Per vCPU, per second.
        public var rateHz: Double
        /// x86 vectors (default 0xfb, 0xfd) or arm64 SGI numbers (default 1, 2).
        public var vectors: [Int]?
        public init(rateHz: Double, vectors: [Int]? = nil) {
            self.rateHz = rateHz
            self.vectors = vectors
        }
        enum CodingKeys: String, CodingKey {
            case vectors
            case rateHz = "rate_hz"
        }
    }

    /// How the guest kernel services interrupts.
    public struct Guest: Codable, Sendable, Equatable {
        /// Mean handler time (exponential around it, at least a tenth of it).
        public var handlerNs: Int64
        /// Mean time a vCPU runs after its last interrupt before it halts (idle).
        public var runNs: Int64?
        /// x86: "mmio" (xAPIC EOI writes, APIC_ACCESS exits) or "x2apic" (MSR_WRITE exits);
        /// arm64: "eoimode0" (EOIR drops priority and deactivates) or "eoimode1" (EOIR + GICC_DIR).
        public var eoi: String?
        /// Raising the task priority (x86 TPR, arm64 PMR) for a while, from time to time.
        public var priorityMasking: PriorityMasking?
        public init(handlerNs: Int64, runNs: Int64? = nil, eoi: String? = nil, priorityMasking: PriorityMasking? = nil) {
            self.handlerNs = handlerNs
            self.runNs = runNs
            self.eoi = eoi
            self.priorityMasking = priorityMasking
        }
        enum CodingKeys: String, CodingKey {
            case eoi
            case handlerNs = "handler_ns"
            case runNs = "run_ns"
            case priorityMasking = "priority_masking"
        }
    }

    public struct PriorityMasking: Codable, Sendable, Equatable {
        /// Per vCPU, per second.
        public var rateHz: Double
        /// x86: the TPR value written (e.g. 0x50 blocks vectors 0x00–0x5f); arm64: the PMR written.
        public var value: Int
        public var holdUs: Double
        public init(rateHz: Double, value: Int, holdUs: Double) {
            self.rateHz = rateHz
            self.value = value
            self.holdUs = holdUs
        }
        enum CodingKeys: String, CodingKey {
            case value
            case rateHz = "rate_hz"
            case holdUs = "hold_us"
        }
    }

    /// Decodes a scenario file.
    public static func load(path: String) throws -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IrqtraceError("cannot read scenario file", path: path, hint: "give a shipped scenario name (irqtrace sim --list) or a JSON file")
        }
        return try decode(data, path: path)
    }

    /// Decodes and validates a scenario's JSON text; errors name `path` and the field.
    public static func decode(_ data: Data, path: String) throws -> Scenario {
        let scenario: Scenario
        do {
            scenario = try JSONDecoder().decode(Scenario.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw IrqtraceError("scenario: missing field \(Self.path(ctx.codingPath + [key]))", path: path, hint: "see docs/SIMULATOR.md for the format")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            throw IrqtraceError("scenario: wrong type at \(Self.path(ctx.codingPath)): \(ctx.debugDescription)", path: path, hint: "see docs/SIMULATOR.md for the format")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw IrqtraceError("scenario: not valid JSON\(ctx.codingPath.isEmpty ? "" : " at " + Self.path(ctx.codingPath)): \(ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription)",
                                path: path, hint: "see docs/SIMULATOR.md for the format")
        }
        // Ranges and combinations, with the file named.
        do {
            try scenario.validate()
        } catch var e as IrqtraceError {
            e.path = path
            throw e
        }
        return scenario
    }

    static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().drop { $0 == "." }.description
    }

    /// JSON text of the scenario (sorted keys, pretty), as the shipped files are written.
    public func jsonText() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? e.encode(self)) ?? Data(), as: UTF8.self) + "\n"
    }

    /// Checks what JSON cannot: ranges and combinations.
    public func validate() throws {
        func bad(_ what: String) -> IrqtraceError { IrqtraceError("scenario \(name): \(what)", hint: "see docs/SIMULATOR.md for the format") }
        guard ["x86_64", "arm64"].contains(platform.arch) else { throw bad("platform.arch must be x86_64 or arm64") }
        let x86 = platform.arch == "x86_64"
        if let o = output, !Simulator.outputs(arch: platform.arch).contains(o) {
            throw bad("output \(o) is not written for \(platform.arch): output must be one of \(Simulator.outputs(arch: platform.arch).joined(separator: ", "))")
        }
        // x86 KVM prints APIC IDs with %x: IDs 0–9 print as decimal digits (docs/SIMULATOR.md).
        guard vcpus >= 1 && vcpus <= (x86 ? 10 : 8) else { throw bad("vcpus must be 1–\(x86 ? 10 : 8)") }
        guard durationMs > 0 && durationMs <= 1e9 else { throw bad("duration_ms must be positive and at most 1e9 (11.6 days)") }
        guard guest.handlerNs > 0 && guest.handlerNs <= 1_000_000_000_000 else { throw bad("guest.handler_ns must be positive and at most 1e12") }
        if let r = guest.runNs, r < 0 || r > 1_000_000_000_000 { throw bad("guest.run_ns must be 0–1e12") }
        // Rates at most 1 MHz (an interrupt per µs per source, beyond any real device): a rate whose
        // gaps round to 0 ns would stop simulated time (a fuzz find: 2.9e79 Hz hung the simulation).
        func rate(_ r: Double?, _ what: String) throws {
            if let r, !(r >= 0 && r <= 1e6) { throw bad("\(what) must be 0–1000000 Hz") }
        }
        for d in devices {
            try rate(d.rateHz, "device \(d.name): rate_hz")
            try rate(d.affinityChangeHz, "device \(d.name): affinity_change_hz")
        }
        try rate(ipis?.rateHz, "ipis.rate_hz")
        if let m = guest.priorityMasking {
            try rate(m.rateHz, "guest.priority_masking.rate_hz")
            guard m.holdUs >= 0 && m.holdUs <= 1e9 else { throw bad("guest.priority_masking.hold_us must be 0–1e9") }
            guard m.value >= 0 && m.value <= 0xff else { throw bad("guest.priority_masking.value must be 0–255") }
        }
        // Platform features no output writes yet are refused rather than silently ignored.
        let qemuX86 = x86 && output == "qemu-x86"
        if platform.postedInterrupts == true {
            guard x86 else { throw bad("platform.posted_interrupts is an x86 (VT-x/VT-d) feature") }
            guard output == nil || output == "kvm-vmx" else {
                throw bad("platform.posted_interrupts needs output kvm-vmx (QEMU does not emulate posted IRTEs: its VT-d ignores the IM bit)")
            }
            // With APICv, IPIs (ICR writes: APIC-write exits), TPR (virtualized), the LAPIC timer and IOAPIC
            // level EOIs (EOI-induced exits) print other lines than without it: not written yet.
            if let d = devices.first(where: { $0.kind != "msix" }) {
                throw bad("device \(d.name): with platform.posted_interrupts only msix devices are simulated (their irqfd MSIs are posted)")
            }
            if timer != nil || ipis != nil || guest.priorityMasking != nil {
                throw bad("platform.posted_interrupts: timer, ipis and guest.priority_masking are not simulated with APICv yet (only irqfd MSI-X devices); see docs/SIMULATOR.md")
            }
        }
        if platform.interruptRemapping == true {
            guard x86 else { throw bad("platform.interrupt_remapping is an x86 (VT-d) feature") }
            guard qemuX86 else {
                throw bad("platform.interrupt_remapping needs output qemu-x86 (QEMU's VT-d prints vtd_ir_* events; the kvm-vmx output has no VT-d)")
            }
            if let d = devices.first(where: { $0.kind == "ioapic-level" }) {
                throw bad("device \(d.name): ioapic-level with interrupt_remapping is not simulated (Linux then ends a level interrupt through the IOAPIC's EOI register with the pin number as vector); use ioapic-edge or msix")
            }
        }
        if !x86, platform.gicv2m != true, devices.contains(where: { $0.kind == "msi" }) {
            throw bad("devices of kind msi need platform.gicv2m: true (MSIs reach a GICv2 through its GICv2m frame)")
        }
        if x86, platform.gicv2m == true { throw bad("platform.gicv2m is an arm64 feature") }
        for d in devices {
            guard d.rateHz >= 0 else { throw bad("device \(d.name): rate_hz must be ≥ 0") }
            let kinds = x86 ? ["msix", "vfio-msix", "ioapic-edge", "ioapic-level"] : ["spi-edge", "spi-level", "msi"]
            guard kinds.contains(d.kind) else { throw bad("device \(d.name): kind must be one of \(kinds.joined(separator: ", "))") }
            for a in d.affinity ?? [] where a < 0 || a >= vcpus { throw bad("device \(d.name): affinity names vCPU \(a)") }
            if x86 {
                if d.kind == "vfio-msix", !qemuX86 {
                    throw bad("device \(d.name): vfio-msix needs output qemu-x86 (a VFIO device's MSI-X mask, pending bit and interrupts show only in QEMU's vfio_* events; KVM traces no MSI-X table)")
                }
                if d.kind == "vfio-msix", let k = devices.firstIndex(where: { $0.name == d.name }), k > 8 {
                    throw bad("device \(d.name): a vfio-msix device must be among the first 9 devices (its host address 0000:0B:00.0 has bus 1–9)")
                }
                if d.kind == "msix" || d.kind == "vfio-msix" {
                    guard let v = d.vector, v >= 0x20, v + (d.queues ?? 1) <= 0xff else { throw bad("device \(d.name): vector (0x20–0xfe, room for its queues) required") }
                } else {
                    guard let v = d.vector, v >= 0x20, v <= 0xfe else { throw bad("device \(d.name): vector 0x20–0xfe required") }
                    guard let p = d.irq, p >= 0, p < 24 else { throw bad("device \(d.name): irq (IOAPIC pin 0–23) required") }
                    if qemuX86, p == 0 || p == 2 {
                        throw bad("device \(d.name): irq \(p) is the PIT's (QEMU routes ISA IRQ 0 to IOAPIC pin 2); use another pin with output qemu-x86")
                    }
                }
            } else {
                // QEMU's GIC has a multiple of 32 interrupt IDs, at most 1020: SPIs up to 991.
                guard let i = d.irq, i >= 32, i + (d.queues ?? 1) <= 992 else { throw bad("device \(d.name): irq (SPI 32–991, room for its queues) required") }
                if let p = d.priority, p < 0 || p > 0xff { throw bad("device \(d.name): priority must be 0–255") }
            }
        }
        if !x86 {
            if let t = timer?.irq, t < 16 || t > 31 { throw bad("timer.irq must be a PPI (16–31)") }
            for v in ipis?.vectors ?? [] where v < 0 || v > 15 { throw bad("ipis.vectors must be SGI numbers (0–15)") }
            if let e = guest.eoi, !["eoimode0", "eoimode1"].contains(e) { throw bad("guest.eoi must be eoimode0 or eoimode1") }
        } else {
            // (Found by fuzzing: a timer vector of 472 trapped converting to a vector byte.)
            if let v = timer?.vector, v < 0x10 || v > 0xff { throw bad("timer.vector must be a LAPIC vector (0x10–0xff)") }
            for v in ipis?.vectors ?? [] where v < 0x10 || v > 0xff { throw bad("ipis.vectors must be LAPIC vectors (0x10–0xff)") }
        }
        // The LAPIC timer's initial count (period / 16 ns) and the arch timer's period must fit their registers.
        if let p = timer?.periodUs, !(p > 0 && p <= 60_000_000) { throw bad("timer.period_us must be > 0 and at most 60000000 (60 s)") }
    }
}
