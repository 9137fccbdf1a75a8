import TraceFormat

/// The KVM x86 adapter's complete replay state for a snapshot (``ReplaySnapshots``): the models,
/// the report so far, every expectation and attribution. Not stored: the per-template caches
/// (`handlers`, `offsetByTemplate`, the first pass's `learnSources`), keyed by template ids that
/// depend on the order chunks are decoded in, rebuilt on first use; transitions (analyzers run their
/// own replays). Tuples go through small Codable structs; IntMaps keep their slot layout, so the
/// restored adapter iterates its tables in the same order and makes the same decisions.
extension KVMX86Adapter: SnapshotReplayable {
    enum CodingKeys: String, CodingKey {
        case flavour, machine, report, apicIndex, binding, unbound, messageThreads, pendingAcks, coalescedAccepts
        case acceptTimes, deferred, hardwareDelivered, lvt, delayedPins, lastEOI, picActive, pic
        case picLines, lastSetIRQ, midFlight, mid, everUnmasked, haltedAPICs, threadsAwaitingAcks, pi, guestEOIWrites
        case haltEnds, lastTime, vms, startedMidFlight
    }

    struct RegisterWrite: Codable { var register: String; var value: UInt32 }
    struct CoalescedAccept: Codable { var time: Int64; var cpu: Int32; var armed: Bool }
    struct Deferred: Codable { var apicID: UInt32; var vector: UInt8; var time: Int64; var cpu: Int32; var eventIndex: Int; var state: String }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(flavour: try c.decode(Flavour.self, forKey: .flavour))
        machine = try c.decode(X86Machine.self, forKey: .machine)
        report = try c.decode(ReplayReport.self, forKey: .report)
        apicIndex = try c.decode(IntMap<UInt32, Int>.self, forKey: .apicIndex)
        restoreBindings(try c.decode(IntMap<Int32, UInt32>.self, forKey: .binding))
        unbound = try c.decode(IntMap<Int32, [RegisterWrite]>.self, forKey: .unbound).mapValuesKeepingLayout { $0.map { ($0.register, $0.value) } }
        messageThreads = try c.decode(IntMap<Int32, MessageThread>.self, forKey: .messageThreads)
        openThreadCount = messageThreads.reduce(0) { $0 + ($1.value.open ? 1 : 0) }
        pendingAcks = try c.decode(IntMap<Int32, [Int]>.self, forKey: .pendingAcks)
        coalescedAccepts = try c.decode(IntMap<UInt64, CoalescedAccept>.self, forKey: .coalescedAccepts)
            .mapValuesKeepingLayout { (time: $0.time, cpu: $0.cpu, armed: $0.armed) }
        acceptTimes = try c.decode(IntMap<UInt64, AcceptTime>.self, forKey: .acceptTimes)
        deferred = try c.decode([Deferred].self, forKey: .deferred)
            .map { (apicID: $0.apicID, vector: $0.vector, time: $0.time, cpu: $0.cpu, eventIndex: $0.eventIndex, state: $0.state) }
        hardwareDelivered = try c.decode(APICIDSet.self, forKey: .hardwareDelivered)
        lvt = try c.decode(IntMap<UInt32, [UInt32]>.self, forKey: .lvt)
        delayedPins = try c.decode([Int].self, forKey: .delayedPins)
        lastEOI = try c.decode(IntMap<Int32, Int64>.self, forKey: .lastEOI)
        picActive = try c.decode(Bool.self, forKey: .picActive)
        pic = try c.decode(PIC8259.self, forKey: .pic)
        picLines = try c.decode(IntMap<Int, Set<Int>>.self, forKey: .picLines)
        lastSetIRQ = try c.decode(IntMap<Int32, Bool>.self, forKey: .lastSetIRQ)
        midFlight = try c.decode(Bool.self, forKey: .midFlight)
        mid = try c.decode(MidFlightKnowledge.self, forKey: .mid)
        everUnmasked = try c.decode(UInt32.self, forKey: .everUnmasked)
        haltedAPICs = try c.decode(APICIDSet.self, forKey: .haltedAPICs)
        threadsAwaitingAcks = try c.decode(Int.self, forKey: .threadsAwaitingAcks)
        pi = try c.decode(PostedInterruptTracking.self, forKey: .pi)
        guestEOIWrites = try c.decode(IntSet<Int32>.self, forKey: .guestEOIWrites)
        haltEnds = try c.decode(IntMap<Int32, HaltEnd>.self, forKey: .haltEnds)
        lastTime = try c.decode(Int64.self, forKey: .lastTime)
        // (Sidecars written before VMs were told apart have neither: one VM so far.)
        vms = try c.decodeIfPresent(VMTracking.self, forKey: .vms) ?? VMTracking()
        startedMidFlight = try c.decodeIfPresent(Bool.self, forKey: .startedMidFlight) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(flavour, forKey: .flavour)
        try c.encode(machine, forKey: .machine)
        // The unchecked tally is keyed by string literals' addresses: stored merged into the report.
        var r = report
        tally.merge(into: &r.unchecked)
        try c.encode(r, forKey: .report)
        try c.encode(apicIndex, forKey: .apicIndex)
        try c.encode(binding, forKey: .binding)
        try c.encode(unbound.mapValuesKeepingLayout { $0.map { RegisterWrite(register: $0.0, value: $0.1) } }, forKey: .unbound)
        try c.encode(messageThreads, forKey: .messageThreads)
        try c.encode(pendingAcks, forKey: .pendingAcks)
        try c.encode(coalescedAccepts.mapValuesKeepingLayout { CoalescedAccept(time: $0.time, cpu: $0.cpu, armed: $0.armed) }, forKey: .coalescedAccepts)
        try c.encode(acceptTimes, forKey: .acceptTimes)
        try c.encode(deferred.map { Deferred(apicID: $0.apicID, vector: $0.vector, time: $0.time, cpu: $0.cpu, eventIndex: $0.eventIndex, state: $0.state) },
                     forKey: .deferred)
        try c.encode(hardwareDelivered, forKey: .hardwareDelivered)
        try c.encode(lvt, forKey: .lvt)
        try c.encode(delayedPins, forKey: .delayedPins)
        try c.encode(lastEOI, forKey: .lastEOI)
        try c.encode(picActive, forKey: .picActive)
        try c.encode(pic, forKey: .pic)
        try c.encode(picLines, forKey: .picLines)
        try c.encode(lastSetIRQ, forKey: .lastSetIRQ)
        try c.encode(midFlight, forKey: .midFlight)
        try c.encode(mid, forKey: .mid)
        try c.encode(everUnmasked, forKey: .everUnmasked)
        try c.encode(haltedAPICs, forKey: .haltedAPICs)
        try c.encode(threadsAwaitingAcks, forKey: .threadsAwaitingAcks)
        try c.encode(pi, forKey: .pi)
        try c.encode(guestEOIWrites, forKey: .guestEOIWrites)
        try c.encode(haltEnds, forKey: .haltEnds)
        try c.encode(lastTime, forKey: .lastTime)
        try c.encode(vms, forKey: .vms)
        try c.encode(startedMidFlight, forKey: .startedMidFlight)
    }

    var snapshotKind: String { "kvm-\(flavour.rawValue)" + (midFlight || startedMidFlight ? "+mid-flight" : "") }
}

extension MidFlightKnowledge: Codable {
    enum CodingKeys: String, CodingKey {
        case rteKnown, rteLowWritten, rteHighWritten, selectKnown, threadsSeen, ldrKnown, accepted, tprKnown, picKnown, lastPin, adopted
    }
    struct LastPin: Codable { var pin: Int; var afterAck: Bool }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rteKnown = try c.decode(UInt32.self, forKey: .rteKnown)
        rteLowWritten = try c.decode(UInt32.self, forKey: .rteLowWritten)
        rteHighWritten = try c.decode(UInt32.self, forKey: .rteHighWritten)
        selectKnown = try c.decode(Bool.self, forKey: .selectKnown)
        threadsSeen = try c.decode(IntSet<Int32>.self, forKey: .threadsSeen)
        ldrKnown = try c.decode(IntSet<UInt32>.self, forKey: .ldrKnown)
        accepted = try c.decode(IntSet<UInt64>.self, forKey: .accepted)
        tprKnown = try c.decode(IntSet<UInt32>.self, forKey: .tprKnown)
        picKnown = try c.decode(UInt8.self, forKey: .picKnown)
        lastPin = try c.decode(IntMap<Int32, LastPin>.self, forKey: .lastPin).mapValuesKeepingLayout { (pin: $0.pin, afterAck: $0.afterAck) }
        adopted = try c.decode(Int.self, forKey: .adopted)
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rteKnown, forKey: .rteKnown)
        try c.encode(rteLowWritten, forKey: .rteLowWritten)
        try c.encode(rteHighWritten, forKey: .rteHighWritten)
        try c.encode(selectKnown, forKey: .selectKnown)
        try c.encode(threadsSeen, forKey: .threadsSeen)
        try c.encode(ldrKnown, forKey: .ldrKnown)
        try c.encode(accepted, forKey: .accepted)
        try c.encode(tprKnown, forKey: .tprKnown)
        try c.encode(picKnown, forKey: .picKnown)
        try c.encode(lastPin.mapValuesKeepingLayout { LastPin(pin: $0.pin, afterAck: $0.afterAck) }, forKey: .lastPin)
        try c.encode(adopted, forKey: .adopted)
    }
}
