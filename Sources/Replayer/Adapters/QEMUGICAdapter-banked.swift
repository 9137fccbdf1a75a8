/// Banked distributor writes credited to the wrong CPU, repaired from QEMU's own reports.
///
/// `gic_dist_write` names no CPU, yet the SGI/PPI registers (GICD_ISENABLER0, ICENABLER0, ISPENDR0,
/// ICPENDR0, ISACTIVER0, ICACTIVER0, IPRIORITYR0–7) are banked per CPU, so the adapter credits such
/// a write to the CPU last seen on the GIC. With one TCG thread running every vCPU, QEMU may switch
/// vCPUs between a CPU's last interface access and its banked write: the write is then credited to
/// the other CPU, and the model disagrees with every later report touching that interrupt (seen once
/// in a live recording: CPU 1's enable of its timer PPI 27 credited to CPU 0, thousands of
/// divergences from the first timer tick on).
///
/// Each credited banked write that changed the bank is remembered with the bank's state before and
/// after it. When a best-interrupt report (`gic_update_bestirq`, or its absence before the next
/// change) disagrees with the model, the remembered writes are tried at the other CPUs, newest
/// first: the write is undone where it was credited and made at the other CPU, and when the model's
/// update then predicts exactly what QEMU reported, that is taken as what happened (QEMU's report
/// names the CPU; the repair is counted, not reported as a divergence). A report no repair explains
/// is a divergence as before.
extension QEMUGICAdapter {
    /// One CPU's banked state of the SGIs and PPIs (INTIDs 0–31).
    struct Bank: Equatable {
        var enabled: UInt32 = 0
        var pending: UInt32 = 0
        var active: UInt32 = 0
        var priority: [UInt8] = []

        init(_ g: GICv2, cpu: Int) {
            let cm = UInt8(1 << cpu)
            for irq in 0..<min(32, g.irqCount) {
                let bit = UInt32(1) << UInt32(irq)
                if g.enabled[irq] & cm != 0 { enabled |= bit }
                if g.pending[irq] & cm != 0 { pending |= bit }
                if g.active[irq] & cm != 0 { active |= bit }
            }
            priority = Array(g.bankedPriority[(cpu * 32)..<(cpu * 32 + 32)])
        }
    }

    /// A banked write whose CPU was the adapter's guess, and what it changed there.
    struct BankedGuess {
        var offset: Int
        var size: Int
        var value: UInt32
        var credited: Int
        var before: Bank
        var after: Bank
        /// The SGIs and PPIs (bit per INTID) the write addresses: set/clear bits, or priority bytes.
        var intids: UInt32 {
            if offset >= 0x400 {
                var m: UInt32 = 0
                for k in 0..<size where offset - 0x400 + k < 32 { m |= 1 << UInt32(offset - 0x400 + k) }
                return m
            }
            return value
        }
    }

    /// How many credited banked writes are kept for a repair (Linux writes its banks at boot and
    /// CPU bring-up: a handful per CPU).
    static let bankedGuessLimit = 32

    /// True for the banked registers a repair may move (not SGIR, whose sender is handled apart,
    /// nor ICFGR, whose PPI configuration the model keeps once for all CPUs).
    static func isRepairableBanked(_ offset: Int) -> Bool {
        (offset & 0xF80) != 0 && offset < 0x400 && (offset & 0x7F) < 4 || (0x400..<0x420).contains(offset)
    }

    /// Remembers a banked write just credited to `cpu` (with the bank before it), if it changed that
    /// bank or would change another CPU's (a write that changes nothing anywhere cannot be misplaced).
    mutating func rememberBanked(offset: Int, size: Int, value: UInt32, credited cpu: Int, before: Bank) {
        guard gic.cpuCount > 1 else { return }
        let after = Bank(gic, cpu: cpu)
        if after == before {
            let elsewhere = (0..<gic.cpuCount).contains { other in
                guard other != cpu else { return false }
                var g = gic
                for byte in 0..<size { g.writeDistributor(offset: offset + byte, value: (value >> UInt32(8 * byte)) & 0xFF, cpu: other, size: 1) }
                return Bank(g, cpu: other) != Bank(gic, cpu: other)
            }
            guard elsewhere else { return }
        }
        bankedGuesses.append(BankedGuess(offset: offset, size: size, value: value, credited: cpu, before: before, after: after))
        if bankedGuesses.count > Self.bankedGuessLimit { bankedGuesses.removeFirst() }
    }

    /// `g` with the guess undone at the CPU it was credited to: each bit and priority the write
    /// changed goes back to its value before, where it still holds the value the write left.
    static func undo(_ guess: BankedGuess, in g: inout GICv2) {
        let c = guess.credited, cm = UInt8(1 << c)
        for irq in 0..<min(32, g.irqCount) {
            let bit = UInt32(1) << UInt32(irq)
            func restore(_ table: inout [UInt8], _ before: UInt32, _ after: UInt32) {
                guard (before ^ after) & bit != 0, (table[irq] & cm != 0) == (after & bit != 0) else { return }
                if before & bit != 0 { table[irq] |= cm } else { table[irq] &= ~cm }
            }
            restore(&g.enabled, guess.before.enabled, guess.after.enabled)
            restore(&g.pending, guess.before.pending, guess.after.pending)
            restore(&g.active, guess.before.active, guess.after.active)
            let k = c * 32 + irq
            if guess.before.priority[irq] != guess.after.priority[irq] && g.bankedPriority[k] == guess.after.priority[irq] {
                g.bankedPriority[k] = guess.before.priority[irq]
            }
        }
    }

    /// Tries the remembered banked writes at other CPUs against QEMU's report for `cpu`: `observed`
    /// (its best interrupt) or nil (QEMU reported no best interrupt for `cpu` or any later CPU
    /// before the next change), where the model predicted `predicted`. Only a write that addresses
    /// the INTID QEMU reported or the model predicted (an SGI or PPI), and that moves to or away from
    /// `cpu`, may explain the difference. On a match the model takes the repaired state and the rest
    /// of its update as the lines to expect, and true is returned.
    mutating func repairBanked(observed: GICv2.Update?, predicted: GICv2.Update?, cpu: Int) -> Bool {
        guard !bankedGuesses.isEmpty else { return false }
        var concerned: UInt32 = 0
        for u in [observed, predicted] { if let u, u.irq < 32 { concerned |= 1 << u.irq } }
        guard concerned != 0 else { return false }
        for k in bankedGuesses.indices.reversed() where bankedGuesses[k].intids & concerned != 0 {
            let guess = bankedGuesses[k]
            for alternative in 0..<gic.cpuCount where alternative != guess.credited && (alternative == cpu || guess.credited == cpu) {
                var g = gic
                Self.undo(guess, in: &g)
                for byte in 0..<max(1, guess.size) {
                    g.writeDistributor(offset: guess.offset + byte, value: (guess.value >> UInt32(8 * byte)) & 0xFF, cpu: alternative, size: 1)
                }
                let updates = g.update()
                if let observed {
                    // QEMU printed `cpu`'s line next: the repaired update must have no line for a CPU
                    // the model still expects before it (`predicted`), else the repair explains
                    // nothing (a write that leaves `cpu`'s line as it was would always "match", and
                    // be moved wrongly: seen after a lost edge of an SPI, which no SGI/PPI bank explains).
                    let start = min(predicted?.cpu ?? cpu, cpu)
                    guard var line = updates.first(where: { $0.cpu >= start }), line.cpu == cpu else { continue }
                    let signal = line.signal
                    line.signal = false
                    guard line == observed else { continue }
                    gic = g
                    expected = updates.filter { $0.cpu > cpu }
                    if signal { expectedSetIRQ.append(cpu) }
                } else {
                    guard !updates.contains(where: { $0.cpu >= cpu }) else { continue }
                    gic = g
                    expected = []
                }
                bankedGuesses.remove(at: k)
                report.unchecked["gic_dist_write to a banked register credited to the CPU last seen; QEMU's update showed it was another CPU's (a vCPU switch on one TCG thread): re-credited", default: 0] += 1
                return true
            }
        }
        return false
    }
}
