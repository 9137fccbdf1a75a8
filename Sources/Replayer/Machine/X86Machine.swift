/// The x86 interrupt machine: LAPICs (one per vCPU), the IOAPIC and VT-d interrupt remapping, wired
/// device → (remapping) → LAPIC as KVM or QEMU wire them. Source-agnostic: adapters drive it.
public struct X86Machine: Hashable, Sendable, Codable {
    public let behaviour: APICBehaviour
    public var apics: [LocalAPIC]
    public var ioapic: IOAPIC
    public var remapping = InterruptRemapping()

    /// - Parameter apicIDs: APIC ID of each vCPU (default: the vCPU index).
    public init(vcpus: Int, behaviour: APICBehaviour, apicIDs: [UInt32]? = nil) {
        self.behaviour = behaviour
        let ids = apicIDs ?? (0..<vcpus).map { UInt32($0) }
        apics = ids.map { LocalAPIC(id: $0, behaviour: behaviour) }
        ioapic = IOAPIC(behaviour: behaviour)
    }

    /// An interrupt message on the APIC bus (from the IOAPIC, an MSI, or an IPI).
    public struct Message: Hashable, Sendable, Codable {
        public var vector: UInt8
        public var destination: UInt32
        public var logical: Bool
        public var mode: DeliveryMode
        public var levelTriggered: Bool
        public var level: Bool = true
        public var shorthand: LocalAPIC.Shorthand = .none
        /// The sending APIC's ID for IPIs.
        public var source: UInt32? = nil
        /// MSI redirection hint: lowest priority among the destinations.
        public var redirectionHint = false

        public init(vector: UInt8, destination: UInt32, logical: Bool = false, mode: DeliveryMode = .fixed,
                    levelTriggered: Bool = false, level: Bool = true, shorthand: LocalAPIC.Shorthand = .none,
                    source: UInt32? = nil, redirectionHint: Bool = false) {
            self.vector = vector
            self.destination = destination
            self.logical = logical
            self.mode = mode
            self.levelTriggered = levelTriggered
            self.level = level
            self.shorthand = shorthand
            self.source = source
            self.redirectionHint = redirectionHint
        }

        public init(_ msi: MSIMessage) {
            self.init(vector: msi.vector, destination: msi.destination, logical: msi.logical, mode: msi.deliveryMode,
                      levelTriggered: msi.levelTriggered, level: true, redirectionHint: msi.redirectionHint)
        }

        public init(_ entry: RedirectionEntry) {
            self.init(vector: entry.vector, destination: UInt32(entry.destination), logical: entry.logical,
                      mode: entry.deliveryMode, levelTriggered: entry.levelTriggered)
        }
    }

    /// Where a message went: vCPU index and what its APIC did with it.
    public struct Outcome: Hashable, Sendable {
        public var vcpu: Int
        public var acceptance: LocalAPIC.Acceptance
        public init(vcpu: Int, acceptance: LocalAPIC.Acceptance) {
            self.vcpu = vcpu
            self.acceptance = acceptance
        }
    }

    /// Delivers a message to its destinations (KVM `kvm_irq_delivery_to_apic`, QEMU `apic_bus_deliver`).
    /// Lowest priority picks one destination: KVM's vector hashing (the (vector mod n)-th SW-enabled
    /// candidate), QEMU's lowest-index APIC (semantics.md §1.9).
    public mutating func deliver(_ m: Message) -> [Outcome] {
        var targets = apics.indices.filter {
            apics[$0].matches(destination: m.destination, logical: m.logical, shorthand: m.shorthand, source: m.source)
        }
        let lowest = m.mode == .lowestPriority || (behaviour == .kvm && m.redirectionHint)
        if lowest && !(m.destination == 0xFF && !m.logical) && targets.count > 1 {
            switch behaviour {
            case .kvm:
                let enabled = targets.filter { apics[$0].softwareEnabled }
                targets = enabled.isEmpty ? [] : [enabled[Int(m.vector) % enabled.count]]
            case .qemu:
                targets = [targets[0]]
            }
        }
        let mode: DeliveryMode = m.mode == .lowestPriority ? .lowestPriority : m.mode
        return targets.map { k in
            Outcome(vcpu: k, acceptance: apics[k].accept(vector: m.vector, mode: mode, level: m.level, trigger: m.levelTriggered))
        }
    }

    /// An MSI write: through interrupt remapping when enabled, then onto the APIC bus.
    public mutating func msi(_ request: MSIMessage, sourceID: UInt16? = nil) -> Result<[Outcome], RemapFault> {
        switch remapping.remap(request, sourceID: sourceID) {
        case .success(let msg): return .success(deliver(Message(msg)))
        case .failure(let fault): return .failure(fault)
        }
    }

    /// An IOAPIC pin's line changes; a resulting delivery goes onto the APIC bus (directly, or as a
    /// remappable MSI when the entry is in remappable format).
    public mutating func setLine(pin: Int, level: Bool, source: Int = 0) -> (IOAPIC.LineResult, [Outcome]) {
        let r = ioapic.setLine(pin: pin, level: level, source: source)
        if case .delivered(let d) = r { return (r, route(d)) }
        return (r, [])
    }

    mutating func route(_ d: IOAPIC.Delivery) -> [Outcome] {
        if d.entry.remappable && remapping.enabled {
            let handle = UInt64(d.entry.remapIndex)
            let address: UInt64 = 0xFEE0_0010 | ((handle & 0x7FFF) << 5) | ((handle >> 15) << 2)
            if case .success(let out) = msi(MSIMessage(address: address, data: UInt32(d.entry.vector))) { return out }
            return []
        }
        return deliver(Message(d.entry))
    }

    /// vCPU `vcpu` takes its highest deliverable interrupt (IRR → ISR).
    public mutating func acknowledge(vcpu: Int) -> UInt8? { apics[vcpu].acknowledge() }

    /// vCPU `vcpu` writes EOI; a level vector's EOI reaches the IOAPIC, which may re-deliver.
    public mutating func endOfInterrupt(vcpu: Int) -> (LocalAPIC.EOI, [IOAPIC.EOIEffect], [Outcome]) {
        let eoi = apics[vcpu].endOfInterrupt()
        guard let v = eoi.vector else { return (eoi, [], []) }
        // KVM passes the vector's TMR state as the trigger; QEMU broadcasts only level vectors.
        guard eoi.broadcastToIOAPIC || (behaviour == .kvm && !apics[vcpu].directedEOI) else { return (eoi, [], []) }
        let effects = ioapic.endOfInterrupt(vector: v, level: eoi.broadcastToIOAPIC)
        var outcomes: [Outcome] = []
        for case .redelivered(let d) in effects { outcomes += route(d) }
        return (eoi, effects, outcomes)
    }
}
