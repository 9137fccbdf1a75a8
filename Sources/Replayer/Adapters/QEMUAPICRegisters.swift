/// The LAPIC registers a QEMU log lets us predict, per vCPU, when each vCPU has its own thread
/// (multi-threaded TCG: a vCPU's MMIO accesses to its LAPIC run on its thread).
///
/// A thread is bound to a LAPIC by what it reads from the ID register (QEMU `apic_mem_read` 0x20:
/// `s->id << 24`). A thread that reads two different IDs runs several vCPUs (single-threaded TCG):
/// it is never bound, and its accesses stay unattributed (unchecked).
///
/// Read values follow QEMU 7.2 hw/intc/apic.c `apic_mem_read` / `apic_mem_write` and the reset
/// state of `apic_reset_common` + `apic_init_reset`: TPR, LDR (`log_dest << 24`), DFR
/// (`dest_mode << 28 | 0x0fffffff`), SVR (`val & 0x1ff`), ICR low/high (as written: QEMU delivers
/// synchronously, the delivery-status bit is never set), LVTs (as written), TMICT, TDCR (`& 0xb`),
/// version (0x14, 6 LVTs). The timer current count (time-dependent), ISR/TMR/IRR (acknowledgements
/// are untraced), PPR and ESR are not predicted. The timer's next deadline is kept with the
/// registers it follows from (QEMUAPICTimers.swift).
struct QEMUAPICRegisters: Codable {
    struct LAPIC: Codable {
        var id: UInt32
        var tpr: UInt32 = 0
        var ldr: UInt32 = 0
        var dfr: UInt32 = 0xFFFF_FFFF
        var svr: UInt32 = 0xFF
        var icrLow: UInt32 = 0
        var icrHigh: UInt32 = 0
        /// Timer, thermal, performance, LINT0, LINT1, error. Reset: masked; the BSP's LINT0 is ExtINT.
        var lvt: [UInt32]
        var initialCount: UInt32 = 0
        var divide: UInt32 = 0
        /// Log time of the last TMICT write, and the timer's next deadline (nil: stopped).
        var timerLoad: Int64?
        var timerDeadline: Int64?

        init(id: UInt32) {
            self.id = id
            lvt = Array(repeating: 0x1_0000, count: 6)
            if id == 0 { lvt[3] = 0x700 }
        }
    }

    enum ThreadState: Codable {
        case bound(UInt32)
        /// Reads of different IDs: several vCPUs on one thread.
        case shared
    }

    private(set) var threads: [Int32: ThreadState] = [:]
    /// Every thread that touched a LAPIC runs one vCPU (multi-threaded TCG).
    private(set) var attributed = false
    /// The LAPIC IDs of the bound threads, in index order (QEMU's APIC index is its ID by default).
    private(set) var knownIDs: [UInt32] = []
    var apics: [UInt32: LAPIC] = [:]

    /// First pass: bind every thread that only ever reads one APIC ID.
    mutating func learn(thread: Int32, idRead value: UInt32) {
        let id = value >> 24
        switch threads[thread] {
        case nil: threads[thread] = .bound(id)
        case .bound(let other) where other != id: threads[thread] = .shared
        default: return
        }
        attributed = !threads.values.contains { if case .shared = $0 { return true }; return false }
        knownIDs = threads.values.compactMap { if case .bound(let id) = $0 { return id }; return nil }.sorted()
    }

    /// The LAPICs a message reaches (QEMU `apic_get_delivery_bitmask`, `apic_match_logical_addr`:
    /// flat model `dest & log_dest`, cluster model same cluster and a common bit), in index order;
    /// lowest priority: the lowest index (QEMU `apic_bus_deliver`). Nil unless attributed.
    func targets(destination dest: UInt32, logical: Bool, lowestPriority: Bool) -> [UInt32]? {
        guard attributed else { return nil }
        var list: [UInt32]
        if !logical {
            list = dest == 0xFF ? knownIDs : knownIDs.filter { $0 == dest }
        } else {
            list = knownIDs.filter { id in
                let a = lapic(id)
                let logDest = a.ldr >> 24
                if a.dfr >> 28 == 0xF { return dest & logDest != 0 }
                if a.dfr >> 28 == 0 { return (dest & 0xF0) == (logDest & 0xF0) && dest & logDest & 0x0F != 0 }
                return false
            }
        }
        if lowestPriority { list = Array(list.prefix(1)) }
        return list
    }

    /// The LAPICs an ICR write by `thread` delivers to (QEMU `apic_deliver`), nil unless attributed.
    func icrTargets(thread: Int32, low value: UInt32) -> [UInt32]? {
        guard attributed, let me = apicID(of: thread) else { return nil }
        let a = lapic(me)
        switch (value >> 18) & 3 {
        case 1: return [me]
        case 2: return knownIDs
        case 3: return knownIDs.filter { $0 != me }
        default:
            return targets(destination: a.icrHigh >> 24, logical: value & 0x800 != 0, lowestPriority: (value >> 8) & 7 == 1)
        }
    }

    /// The registers of LAPIC `id` (its reset state until written).
    func lapic(_ id: UInt32) -> LAPIC { apics[id] ?? LAPIC(id: id) }

    func apicID(of thread: Int32) -> UInt32? {
        if case .bound(let id)? = threads[thread] { return id }
        return nil
    }

    /// `apic_reset_common` (system reset, traced as `apic_reset_irq_delivered`): every LAPIC to its
    /// reset state (the resets of all LAPICs come together).
    mutating func resetAll() { apics = [:] }

    /// `apic_mem_writel` on a thread at log time `now`.
    mutating func write(thread: Int32, offset: Int64, value: UInt32, now: Int64) {
        guard attributed, let id = apicID(of: thread) else { return }
        let o = offset & 0xFFF
        if o == 0x300 && (value >> 8) & 7 == 5 && value & 0x4000 != 0 && (value >> 18) & 3 == 0 && value & 0x800 == 0 {
            // An INIT IPI (assert) to a physical destination: `apic_init_reset` of the target
            // (registers and timer).
            let target = lapic(id).icrHigh >> 24
            if target != id { apics[target] = LAPIC(id: target) }
        }
        // Modified in place: no copy of the LAPIC per write.
        apics[id, default: LAPIC(id: id)].apply(o, value, now)
    }

    enum Read: Equatable {
        case expected(UInt32)
        case unchecked(StaticString)

        static func == (a: Read, b: Read) -> Bool {
            switch (a, b) {
            case let (.expected(x), .expected(y)): x == y
            case let (.unchecked(x), .unchecked(y)): x.description == y.description
            default: false
            }
        }
    }

    /// What `apic_mem_readl OFFSET` on `thread` must return.
    func read(thread: Int32, offset: Int64) -> Read {
        let o = offset & 0xFFF
        if o == 0x30 { return .expected(0x0005_0014) }    // the same in every LAPIC
        guard attributed, let id = apicID(of: thread) else { return .unchecked("apic_mem_readl (per-vCPU register, vCPU unknown)") }
        let a = lapic(id)
        switch o {
        case 0x20: return .expected(id << 24)
        case 0x80: return .expected(a.tpr)
        case 0xD0: return .expected(a.ldr)
        case 0xE0: return .expected(a.dfr)
        case 0xF0: return .expected(a.svr)
        case 0x300: return .expected(a.icrLow)
        case 0x310: return .expected(a.icrHigh)
        case 0x320, 0x330, 0x340, 0x350, 0x360, 0x370: return .expected(a.lvt[Int(o - 0x320) / 0x10])
        case 0x380: return .expected(a.initialCount)
        case 0x3E0: return .expected(a.divide)
        case 0x390: return .unchecked("apic_mem_readl (timer current count)")
        default: return .unchecked("apic_mem_readl (ISR/IRR/TMR/PPR/ESR)")
        }
    }
}

extension QEMUAPICRegisters.LAPIC {
    /// `apic_mem_write` of one register (timer writes re-arm the timer as `apic_timer_update` does;
    /// a divide write does not).
    mutating func apply(_ offset: Int64, _ value: UInt32, _ now: Int64) {
        switch offset {
        case 0x80: tpr = value & 0xFF
        case 0xD0: ldr = value & 0xFF00_0000
        case 0xE0: dfr = (value & 0xF000_0000) | 0x0FFF_FFFF
        case 0xF0: svr = value & 0x1FF
        case 0x300: icrLow = value
        case 0x310: icrHigh = value
        case 0x320, 0x330, 0x340, 0x350, 0x360, 0x370:
            lvt[Int(offset - 0x320) / 0x10] = value
            if offset == 0x320 { rearmTimer(now) }
        case 0x380: initialCount = value; timerLoad = now; rearmTimer(now)
        case 0x3E0: divide = value & 0xB
        default: break
        }
    }
}
