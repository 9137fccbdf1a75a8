/// QEMU's LAPIC "delivered" counter (`apic_report_irq_delivered coalescing N`), checked as far as a
/// QEMU log allows.
///
/// QEMU 7.2 hw/intc/apic.c `apic_set_irq` calls `apic_report_irq_delivered(!apic_get_bit(s->irr,
/// vector))` before setting the IRR bit: one global counter, +1 when the vector was not already
/// pending in that LAPIC's IRR, +0 when the edge coalesced. `apic_reset_common` resets it (and the
/// LAPIC's IRR/ISR through `apic_init_reset`) at system reset, traced as `apic_reset_irq_delivered`.
///
/// The log does not say when a vCPU acknowledges an interrupt (IRR→ISR is untraced) nor, with one
/// TCG thread, which vCPU writes an EOI. What is still certain: every accepted delivery (+1) of a
/// vector ≥ 16 is acknowledged and ended by exactly one EOI write (vectors 0–15 are never
/// acknowledged: QEMU's `apic_irq_pending` never finds class 0 above the PPR), and an EOI with
/// nothing in service ends nothing. So with `outstanding` = accepted deliveries not yet matched by
/// an EOI write, `outstanding == 0` means every IRR and ISR bit of every LAPIC is clear; and a vector
/// not delivered anywhere since `outstanding` was last 0 is certainly not pending. A delivery of such
/// a vector must count +1; that is the check. Others are counted unchecked.
///
/// The delivery's vector comes from its cause, the event just before the report: `apic_deliver_irq`
/// (MSI / IOAPIC message), an ICR write (`apic_mem_writel 0x300`, IPI), or `apic_local_deliver`
/// (LVT: the vector the guest wrote into that LVT register, when every write agreed).
///
/// When each vCPU has its own thread (multi-threaded TCG) the same reasoning holds per LAPIC: the
/// adapter names each cause's target LAPICs (QEMU `apic_bus_deliver` sets IRR bits in LAPIC index
/// order, one report each; lowest priority picks the lowest index) and each EOI's LAPIC, so a
/// vector not delivered to that LAPIC since it was last idle is certainly not pending there. A
/// delivery whose target is unknown, or an EOI whose LAPIC is, suspends the per-LAPIC reasoning
/// until every LAPIC is idle again. Timer deliveries due on several LAPICs at once (`oneOf`) are
/// checked as a group: each must count +1 when the vector was pending in none of them.
struct QEMUDeliveredCounter: Codable {
    /// Where a cause delivers.
    enum Target: Equatable {
        case unknown
        /// These LAPICs, one report each, in this order.
        case apics([UInt32])
        /// One of these LAPICs (simultaneous timers): the next such deliveries cover the rest.
        case oneOf([UInt32])
    }

    struct LAPICState: Codable {
        var outstanding = 0
        var delivered = VectorBitmap()
        var unknownVector = false
        var idle: Bool { outstanding == 0 && !unknownVector }
    }

    struct Group: Codable {
        var members: [UInt32]
        var left: Int
        var clearAtStart: Bool
        var maxDelta: Int64 = 0
        var vector: UInt8?
    }

    private(set) var perLAPIC: [UInt32: LAPICState] = [:]
    /// Accepted deliveries whose LAPIC is unknown (or EOIs that could not be attributed): while
    /// non-zero, only the global reasoning is used.
    private(set) var floating = 0
    private var pendingTargets: [UInt32] = []
    private var targetKnown = false
    /// The current cause is a timer of an open group.
    private var causeInGroup = false
    private var group: Group?
    enum Cause: Equatable, Codable {
        case none
        case vector(UInt8)
        case unknownVector
    }

    enum Outcome: Equatable {
        static func == (a: Outcome, b: Outcome) -> Bool {
            switch (a, b) {
            case let (.checked(x, y), .checked(z, w)): x == z && y == w
            case let (.unchecked(x), .unchecked(y)): x.description == y.description
            case let (.jump(x, y), .jump(z, w)): x == z && y == w
            default: false
            }
        }
        case checked(expected: Int64, observed: Int64)
        /// `reason` is the whole key of the report's unchecked table (a literal: no allocation per event).
        case unchecked(reason: StaticString)
        /// The counter moved by something other than 0 or 1.
        case jump(from: Int64, to: Int64)
    }

    private(set) var counter: Int64 = 0
    private(set) var outstanding = 0
    private(set) var deliveredSinceIdle = VectorBitmap()
    /// An accepted delivery of an unknown vector is outstanding: nothing is certain until idle.
    private(set) var unknownSinceIdle = false
    private(set) var cause: Cause = .none
    /// Vector of each LVT register (timer, thermal, performance, LINT0, LINT1, error): -1 never
    /// written, -2 written with different vectors (one per CPU, unattributable).
    private var lvtVectors: [Int] = Array(repeating: -1, count: 6)

    /// `apic_deliver_irq`: fixed and lowest-priority messages set an IRR bit.
    mutating func message(mode: DeliveryMode, vector: UInt8) {
        cause = mode == .fixed || mode == .lowestPriority ? .vector(vector) : .none
        setTarget(.unknown)
    }

    /// LAPICs the previous cause delivered to without a report (QEMU's `apic_bus_deliver` calls
    /// `apic_set_irq`, which always reports, for every LAPIC in the destination): set when the next
    /// cause comes; the adapter takes them as divergences.
    private(set) var missingReports: [UInt32] = []

    mutating func takeMissingReports() -> [UInt32] {
        defer { missingReports = [] }
        return missingReports
    }

    /// The LAPICs the current cause delivers to, when the adapter can tell.
    mutating func setTarget(_ t: Target) {
        if !pendingTargets.isEmpty { missingReports += pendingTargets }
        causeInGroup = false
        switch t {
        case .unknown:
            pendingTargets = []; targetKnown = false
        case .apics(let list):
            pendingTargets = list; targetKnown = true
        case .oneOf(let members):
            targetKnown = true
            causeInGroup = true
            pendingTargets = []
            if let g = group, g.left > 0, Set(members).isSubset(of: g.members) { return }
            var v: UInt8? = nil
            if case .vector(let x) = cause { v = x }
            let clear = floating == 0 && v.map { x in members.allSatisfy { !(perLAPIC[$0]?.delivered.contains(x) ?? false) && !(perLAPIC[$0]?.unknownVector ?? false) } } ?? false
            group = Group(members: members, left: members.count, clearAtStart: clear, vector: v)
        }
    }

    /// A timer delivery attributed to one LAPIC that is a member of an open group continues it.
    func continuesGroup(_ apic: UInt32) -> Bool {
        guard let g = group, g.left > 0 else { return false }
        return g.members.contains(apic)
    }

    /// `apic_mem_writel OFFSET = VALUE` by LAPIC `apic` (nil: the writing vCPU is not known).
    mutating func registerWrite(offset: Int64, value: UInt32, apic: UInt32? = nil) {
        switch offset & 0xFFF {
        case 0xB0:
            if outstanding > 0 { outstanding -= 1 }
            if outstanding == 0 {
                deliveredSinceIdle = VectorBitmap(); unknownSinceIdle = false
                perLAPIC = [:]; floating = 0
            } else if let a = apic, floating == 0, !(group.map { $0.left > 0 && $0.members.contains(a) } ?? false) {
                var s = perLAPIC[a] ?? LAPICState()
                if s.outstanding > 0 { s.outstanding -= 1 }
                if s.outstanding == 0 { s = LAPICState() }
                perLAPIC[a] = s
            } else {
                floating += 1            // an EOI that cannot be attributed: wait for global idle
            }
        case 0x300:
            let mode = DeliveryMode(rawValue: UInt8((value >> 8) & 7))
            cause = mode == .fixed || mode == .lowestPriority ? .vector(UInt8(truncatingIfNeeded: value)) : .none
            setTarget(.unknown)
        case 0x320, 0x330, 0x340, 0x350, 0x360, 0x370:
            let k = Int((offset & 0xFFF) - 0x320) / 0x10
            let v = Int(value & 0xFF)
            if lvtVectors[k] == -1 { lvtVectors[k] = v } else if lvtVectors[k] != v { lvtVectors[k] = -2 }
        default: break
        }
    }

    /// `apic_local_deliver LVT MODE`: fixed mode sets the LVT's vector in IRR (when not masked).
    mutating func localDeliver(lvt: Int, mode: Int, vector known: UInt8? = nil) {
        setTarget(.unknown)
        guard mode == 0 else { cause = .none; return }
        if let known { cause = .vector(known); return }
        let v = lvt >= 0 && lvt < lvtVectors.count ? lvtVectors[lvt] : -1
        cause = v >= 0 ? .vector(UInt8(v)) : .unknownVector
    }

    /// `apic_reset_irq_delivered`: from `apic_reset_common`, with the LAPIC's IRR and ISR cleared.
    /// (With `-rtc driftfix=slew` QEMU's RTC also resets the counter; then this over-approximates.)
    mutating func reset() {
        counter = 0
        outstanding = 0
        deliveredSinceIdle = VectorBitmap()
        unknownSinceIdle = false
        cause = .none
        perLAPIC = [:]
        floating = 0
        group = nil
        setTarget(.unknown)
    }

    /// `apic_report_irq_delivered N`.
    mutating func report(_ value: Int64) -> Outcome {
        let delta = value &- counter
        let before = counter
        counter = value
        guard delta == 0 || delta == 1 else {
            return .jump(from: before, to: value)
        }
        // Which LAPIC this report is for.
        enum Where { case lapic(UInt32), group, unknown }
        var at = Where.unknown
        if causeInGroup, let g = group, g.left > 0 {
            at = .group
            causeInGroup = false            // one report per timer delivery
        } else if targetKnown, !pendingTargets.isEmpty {
            at = .lapic(pendingTargets.removeFirst())
        }
        var v: UInt8? = nil
        if case .vector(let x) = cause { v = x }
        // Certainty: globally, per LAPIC, or for a group of simultaneous timers.
        var certain = false
        if let x = v, x >= 16 {
            certain = !deliveredSinceIdle.contains(x) && !unknownSinceIdle
            switch at {
            case .lapic(let a):
                let s = perLAPIC[a] ?? LAPICState()
                certain = certain || (floating == 0 && !s.delivered.contains(x) && !s.unknownVector)
            case .group:
                certain = certain || group!.clearAtStart
            case .unknown: break
            }
        }
        // Bookkeeping: global, then per LAPIC.
        let counts = v.map { $0 >= 16 } ?? true
        if counts { outstanding += Int(delta) }
        if let x = v { if x >= 16 { deliveredSinceIdle.insert(x) } } else if delta == 1 { unknownSinceIdle = true }
        if counts {
            switch at {
            case .lapic(let a):
                var s = perLAPIC[a] ?? LAPICState()
                s.outstanding += Int(delta)
                if let x = v { s.delivered.insert(x) } else { s.unknownVector = true }
                perLAPIC[a] = s
            case .group:
                group!.left -= 1
                group!.maxDelta = max(group!.maxDelta, delta)
                if group!.left == 0, let g = group {
                    for m in g.members {
                        var s = perLAPIC[m] ?? LAPICState()
                        s.outstanding += Int(g.maxDelta)
                        if let x = g.vector { s.delivered.insert(x) } else { s.unknownVector = true }
                        perLAPIC[m] = s
                    }
                }
            case .unknown:
                if delta == 1 { floating += 1 }
            }
        }
        guard let x = v else {
            return .unchecked(reason: cause == .none ? "apic_report_irq_delivered (no delivery before it)" : "apic_report_irq_delivered (LVT vector unknown)")
        }
        if x < 16 { return .unchecked(reason: "apic_report_irq_delivered (vector below 16)") }
        return certain ? .checked(expected: 1, observed: delta) : .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)")
    }
}
