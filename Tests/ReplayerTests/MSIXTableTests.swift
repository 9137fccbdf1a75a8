import Testing
@testable import Replayer

/// The MSI-X table and PBA (PCI Local Bus 3.0 §6.8.2; QEMU hw/pci/msix.c).
@Suite("MSI-X table model")
struct MSIXTableTests {
    let m0 = MSIMessage(address: 0xFEE0_1000, data: 0x41)
    let m1 = MSIMessage(address: 0xFEE0_2000, data: 0x42)

    /// MSI-X enabled, entries 0 and 1 programmed, vector 0 unmasked.
    func table() -> MSIXTable {
        var t = MSIXTable(vectors: 4)
        t.writeMessage(0, m0)
        t.writeMessage(1, m1)
        _ = t.writeControl(enabled: true, functionMasked: false)
        _ = t.setMask(0, masked: false)
        return t
    }

    @Test func resetStateMasksEveryVector() {
        let t = MSIXTable(vectors: 3)
        #expect(!t.enabled && !t.functionMasked)
        #expect((0..<3).allSatisfy { t.isMasked($0) && !t.isPending($0) })
    }

    @Test func unmaskedVectorSendsItsMessage() {
        var t = table()
        #expect(t.signal(0) == m0)
        #expect(!t.isPending(0))
    }

    @Test func maskedVectorLatchesPendingInsteadOfSending() {
        var t = table()
        #expect(t.signal(1) == nil)
        #expect(t.isPending(1))
        // A second event while masked: still one pending bit, still nothing sent.
        #expect(t.signal(1) == nil)
        #expect(t.isPending(1))
    }

    @Test func unmaskWithPendingClearsItAndSends() {
        var t = table()
        _ = t.signal(1)
        let u = t.setMask(1, masked: false)
        #expect(u == MSIXTable.MaskUpdate(vector: 1, notifier: .use, sent: m1))
        #expect(!t.isPending(1))
        // Masking and unmasking again sends nothing more.
        #expect(t.setMask(1, masked: true) == MSIXTable.MaskUpdate(vector: 1, notifier: .release, sent: nil))
        #expect(t.setMask(1, masked: false) == MSIXTable.MaskUpdate(vector: 1, notifier: .use, sent: nil))
    }

    @Test func writingTheSameMaskCallsNoNotifier() {
        var t = table()
        #expect(t.setMask(0, masked: false).notifier == nil)
        #expect(t.setMask(2, masked: true).notifier == nil)
    }

    @Test func functionMaskLatchesPendingAndItsClearSends() {
        var t = table()
        let masked = t.writeControl(enabled: true, functionMasked: true)
        #expect(masked == [MSIXTable.MaskUpdate(vector: 0, notifier: .release, sent: nil)])
        #expect(t.isMasked(0))
        #expect(t.signal(0) == nil)
        #expect(t.isPending(0))
        // A vector unmasked while the function is masked stays masked: no notifier.
        #expect(t.setMask(1, masked: false).notifier == nil)
        let unmasked = t.writeControl(enabled: true, functionMasked: false)
        #expect(unmasked == [MSIXTable.MaskUpdate(vector: 0, notifier: .use, sent: m0),
                             MSIXTable.MaskUpdate(vector: 1, notifier: .use, sent: nil)])
        #expect(!t.isPending(0))
    }

    @Test func disablingKeepsPendingAndReenablingSends() {
        var t = table()
        #expect(t.writeControl(enabled: false, functionMasked: false).isEmpty)
        // QEMU: a disabled function's vectors count as masked.
        #expect(t.signal(0) == nil)
        #expect(t.isPending(0))
        #expect(t.writeControl(enabled: true, functionMasked: false) == [MSIXTable.MaskUpdate(vector: 0, notifier: .use, sent: m0)])
        #expect(!t.isPending(0))
    }

    @Test func messageWrittenWhileMaskedIsTheOneSentAtUnmask() {
        var t = table()
        _ = t.signal(1)
        let moved = MSIMessage(address: 0xFEE0_3000, data: 0x42)
        t.writeMessage(1, moved)
        #expect(t.setMask(1, masked: false).sent == moved)
    }
}
