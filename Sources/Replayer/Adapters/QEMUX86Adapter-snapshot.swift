import TraceFormat

/// The QEMU x86 adapter's complete replay state for a snapshot (``ReplaySnapshots``), the first
/// pass's thread → vCPU binding (``QEMUAPICRegisters``) included: a restored adapter needs no first
/// pass. Each thread's causal chain (a reference per thread) is stored by value and restored as a new
/// one. Not stored: the per-template handler cache and transitions.
extension QEMUX86Adapter: SnapshotReplayable {
    enum CodingKeys: String, CodingKey {
        case machine, report, remapDisagreements, chains, amdvi, amdControlKnown, delivered, registers, pic
        case vfioDevices, vfioSends, vfioPBAThreads
    }

    struct RemapDisagreement: Codable { var index: Int; var irte: IRTE; var fields: [Int] }
    struct PinVector: Codable { var pin: Int; var vector: UInt8 }

    /// A thread's ``Chain`` by value.
    struct ChainState: Codable {
        var thread: Int32
        var expectedRemoteIRRSet: [Int]
        var expectedRemoteIRRClear: [PinVector]
        var expectedRequest: MSIMessage?
        var request: MSIMessage?
        var requestFromIOAPIC: Bool
        var expectedDelivery: X86Machine.Message?
        var deliveryFromMSIX: Bool?
        var amdRequest: MSIMessage?
        var amdRemapValid: Bool
        var amdIntCtl: AMDVIDeviceInterrupts.InterruptControl?
        var amdIRTEOffset: UInt64?
        var amdIRTE: AMDVIIRTE?
        var remapDiverged: Bool

        init(_ thread: Int32, _ c: Chain) {
            self.thread = thread
            expectedRemoteIRRSet = c.expectedRemoteIRRSet
            expectedRemoteIRRClear = c.expectedRemoteIRRClear.map { PinVector(pin: $0.pin, vector: $0.vector) }
            expectedRequest = c.expectedRequest
            request = c.request
            requestFromIOAPIC = c.requestFromIOAPIC
            expectedDelivery = c.expectedDelivery
            deliveryFromMSIX = c.deliveryFromMSIX
            amdRequest = c.amdRequest
            amdRemapValid = c.amdRemapValid
            amdIntCtl = c.amdIntCtl
            amdIRTEOffset = c.amdIRTEOffset
            amdIRTE = c.amdIRTE
            remapDiverged = c.remapDiverged
        }

        var chain: Chain {
            let c = Chain()
            c.expectedRemoteIRRSet = expectedRemoteIRRSet
            c.expectedRemoteIRRClear = expectedRemoteIRRClear.map { (pin: $0.pin, vector: $0.vector) }
            c.expectedRequest = expectedRequest
            c.request = request
            c.requestFromIOAPIC = requestFromIOAPIC
            c.expectedDelivery = expectedDelivery
            c.deliveryFromMSIX = deliveryFromMSIX ?? false
            c.amdRequest = amdRequest
            c.amdRemapValid = amdRemapValid
            c.amdIntCtl = amdIntCtl
            c.amdIRTEOffset = amdIRTEOffset
            c.amdIRTE = amdIRTE
            c.remapDiverged = remapDiverged
            return c
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        machine = try c.decode(X86Machine.self, forKey: .machine)
        report = try c.decode(ReplayReport.self, forKey: .report)
        remapDisagreements = Dictionary(try c.decode([RemapDisagreement].self, forKey: .remapDisagreements).map { ($0.index, ($0.irte, $0.fields)) },
                                        uniquingKeysWith: { a, _ in a })
        chains = ThreadTable(try c.decode([ChainState].self, forKey: .chains).map { ($0.thread, $0.chain) }) { Chain() }
        amdvi = try c.decode(AMDVIRemapping.self, forKey: .amdvi)
        amdControlKnown = try c.decode(Bool.self, forKey: .amdControlKnown)
        delivered = try c.decode(QEMUDeliveredCounter.self, forKey: .delivered)
        registers = try c.decode(QEMUAPICRegisters.self, forKey: .registers)
        pic = try c.decode(PIC8259.self, forKey: .pic)
        vfioDevices = try c.decodeIfPresent([VFIODevice].self, forKey: .vfioDevices) ?? []
        vfioSends = try c.decodeIfPresent([VFIOSend].self, forKey: .vfioSends) ?? []
        vfioPBAThreads = try c.decodeIfPresent([Int32].self, forKey: .vfioPBAThreads) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(machine, forKey: .machine)
        // The unchecked tally is keyed by string literals' addresses: stored merged into the report.
        var r = report
        tally.merge(into: &r.unchecked)
        try c.encode(r, forKey: .report)
        try c.encode(remapDisagreements.sorted { $0.key < $1.key }.map { RemapDisagreement(index: $0.key, irte: $0.value.0, fields: $0.value.1) },
                     forKey: .remapDisagreements)
        try c.encode(chains.all.map { ChainState($0.0, $0.1) }, forKey: .chains)
        try c.encode(amdvi, forKey: .amdvi)
        try c.encode(amdControlKnown, forKey: .amdControlKnown)
        try c.encode(delivered, forKey: .delivered)
        try c.encode(registers, forKey: .registers)
        try c.encode(pic, forKey: .pic)
        if !vfioDevices.isEmpty {
            try c.encode(vfioDevices, forKey: .vfioDevices)
            try c.encode(vfioSends, forKey: .vfioSends)
            try c.encode(vfioPBAThreads, forKey: .vfioPBAThreads)
        }
    }

    var snapshotKind: String { "qemu-x86" }
}
