import Replayer
import TraceFormat

/// The interrupt models' state after every event up to a time: per CPU the pending and in-service
/// interrupts and the priority registers (x86: the LAPIC's IRR, ISR, TPR, PPR; GICv2: the
/// distributor's pending and active bits for the CPU, the CPU interface's PMR, running priority and
/// HPPIR), and the rest of the machine as `replay --state-at` prints it.
public struct ModelStateSnapshot: Sendable {
    public struct CPU: Sendable {
        /// x86: the APIC ID (KVM: the vcpu_id), as findings and the timeline number CPUs; GICv2: the CPU interface.
        public var cpu: Int
        /// x86: "IRR" and "ISR"; GICv2: "pending" and "active".
        public var pendingName: String
        public var pending: [Int]
        public var activeName: String
        public var active: [Int]
        /// Registers by their hardware names, values as printed.
        public var registers: [(name: String, value: String)]
    }

    /// Absolute ns: the state after every event before this time.
    public var time: Int64
    public var label: String
    public var events: Int
    public var cpus: [CPU]
    /// IOAPIC entries, remapping (x86), distributor enable (GIC): text.
    public var detail: String

    /// The state just before `time` (after every event with an earlier time), through
    /// `Replayer.run(reader, until:)` for x86 KVM; for QEMU GICv2 logs the same loop over the GIC adapter.
    static func take(_ reader: TraceReader, before time: Int64?, label: String) throws -> ModelStateSnapshot? {
        let m = reader.metadata
        if m.vocabularySource == .qemuLog && m.arch == .arm64 {
            var adapter = try QEMUGICAdapter.forTrace(reader)
            try reader.forEachBatch { b in
                for i in 0..<b.count where time.map({ b.times[i] < $0 }) ?? true { adapter.handle(b, i, catalog: reader.catalog) }
            }
            let report = adapter.finish()
            return gic(adapter.gic, time: time, label: label, events: report.events)
        }
        // Sources Replayer.run does not replay (or replays without x86 models) have no snapshot.
        // QEMU x86 logs: no per-vCPU LAPIC state unless each vCPU has its own thread, but IOAPIC and VT-d state.
        guard let (report, machine) = try? Replayer.run(reader, until: time) else { return nil }
        // By APIC ID: the CPU number of findings and timelines (KVM sets it to the vcpu_id).
        let cpus = machine.apics.sorted { $0.id < $1.id }.map { a in
            CPU(cpu: Int(a.id), pendingName: "IRR", pending: a.irr.vectors.map { Int($0) }, activeName: "ISR", active: a.isr.vectors.map { Int($0) },
                registers: [("TPR", hex(Int(a.tpr))), ("PPR", hex(Int(a.ppr))),
                            ("TMR", a.tmr.vectors.map { String($0) }.joined(separator: " ")),
                            ("SPIV", hex(Int(a.spiv)) + (a.softwareEnabled ? " (enabled)" : " (disabled)"))])
        }
        let detail = machine.stateDescription.split(separator: "\n").filter { !$0.hasPrefix("vCPU ") }.joined(separator: "\n")
        guard !cpus.isEmpty || !detail.isEmpty else { return nil }
        return ModelStateSnapshot(time: time ?? Int64.max, label: label, events: report.events, cpus: cpus, detail: detail)
    }

    static func gic(_ g: GICv2, time: Int64?, label: String, events: Int) -> ModelStateSnapshot {
        let cpus = (0..<g.cpuCount).map { c in
            let bit = UInt8(1) << UInt8(c)
            let pending = (0..<g.irqCount).filter { g.pending[$0] & bit != 0 }
            let active = (0..<g.irqCount).filter { g.active[$0] & bit != 0 }
            return CPU(cpu: c, pendingName: "pending", pending: pending, activeName: "active", active: active,
                       registers: [("GICC_CTLR.Enable", g.cpuEnabled[c] ? "1" : "0"), ("PMR", hex(g.priorityMask[c])),
                                   ("RPR", g.runningPriority[c] == GICv2.idlePriority ? "idle (0x100)" : hex(g.runningPriority[c])),
                                   ("HPPIR", g.currentPending[c] == GICv2.spurious ? "1023 (none)" : String(g.currentPending[c])),
                                   ("APR", hex128(g.activePriorities[c]))])
        }
        let enabledSPIs = (32..<g.irqCount).filter { g.enabled[$0] != 0 }
        let detail = "GICD_CTLR.Enable \(g.distributorEnabled ? 1 : 0); enabled SPIs: "
            + (enabledSPIs.isEmpty ? "none" : enabledSPIs.map { "\($0)→targets 0x\(String(g.targets[$0], radix: 16))" }.joined(separator: ", "))
        return ModelStateSnapshot(time: time ?? Int64.max, label: label, events: events, cpus: cpus, detail: detail)
    }

    static func hex(_ v: Int) -> String { "0x" + String(v, radix: 16) }
    static func hex128(_ v: UInt128) -> String { "0x" + String(v, radix: 16) }
}
