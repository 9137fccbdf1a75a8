import Testing
@testable import Replayer

/// Each rule of ``PostedInterruptDescriptor``: KVM's post (vmx.c `__vmx_deliver_posted_interrupt`),
/// the IOMMU's (VT-d §5.2.3), KVM's sync (`vmx_sync_pir_to_irr`), put/load (posted_intr.c), and the
/// bug Linux c112b5f50232 fixed (real-bugs.md row 6).
@Suite("Posted-interrupt descriptor")
struct PostedInterruptDescriptorTests {
    func pid() -> PostedInterruptDescriptor { PostedInterruptDescriptor(notificationDestination: 0x300) }

    @Test("KVM's post: PIR and ON set, a notification sent to NDST")
    func kvmPostNotifies() {
        var d = pid()
        let r1 = d.post(0x41)
        #expect(r1 == .notify(vector: PostedInterruptDescriptor.postedInterruptVector, destination: 0x300))
        #expect(d.pir.contains(0x41) && d.outstandingNotification)
    }

    @Test("KVM's post with ON already set: PIR only, no second notification")
    func kvmPostOutstanding() {
        var d = pid()
        _ = d.post(0x41)
        let r2 = d.post(0x42)
        #expect(r2 == .notificationOutstanding)
        #expect(d.pir.vectors == [0x41, 0x42])
    }

    @Test("KVM's post of a vector already in PIR stops there, even with ON clear (pi_test_and_set_pir)")
    func kvmPostAlreadyPending() {
        var d = pid()
        d.pir.insert(0x41)   // left by an IOMMU post while SN was set
        let r3 = d.post(0x41)
        #expect(r3 == .alreadyPending)
        #expect(!d.outstandingNotification)
    }

    @Test("KVM's post ignores SN")
    func kvmPostIgnoresSN() {
        var d = pid()
        d.suppressNotification = true
        let r4 = d.post(0x41)
        #expect(r4 == .notify(vector: PostedInterruptDescriptor.postedInterruptVector, destination: 0x300))
    }

    @Test("IOMMU post: SN=1 sets PIR only; URG overrides SN; ON set suppresses a second notification")
    func iommuPost() {
        var d = pid()
        d.suppressNotification = true
        let r5 = d.postByIOMMU(0x51)
        #expect(r5 == .suppressed)
        #expect(d.pir.contains(0x51) && !d.outstandingNotification)
        let r6 = d.postByIOMMU(0x52, urgent: true)
        #expect(r6 == .notify(vector: d.notificationVector, destination: 0x300))
        #expect(d.outstandingNotification)
        let r7 = d.postByIOMMU(0x53)
        #expect(r7 == .notificationOutstanding)
    }

    @Test("IOMMU post of a vector already in PIR still notifies when ON is clear (unlike KVM)")
    func iommuPostRepeats() {
        var d = pid()
        d.pir.insert(0x51)
        let r8 = d.postByIOMMU(0x51)
        #expect(r8 == .notify(vector: d.notificationVector, destination: 0x300))
    }

    @Test("sync: with ON, ON cleared and PIR harvested; without ON, nothing")
    func sync() {
        var d = pid()
        d.pir.insert(0x61)
        let r9 = d.syncToIRR().isEmpty
        #expect(r9)
        #expect(d.pir.contains(0x61))
        d.outstandingNotification = true
        let r10 = d.syncToIRR().vectors
        #expect(r10 == [0x61])
        #expect(d.pir.isEmpty && !d.outstandingNotification)
    }

    @Test("put: a blocking vCPU gets the wakeup vector (a wakeup at once if ON is set); preemption sets SN")
    func put() {
        var d = pid()
        let r11 = !d.put(blocking: true, preempted: false)
        #expect(r11)
        #expect(d.notificationVector == PostedInterruptDescriptor.wakeupVector && !d.suppressNotification)
        var e = pid()
        _ = e.post(0x41)
        let r12 = e.put(blocking: true, preempted: false)
        #expect(r12)
        var f = pid()
        let r13 = !f.put(blocking: false, preempted: true)
        #expect(r13)
        #expect(f.suppressNotification && f.notificationVector == PostedInterruptDescriptor.postedInterruptVector)
        var g = pid()
        _ = g.put(blocking: true, interruptsBlocked: true, preempted: false)
        #expect(g.notificationVector == PostedInterruptDescriptor.postedInterruptVector)
    }

    @Test("row 6: a post while preempted (SN=1) is lost at the next entry unless load recomputes ON")
    func recomputeON() {
        for fixed in [true, false] {
            var d = pid()
            _ = d.put(blocking: false, preempted: true)
            let r14 = d.postByIOMMU(0x71)
            #expect(r14 == .suppressed)
            d.load(destination: 0x100, recomputeON: fixed)
            #expect(!d.suppressNotification && d.notificationDestination == 0x100)
            let r15 = d.syncToIRR().contains(0x71)
            #expect(r15 == fixed)
            // Before the fix a later KVM post of the same vector stops at PIR: no ON, no kick.
            if !fixed { let again = d.post(0x71); #expect(again == .alreadyPending) }
        }
    }

    @Test("control word layout: ON bit 0, SN bit 1, NV 23:16, NDST 63:32; xAPIC NDST")
    func control() {
        var d = PostedInterruptDescriptor(notificationVector: 0xF2, notificationDestination: PostedInterruptDescriptor.destination(apicID: 3, x2APIC: false))
        d.outstandingNotification = true
        d.suppressNotification = true
        #expect(d.control == 0x0000_0300_00F2_0003)
        #expect(PostedInterruptDescriptor.destination(apicID: 0x1234, x2APIC: true) == 0x1234)
    }
}
