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
///
/// With QEMU's `-d int` log in the same file, every acknowledge is traced (`Servicing hardware
/// INT=0xNN`, printed under the BQL right after `apic_get_interrupt` moved the vector from IRR to
/// ISR; an 8259 acknowledge is the one right after a `pic_interrupt`). A +1 report sets a clear IRR
/// bit in one LAPIC and an acknowledge clears one, both under the BQL and logged in that order
/// (the report is traced before `apic_set_bit`, the acknowledge printed after `apic_reset_bit`), so
/// `pending[x]` = +1 reports of x − acknowledges of x is the number of LAPICs with x in IRR — exact,
/// or an over-estimate when an INIT cleared an IRR untraced. Then a delivery of a vector pending
/// nowhere must count +1, and an acknowledge of a vector pending nowhere is a divergence (unless it
/// is a spurious-interrupt vector: `apic_get_interrupt` returns SVR's vector when nothing is
/// deliverable, or an earlier delivery's vector is unknown).
///
/// Each pending vector also keeps where it was delivered (``Place``): a LAPIC when the adapter names
/// it, else the message's destination (dest, mode) while no write to an APIC ID, LDR or DFR and no
/// INIT has happened since (the configuration epoch) and every message to it had exactly one report
/// (one LAPIC: QEMU's `apic_bus_deliver` reports once per LAPIC it sets an IRR bit in, and lowest
/// priority always picks the same one). A delivery to where the vector is still pending must then
/// count +0, and a delivery to a LAPIC when the vector is pending only in others +1. An acknowledge
/// takes the vector from where it is pending when all its places agree; else the vector's places
/// are ambiguous until it is pending nowhere again.
struct QEMUDeliveredCounter: Codable {
    /// Where a pending vector was delivered.
    enum Place: Hashable, Codable {
        case lapic(UInt32)
        /// A single-LAPIC message destination: epoch << 33 | logical << 32 | dest.
        case destination(UInt64)
        case unknown
    }

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
    /// The log shows acknowledges (`-d int`) and the delivered counter: `pending` is then known.
    var acknowledgesTraced = false
    /// Per vector: where it is in IRR, one entry per LAPIC (see the type's comment); valid when
    /// `acknowledgesTraced`.
    private(set) var pendingAt = [[Place]](repeating: [], count: 256)
    /// Vectors acknowledged while pending at different places: their places are unknown until none is pending.
    private(set) var pendingAmbiguous = VectorBitmap()
    /// The APIC configuration epoch (bumped by APIC ID, LDR, DFR writes and INIT IPIs).
    private(set) var epoch: UInt64 = 0
    /// The current message's destination (apic_deliver_irq), and how many reports it has had.
    private var causeDestination: UInt64?
    private var causeReports = 0
    /// Destinations (with their epoch) a message to which had other than one report.
    private(set) var multiDestinations: Set<UInt64> = []
    /// The vector of the last 8259 acknowledge (`pic_interrupt`) whose `Servicing` line has not come yet.
    var picAcknowledged: UInt8?
    /// +1 reports whose vector is unknown, not yet matched by an acknowledge.
    private(set) var pendingUnknown = 0
    /// Per LAPIC, the vectors in service, while `inServiceKnown`: every acknowledge since the last
    /// global idle was attributed to one LAPIC (all of its vector's places were that LAPIC) and every
    /// EOI write to one (multi-threaded TCG). QEMU's `apic_get_interrupt` acknowledges only a vector
    /// whose class is above the PPR (`apic_irq_pending`: max of TPR's and the highest in-service
    /// vector's class), and `apic_eoi` retires the highest in service: an acknowledge at or below the
    /// class in service shows a lost EOI.
    private(set) var inService: [UInt32: VectorBitmap] = [:]
    private(set) var inServiceKnown = true
    /// LAPICs whose in-service vectors are unknown (an acknowledge that was one of theirs, which one
    /// unknown): known again when the LAPIC is idle (every delivery to it EOId).
    private(set) var inServiceUnknownAt: Set<UInt32> = []
    /// Vectors ever written to a spurious-interrupt vector register (SVR, offset 0xF0).
    private(set) var spuriousVectors: VectorBitmap = {
        var b = VectorBitmap()
        b.insert(0xFF)      // SVR's reset value (QEMU apic_reset_common: spurious_vec = 0xff)
        return b
    }()
    private(set) var outstanding = 0
    private(set) var deliveredSinceIdle = VectorBitmap()
    /// An accepted delivery of an unknown vector is outstanding: nothing is certain until idle.
    private(set) var unknownSinceIdle = false
    private(set) var cause: Cause = .none
    /// Vector of each LVT register (timer, thermal, performance, LINT0, LINT1, error): -1 never
    /// written, -2 written with different vectors (one per CPU, unattributable).
    private var lvtVectors: [Int] = Array(repeating: -1, count: 6)

    /// `apic_deliver_irq`: fixed and lowest-priority messages set an IRR bit.
    mutating func message(mode: DeliveryMode, vector: UInt8, destination: UInt32 = 0, logical: Bool = false) {
        endCause()
        cause = mode == .fixed || mode == .lowestPriority ? .vector(vector) : .none
        if case .vector = cause { causeDestination = epoch << 33 | (logical ? 1 << 32 : 0) | UInt64(destination) }
        setTarget(.unknown)
    }

    /// A message had other than one report: its destination is not a single LAPIC (this epoch).
    private mutating func endCause() {
        if let d = causeDestination, causeReports != 1 { multiDestinations.insert(d) }
        causeDestination = nil
        causeReports = 0
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
            if let a = apic { if var isr = inService[a], let top = isr.highest { isr.remove(top); inService[a] = isr } } else { inServiceKnown = false }
            if outstanding > 0 { outstanding -= 1 }
            if outstanding == 0 {
                deliveredSinceIdle = VectorBitmap(); unknownSinceIdle = false
                perLAPIC = [:]; floating = 0
                inService = [:]; inServiceKnown = true; inServiceUnknownAt = []
            } else if let a = apic, floating == 0, !(group.map { $0.left > 0 && $0.members.contains(a) } ?? false) {
                var s = perLAPIC[a] ?? LAPICState()
                if s.outstanding > 0 { s.outstanding -= 1 }
                if s.outstanding == 0 { s = LAPICState(); inService[a] = nil; inServiceUnknownAt.remove(a) }
                perLAPIC[a] = s
            } else {
                floating += 1            // an EOI that cannot be attributed: wait for global idle
            }
        case 0x20, 0xD0, 0xE0:
            epoch += 1
        case 0x300:
            endCause()
            let mode = DeliveryMode(rawValue: UInt8((value >> 8) & 7))
            if mode == .initialize {
                // INIT clears its target's IRR and ISR untraced (QEMU apic_init_reset): places are no longer known.
                epoch += 1
                inServiceKnown = false
                for x in 0..<256 where !pendingAt[x].isEmpty { pendingAmbiguous.insert(UInt8(x)) }
            }
            cause = mode == .fixed || mode == .lowestPriority ? .vector(UInt8(truncatingIfNeeded: value)) : .none
            setTarget(.unknown)
        case 0xF0:
            spuriousVectors.insert(UInt8(truncatingIfNeeded: value))
        case 0x320, 0x330, 0x340, 0x350, 0x360, 0x370:
            // Only an unmasked fixed-mode entry sets an IRR bit (QEMU apic_local_deliver returns on
            // APIC_LVT_MASKED; other modes raise NMI/SMI/INIT/ExtINT): a masked or non-fixed write's
            // vector (Linux masks the timer as 0x10000, vector 0) is never delivered.
            guard value & 0x1_0000 == 0, (value >> 8) & 7 == 0 else { break }
            let k = Int((offset & 0xFFF) - 0x320) / 0x10
            let v = Int(value & 0xFF)
            if lvtVectors[k] == -1 { lvtVectors[k] = v } else if lvtVectors[k] != v { lvtVectors[k] = -2 }
        default: break
        }
    }

    /// `apic_local_deliver LVT MODE`: fixed mode sets the LVT's vector in IRR (when not masked).
    mutating func localDeliver(lvt: Int, mode: Int, vector known: UInt8? = nil) {
        endCause()
        setTarget(.unknown)
        guard mode == 0 else { cause = .none; return }
        if let known { cause = .vector(known); return }
        let v = lvt >= 0 && lvt < lvtVectors.count ? lvtVectors[lvt] : -1
        cause = v >= 0 ? .vector(UInt8(v)) : .unknownVector
    }

    /// `apic_reset_irq_delivered`: from `apic_reset_common`, with the LAPIC's IRR and ISR cleared.
    /// (With `-rtc driftfix=slew` QEMU's RTC also resets the counter; then this over-approximates.)
    mutating func reset() {
        endCause()
        counter = 0
        outstanding = 0
        pendingAt = [[Place]](repeating: [], count: 256)
        pendingAmbiguous = VectorBitmap()
        inService = [:]; inServiceKnown = true; inServiceUnknownAt = []
        epoch += 1
        pendingUnknown = 0
        deliveredSinceIdle = VectorBitmap()
        unknownSinceIdle = false
        cause = .none
        perLAPIC = [:]
        floating = 0
        group = nil
        setTarget(.unknown)
    }

    enum Acknowledge: Equatable {
        /// A LAPIC had the vector in IRR: now one fewer does.
        case fromIRR
        /// Nothing pending, and the vector is a spurious-interrupt vector.
        case spurious
        /// Pending nowhere known, but an earlier delivery's vector is unknown: taken as that one.
        case unknownDelivery
        /// Pending in no LAPIC.
        case pendingNowhere
    }

    /// The vectors some LAPIC has in IRR, for a divergence's state ("{0x30, 0xec ×2}").
    var pendingDescription: String {
        let list = (0..<256).filter { !pendingAt[$0].isEmpty }.map { "0x\(String($0, radix: 16))" + (pendingAt[$0].count > 1 ? " ×\(pendingAt[$0].count)" : "") }
        return "{" + list.joined(separator: ", ") + "}"
    }

    /// `Servicing hardware INT=0xNN` not from the 8259 (QEMU `-d int`): a LAPIC acknowledged `vector`.
    /// `tpr` gives a LAPIC's TPR when known. `blocked` is set when the LAPIC it was acknowledged at
    /// (known when all the vector's places are that LAPIC) had a PPR at or above its class.
    mutating func acknowledge(_ vector: UInt8, tpr: (UInt32) -> UInt32? = { _ in nil }) -> (Acknowledge, blocked: String?) {
        let x = Int(vector)
        if let first = pendingAt[x].first {
            var blocked: String?
            let onePlace = pendingAt[x].allSatisfy { $0 == first }
            if !pendingAmbiguous.contains(vector), case .lapic(let a) = first, onePlace {
                // At LAPIC a: its PPR (QEMU apic_get_ppr) must be below the vector's class.
                if inServiceKnown && !inServiceUnknownAt.contains(a) {
                    let isrv = inService[a]?.highest.map { UInt32($0) & 0xF0 } ?? 0
                    let ppr = max(isrv, (tpr(a) ?? 0) & 0xF0)
                    if ppr != 0 && UInt32(vector) & 0xF0 <= ppr {
                        blocked = "LAPIC \(a): in service \(inService[a].map { "\($0)" } ?? "{}"), TPR 0x\(String(tpr(a) ?? 0, radix: 16))"
                    }
                    var isr = inService[a] ?? VectorBitmap()
                    isr.insert(vector)
                    inService[a] = isr
                }
            } else if !pendingAmbiguous.contains(vector), pendingAt[x].allSatisfy({ if case .lapic = $0 { true } else { false } }) {
                // At one of these LAPICs: theirs are unknown until each is idle.
                for case .lapic(let a) in pendingAt[x] { inServiceUnknownAt.insert(a) }
            } else {
                inServiceKnown = false                    // acknowledged at a LAPIC not known
            }
            if !onePlace { pendingAmbiguous.insert(vector) }   // which place was taken is unknown
            pendingAt[x].removeLast()
            if pendingAt[x].isEmpty { pendingAmbiguous.remove(vector) }
            return (.fromIRR, blocked)
        }
        if spuriousVectors.contains(vector) { return (.spurious, nil) }
        inServiceKnown = false
        if pendingUnknown > 0 { pendingUnknown -= 1; return (.unknownDelivery, nil) }
        return (.pendingNowhere, nil)
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
        var expected: Int64 = 1
        causeReports += 1
        var place = Place.unknown
        // (A message's second report is another LAPIC's: its destination is then not one LAPIC.)
        if case .lapic(let a) = at { place = .lapic(a) } else if case .unknown = at, causeReports == 1, let d = causeDestination, !multiDestinations.contains(d) {
            place = .destination(d)
        }
        if let x = v, x >= 16, acknowledgesTraced, pendingUnknown == 0 {
            let entries = pendingAt[Int(x)]
            if entries.isEmpty {
                certain = true
            } else if !pendingAmbiguous.contains(x) {
                if place != .unknown && entries.contains(place) {
                    certain = true; expected = 0          // still pending where this delivery goes
                } else if case .lapic = place, entries.allSatisfy({ if case .lapic = $0 { true } else { false } }) {
                    certain = true                        // pending only in other LAPICs
                }
            }
        }
        if let x = v, x >= 16, !certain {
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
        // Bookkeeping: IRR bits set, global, then per LAPIC.
        // After a divergence, follow what the log shows (one report, not a cascade): a +1 where the
        // vector was taken as pending means it was not.
        if certain, expected == 0, delta == 1, let x = v, let k = pendingAt[Int(x)].firstIndex(of: place) { pendingAt[Int(x)].remove(at: k) }
        if delta == 1 { if let x = v { pendingAt[Int(x)].append(place) } else { pendingUnknown += 1 } }
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
        return certain ? .checked(expected: expected, observed: delta) : .unchecked(reason: "apic_report_irq_delivered (vector may still be pending)")
    }
}
