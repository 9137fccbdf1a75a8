/// A VT-x/VT-d posted-interrupt descriptor (`struct pi_desc`, Linux arch/x86/include/asm/posted_intr.h;
/// Intel VT-d spec §9.11 "Posted Interrupt Descriptor", §5.2.3 "Interrupt-Posting Hardware Operation"):
/// 64 bytes, 64-byte aligned, one per vCPU.
///
/// - `pir`: the Posted Interrupt Requests, bytes 0–31 (one bit per vector; ``VectorBitmap``);
/// - `outstandingNotification` (ON, control bit 0): a notification event is outstanding — set by the
///   poster that sends one, cleared by the CPU's posted-interrupt processing or KVM's sync;
/// - `suppressNotification` (SN, bit 1): non-urgent posts set PIR only (no ON, no notification);
///   KVM sets it while the vCPU is preempted (`vmx_vcpu_pi_put`);
/// - `notificationVector` (NV, bits 23:16) and `notificationDestination` (NDST, bits 63:32; xAPIC:
///   the APIC ID in bits 15:8, x2APIC: the APIC ID): where a notification goes — the host's
///   posted-interrupt vector to the pCPU running the vCPU, or KVM's wakeup vector while it blocks.
///
/// Two posters use it: KVM itself (`__vmx_deliver_posted_interrupt`, for irqfd MSIs, IPIs and local
/// interrupts with APICv: traced as `kvm_apicv_accept_irq`) and the IOMMU for VT-d posted IRTEs
/// (``IRTE/isPosted``; no trace shows its posts). They follow different rules (``post(_:)``,
/// ``postByIOMMU(_:urgent:)``). A plain value: no heap.
public struct PostedInterruptDescriptor: Hashable, Sendable, Codable {
    /// PIR: Posted Interrupt Requests (pi_desc bytes 0–31).
    public var pir = VectorBitmap()
    /// ON: Outstanding Notification (control bit 0).
    public var outstandingNotification = false
    /// SN: Suppress Notification (control bit 1).
    public var suppressNotification = false
    /// NV: Notification Vector (control bits 23:16).
    public var notificationVector: UInt8
    /// NDST: Notification Destination (control bits 63:32), as the hardware reads it.
    public var notificationDestination: UInt32

    /// Linux's host vectors (arch/x86/include/asm/irq_vectors.h): POSTED_INTR_VECTOR 0xf2 (the CPU
    /// processes the posted interrupts in VMX non-root operation) and POSTED_INTR_WAKEUP_VECTOR 0xf1
    /// (`pi_wakeup_handler`: wakes the blocked vCPUs on that pCPU's wakeup list).
    public static let postedInterruptVector: UInt8 = 0xF2
    public static let wakeupVector: UInt8 = 0xF1

    public init(notificationVector: UInt8 = Self.postedInterruptVector, notificationDestination: UInt32 = 0) {
        self.notificationVector = notificationVector
        self.notificationDestination = notificationDestination
    }

    /// The 64-bit control word (pi_desc byte 32) as Linux lays it out.
    public var control: UInt64 {
        (outstandingNotification ? 1 : 0) | (suppressNotification ? 2 : 0) | UInt64(notificationVector) << 16
            | UInt64(notificationDestination) << 32
    }

    /// What a post did.
    public enum PostOutcome: Equatable, Sendable {
        /// The vector was already in PIR: merged; nothing else done (KVM: `pi_test_and_set_pir` true).
        case alreadyPending
        /// PIR set; ON was already set: a notification is outstanding, none sent.
        case notificationOutstanding
        /// PIR set, SN=1 and not urgent: neither ON nor a notification (VT-d only).
        case suppressed
        /// PIR and ON set; a notification is sent (NV to NDST); KVM: `kvm_vcpu_trigger_posted_interrupt`.
        case notify(vector: UInt8, destination: UInt32)
    }

    /// KVM's post of `vector` (arch/x86/kvm/vmx/vmx.c `__vmx_deliver_posted_interrupt`):
    /// `if (pi_test_and_set_pir(vector, pi_desc)) return;` `if (pi_test_and_set_on(pi_desc)) return;`
    /// then `kvm_vcpu_trigger_posted_interrupt` — an IPI with POSTED_INTR_VECTOR to the pCPU if the
    /// vCPU is in guest mode, else a wake-up/kick. SN is not looked at: KVM notifies itself.
    public mutating func post(_ vector: UInt8) -> PostOutcome {
        if pir.contains(vector) { return .alreadyPending }
        pir.insert(vector)
        if outstandingNotification { return .notificationOutstanding }
        outstandingNotification = true
        return .notify(vector: Self.postedInterruptVector, destination: notificationDestination)
    }

    /// The IOMMU's post of `vector` through a posted IRTE (VT-d spec §5.2.3): atomically set the PIR
    /// bit; then if ON = 0 and (URG = 1 or SN = 0), set ON and send a notification event with NV to
    /// NDST. Unlike KVM, the hardware does not stop when the PIR bit was already set.
    public mutating func postByIOMMU(_ vector: UInt8, urgent: Bool = false) -> PostOutcome {
        pir.insert(vector)
        if outstandingNotification { return .notificationOutstanding }
        if suppressNotification && !urgent { return .suppressed }
        outstandingNotification = true
        return .notify(vector: notificationVector, destination: notificationDestination)
    }

    /// KVM's sync before entry and in `kvm_vcpu_has_events` (vmx.c `vmx_sync_pir_to_irr`): if ON,
    /// clear ON, then harvest PIR (`pi_harvest_pir`: every non-zero word exchanged with 0) into the
    /// virtual IRR. Without ON nothing is harvested, whatever PIR holds. Returns the vectors moved.
    public mutating func syncToIRR() -> VectorBitmap {
        guard outstandingNotification else { return VectorBitmap() }
        outstandingNotification = false
        let moved = pir
        pir = VectorBitmap()
        return moved
    }

    /// The CPU's posted-interrupt processing on a notification in VMX non-root operation (SDM 30.6):
    /// clear ON, move PIR into the virtual IRR (VIRR), evaluate pending virtual interrupts.
    public mutating func processNotification() -> VectorBitmap { syncToIRR() }

    /// `vmx_vcpu_pi_put` (arch/x86/kvm/vmx/posted_intr.c) when the vCPU's thread leaves its pCPU:
    /// a blocking vCPU that can take interrupts gets the wakeup vector (`pi_enable_wakeup_handler`:
    /// NV = POSTED_INTR_WAKEUP_VECTOR; if ON is already set it sends itself that vector, so the return
    /// value says a wakeup is due at once); a preempted one gets SN = 1. Only done when KVM needs PI
    /// wake-ups (`vmx_needs_pi_wakeup`: VT-d posting or IPI virtualization in use).
    public mutating func put(blocking: Bool, interruptsBlocked: Bool = false, preempted: Bool) -> Bool {
        var wakeNow = false
        if blocking && !interruptsBlocked {
            notificationVector = Self.wakeupVector
            wakeNow = outstandingNotification
        }
        if preempted { suppressNotification = true }
        return wakeNow
    }

    /// `vmx_vcpu_pi_load` when the vCPU's thread runs on pCPU `destination`: NV back to
    /// POSTED_INTR_VECTOR, NDST updated, SN cleared; then, since Linux c112b5f50232 ("KVM: x86:
    /// Recompute PID.ON when clearing PID.SN"), `if (!pi_is_pir_empty(pi_desc)) pi_set_on(pi_desc)`:
    /// a post made while SN was set left PIR without ON, and ON must be recomputed or the next sync
    /// skips it. `recomputeON: false` is the kernel before that fix.
    public mutating func load(destination: UInt32, recomputeON: Bool = true) {
        notificationVector = Self.postedInterruptVector
        notificationDestination = destination
        suppressNotification = false
        if recomputeON && !pir.isEmpty { outstandingNotification = true }
    }

    /// NDST as `vmx_vcpu_pi_load` writes it: x2APIC the APIC ID, xAPIC `(id << 8) & 0xFF00`.
    public static func destination(apicID: UInt32, x2APIC: Bool) -> UInt32 { x2APIC ? apicID : (apicID << 8) & 0xFF00 }
}
