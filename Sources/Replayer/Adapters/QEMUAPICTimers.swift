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
struct QEMUAPICTimers {
    struct Timer {
        var lvt: UInt32 = 0x1_0000
        var initialCount: UInt32 = 0
        var divide: UInt32 = 0
        var load: Int64?
        var deadline: Int64?

        var shift: UInt64 { UInt64((((divide & 3) | ((divide >> 1) & 4)) + 1) & 7) }
        var periodic: Bool { lvt & 0x2_0000 != 0 }

        /// `apic_next_timer` at `now`.
        mutating func rearm(_ now: Int64) {
            deadline = nil
            guard lvt & 0x1_0000 == 0, let load, now >= load else { return }
            let count = UInt64(initialCount)
            var d = UInt64(now - load) >> shift
            if periodic {
                guard count != 0 else { return }
                d = (d / (count + 1) + 1) * (count + 1)
            } else {
                guard d < count else { return }
                d = count + 1
            }
            guard d < 1 << 40 else { return }
            deadline = load + Int64(d << shift)
        }
    }

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

    private(set) var timers: [UInt32: Timer] = [:]

    /// A write by LAPIC `apic` at log time `now`.
    mutating func write(apic: UInt32, offset: Int64, value: UInt32, now: Int64) {
        var t = timers[apic] ?? Timer()
        switch offset & 0xFFF {
        case 0x320: t.lvt = value; t.rearm(now)
        case 0x380: t.initialCount = value; t.load = now; t.rearm(now)
        case 0x3E0: t.divide = value & 0xB     // QEMU does not re-arm on a divide write
        default: return
        }
        timers[apic] = t
    }

    /// A system reset: every timer stopped.
    mutating func reset() { timers = [:] }

    /// A timer LVT delivery at log time `now`: whose, and its LVT (for the vector and mode).
    mutating func fire(at now: Int64) -> (Fire, lvt: UInt32?) {
        let due = timers.filter { $0.value.deadline.map { $0 <= now + Self.earlyNs } ?? false }
            .sorted { ($0.value.deadline!, $0.key) < ($1.value.deadline!, $1.key) }
        guard let first = due.first else { return (.unknown, nil) }
        let tied = due.filter { $0.value.deadline! - first.value.deadline! <= Self.tieNs }.map(\.key)
        // The earliest deadline is consumed (when tied, which one does not matter: the rest follow).
        var t = first.value
        if t.periodic, let d = t.deadline { t.deadline = d + Int64((UInt64(t.initialCount) + 1) << t.shift) } else { t.deadline = nil }
        timers[first.key] = t
        let lvts = Set(tied.map { timers[$0]!.lvt & 0xFF })
        return (tied.count == 1 ? .apic(first.key) : .oneOf(tied.sorted()), lvts.count == 1 ? first.value.lvt : nil)
    }
}
