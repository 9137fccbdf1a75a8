/// Which LAPIC's timer an `apic_local_deliver` of the timer LVT belongs to, in a QEMU log whose
/// vCPUs have their own threads (the timer callback runs on QEMU's main loop and names no LAPIC).
///
/// QEMU 7.2 `apic_next_timer`: with TMICT written at `load` (QEMU_CLOCK_VIRTUAL) and the divide
/// shift `s` (TDCR: `((v & 3) | ((v >> 1) & 4)) + 1 & 7`), a one-shot timer expires at
/// `load + (TMICT + 1) << s`; a periodic one at every `load + k (TMICT + 1) << s`; a masked LVT or
/// TMICT 0 stops it. The callback fires at or after the deadline. The log's clock and QEMU's
/// virtual clock advance together under TCG, so deadlines are computed from the log times of the
/// register writes. A fire belongs to the LAPIC with the earliest deadline due; when several are
/// due within `tieNs` of each other (Linux aligns the ticks of all CPUs in one-shot mode), the fire
/// belongs to one of them, in an order the log cannot tell.
extension QEMUAPICRegisters.LAPIC {
    var timerShift: UInt64 { UInt64((((divide & 3) | ((divide >> 1) & 4)) + 1) & 7) }
    var timerPeriodic: Bool { lvt[0] & 0x2_0000 != 0 }

    /// `apic_next_timer` at `now`.
    mutating func rearmTimer(_ now: Int64) {
        timerDeadline = nil
        guard lvt[0] & 0x1_0000 == 0, let load = timerLoad, now >= load else { return }
        let count = UInt64(initialCount)
        var d = UInt64(now - load) >> timerShift
        if timerPeriodic {
            guard count != 0 else { return }
            d = (d / (count + 1) + 1) * (count + 1)
        } else {
            guard d < count else { return }
            d = count + 1
        }
        guard d < 1 << 40 else { return }
        timerDeadline = load + Int64(d << timerShift)
    }
}

extension QEMUAPICRegisters {
    enum Fire: Equatable {
        case apic(UInt32)
        /// Due together: the fire is one of these LAPICs'.
        case oneOf([UInt32])
        case unknown
    }

    /// A fire may come this long before the computed deadline (the deadline is computed from the
    /// log time of the TMICT write, a few µs before QEMU reads its clock).
    static let earlyNs: Int64 = 50_000
    static let tieNs: Int64 = 100_000

    /// A timer LVT delivery at log time `now`: whose, and its LVT (for the vector and mode).
    mutating func fireTimer(at now: Int64) -> (Fire, lvt: UInt32?) {
        let due = apics.compactMap { id, a in a.timerDeadline.flatMap { $0 <= now + Self.earlyNs ? (id, $0) : nil } }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
        guard let first = due.first else { return (.unknown, nil) }
        let tied = due.filter { $0.1 - first.1 <= Self.tieNs }.map(\.0)
        // The earliest deadline is consumed (when tied, which one does not matter: the rest follow).
        let lvt = apics[first.0]!.lvt[0]
        apics[first.0]!.consumeDeadline()
        let vectors = Set(tied.map { apics[$0]!.lvt[0] & 0xFF })
        return (tied.count == 1 ? .apic(first.0) : .oneOf(tied.sorted()), vectors.count == 1 ? lvt : nil)
    }
}

extension QEMUAPICRegisters.LAPIC {
    /// After a fire: the next period, or stopped (one-shot).
    mutating func consumeDeadline() {
        if timerPeriodic, let d = timerDeadline {
            timerDeadline = d + Int64((UInt64(initialCount) + 1) << timerShift)
        } else {
            timerDeadline = nil
        }
    }
}
