import TraceFormat

/// The QEMU GICv2 adapter's complete replay state for a snapshot (``ReplaySnapshots``). Not stored:
/// the per-template handler cache (template ids depend on the order chunks are decoded in) and
/// transitions.
extension QEMUGICAdapter: SnapshotReplayable {
    enum CodingKeys: String, CodingKey {
        case gic, report, expected, expectedSetIRQ, context, lastIAR, initialising, uncertainSender, freshEdges, divergedSinceChange
    }

    struct FreshEdge: Codable { var cpu: Int; var irq: Int; var event: Int; var time: Int64 }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let gic = try c.decode(GICv2.self, forKey: .gic)
        self.init(cpus: gic.cpuCount, irqs: gic.irqCount)
        self.gic = gic
        report = try c.decode(ReplayReport.self, forKey: .report)
        expected = try c.decode([GICv2.Update].self, forKey: .expected)
        expectedSetIRQ = try c.decode([Int].self, forKey: .expectedSetIRQ)
        context = try c.decode(Int.self, forKey: .context)
        lastIAR = try c.decode([UInt32].self, forKey: .lastIAR)
        initialising = try c.decode(Set<Int>.self, forKey: .initialising)
        uncertainSender = try c.decode(Set<Int>.self, forKey: .uncertainSender)
        freshEdges = try c.decode([FreshEdge].self, forKey: .freshEdges).map { (cpu: $0.cpu, irq: $0.irq, event: $0.event, time: $0.time) }
        divergedSinceChange = try c.decode(Bool.self, forKey: .divergedSinceChange)
        guard gic.cpuCount <= 8, lastIAR.count == gic.cpuCount else {
            throw DecodingError.dataCorruptedError(forKey: .lastIAR, in: c, debugDescription: "CPU count differs from the GIC's")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gic, forKey: .gic)
        try c.encode(report, forKey: .report)
        try c.encode(expected, forKey: .expected)
        try c.encode(expectedSetIRQ, forKey: .expectedSetIRQ)
        try c.encode(context, forKey: .context)
        try c.encode(lastIAR, forKey: .lastIAR)
        try c.encode(initialising, forKey: .initialising)
        try c.encode(uncertainSender, forKey: .uncertainSender)
        try c.encode(freshEdges.map { FreshEdge(cpu: $0.cpu, irq: $0.irq, event: $0.event, time: $0.time) }, forKey: .freshEdges)
        try c.encode(divergedSinceChange, forKey: .divergedSinceChange)
    }

    var snapshotKind: String { "qemu-gicv2" }
}
