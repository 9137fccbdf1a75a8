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
struct QEMUDeliveredCounter {
    enum Cause: Equatable {
        case none
        case vector(UInt8)
        case unknownVector
    }

    enum Outcome: Equatable {
        case checked(expected: Int64, observed: Int64)
        case unchecked(reason: String)
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
    }

    /// `apic_mem_writel OFFSET = VALUE`.
    mutating func registerWrite(offset: Int64, value: UInt32) {
        switch offset & 0xFFF {
        case 0xB0:
            if outstanding > 0 { outstanding -= 1 }
            if outstanding == 0 { deliveredSinceIdle = VectorBitmap(); unknownSinceIdle = false }
        case 0x300:
            let mode = DeliveryMode(rawValue: UInt8((value >> 8) & 7))
            cause = mode == .fixed || mode == .lowestPriority ? .vector(UInt8(truncatingIfNeeded: value)) : .none
        case 0x320, 0x330, 0x340, 0x350, 0x360, 0x370:
            let k = Int((offset & 0xFFF) - 0x320) / 0x10
            let v = Int(value & 0xFF)
            if lvtVectors[k] == -1 { lvtVectors[k] = v } else if lvtVectors[k] != v { lvtVectors[k] = -2 }
        default: break
        }
    }

    /// `apic_local_deliver LVT MODE`: fixed mode sets the LVT's vector in IRR (when not masked).
    mutating func localDeliver(lvt: Int, mode: Int) {
        guard mode == 0 else { cause = .none; return }
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
    }

    /// `apic_report_irq_delivered N`.
    mutating func report(_ value: Int64) -> Outcome {
        let delta = value &- counter
        let before = counter
        counter = value
        guard delta == 0 || delta == 1 else {
            return .jump(from: before, to: value)
        }
        guard case .vector(let v) = cause else {
            // Some IRR bit was set; if it is acknowledged its EOI must not be taken for another's.
            outstanding += Int(delta)
            if delta == 1 { unknownSinceIdle = true }
            return .unchecked(reason: cause == .none ? "no delivery before it" : "LVT vector unknown")
        }
        if v < 16 { return .unchecked(reason: "vector below 16") }
        let certain = !deliveredSinceIdle.contains(v) && !unknownSinceIdle
        outstanding += Int(delta)
        deliveredSinceIdle.insert(v)
        return certain ? .checked(expected: 1, observed: delta) : .unchecked(reason: "vector may still be pending")
    }
}
