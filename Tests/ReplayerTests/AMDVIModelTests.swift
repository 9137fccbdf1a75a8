import Testing
@testable import Replayer

/// AMD-Vi interrupt remapping scenarios from the AMD IOMMU specification (rev 3.x §2.2.2 DTE,
/// §2.2.5 interrupt remapping tables), each run with QEMU 7.2's rules (its amdvi_int_remap_msi is
/// the peer the replayer checks traces against) and with the specification's where they differ;
/// and the model against every distinct IRTE and result QEMU produced in the real samples.
@Suite("AMD-Vi interrupt remapping model")
struct AMDVIModelTests {
    /// A fixed-mode MSI in the interrupt range asking for IRTE `index` (MSI data bits 10:0).
    static func request(index: Int, mode: UInt32 = 0, logical: Bool = false) -> MSIMessage {
        MSIMessage(address: 0xFEE0_0000 | (logical ? 4 : 0), data: UInt32(index) | mode << 8)
    }

    /// A basic IRTE: RemapEn 0, SupIOPF 1, IntType 4:2, RqEoi 5, DM 6, Destination 15:8, Vector 23:16.
    static func basic(vector: UInt8, destination: UInt8, logical: Bool = false, type: UInt32 = 0, remapEn: Bool = true,
                      supIOPF: Bool = false, rqEoi: Bool = false, bit7: Bool = false) -> AMDVIIRTE {
        AMDVIIRTE(basic: (remapEn ? 1 : 0) | (supIOPF ? 2 : 0) | type << 2 | (rqEoi ? 0x20 : 0) | (logical ? 0x40 : 0)
                  | (bit7 ? 0x80 : 0) | UInt32(destination) << 8 | UInt32(vector) << 16)
    }

    /// A GA IRTE in remapped mode (GuestMode 0): Destination[23:0] at low 31:8, Vector at high 7:0,
    /// Destination[31:24] at high 63:56.
    static func ga(vector: UInt8, destination: UInt32, logical: Bool = false, guestMode: Bool = false, remapEn: Bool = true) -> AMDVIIRTE {
        AMDVIIRTE(gaLow: (remapEn ? 1 : 0) | (logical ? 0x40 : 0) | (guestMode ? 0x80 : 0) | UInt64(destination & 0xFF_FFFF) << 8,
                  gaHigh: UInt64(vector) | UInt64(destination >> 24) << 56)
    }

    let remapping = DTE.make(tableLength: 3, tableRoot: 0x11E_2000)
    typealias DTE = AMDVIDeviceInterrupts

    @Test("DTE interrupt fields sit at DTE bits 128+n: IV 0, IntTabLen 4:1, IG 5, root 51:6, pass bits 56-58, IntCtl 61:60")
    func dteFields() {
        let d = DTE.make(remapValid: true, tableLength: 8, ignoreUnmapped: true, tableRoot: 0x1A00_A000, control: .remap,
                         initPass: true, extIntPass: false, nmiPass: true)
        #expect(d.bits == 0x2500_0000_1A00_A031)
        #expect(d.remapValid && d.tableLength == 8 && d.ignoreUnmapped && d.tableRoot == 0x1A00_A000)
        #expect(d.initPass && !d.extIntPass && d.nmiPass && d.interruptControl == .remap)
        #expect(DTE(bits: 1 << 60).interruptControl == .pass && DTE(bits: 3 << 60).interruptControl == .reserved)
    }

    @Test("basic (32-bit) IRTE: fields, 4-byte entries, MSI as x86_iommu_irq_to_msi_message builds it",
          arguments: [AMDVIRemapping.Rules.qemu72, .specification])
    func basicFormat(rules: AMDVIRemapping.Rules) {
        let r = AMDVIRemapping(rules: rules)
        let e = Self.basic(vector: 0x23, destination: 1, logical: true, type: 1, rqEoi: true)
        #expect(e.vector == 0x23 && e.destination() == 1 && e.logical && e.interruptType == 1 && e.requestEOI && !e.guestMode)
        let q = Self.request(index: 4)
        #expect(r.irteOffset(of: q) == 0x10)
        // Address: 0xFEE, destination in 19:12, RqEoi as redirection hint (bit 3), DM (bit 2);
        // data: vector, type in 10:8, assert (bit 14), edge (an AMD-Vi IRTE has no trigger mode).
        #expect(r.remap(q, dte: remapping) { $0 == 4 ? e : nil } == .remapped(MSIMessage(address: 0xFEE0_100C, data: 0x4123), index: 4))
    }

    @Test("GA (128-bit) IRTE: 16-byte entries; QEMU 7.2 takes destination bits 15:8 only, the spec 24 bits (+8 with XTEn)")
    func gaFormat() {
        var q72 = AMDVIRemapping(rules: .qemu72), spec = AMDVIRemapping(rules: .specification)
        q72.guestVirtualAPIC = true
        spec.guestVirtualAPIC = true
        let q = Self.request(index: 2)
        #expect(q72.irteOffset(of: q) == 0x20)
        let small = Self.ga(vector: 0x30, destination: 1, logical: true)
        #expect(small.low == 0x141 && small.high == 0x30)
        for r in [q72, spec] {
            #expect(r.remap(q, dte: remapping) { _ in small } == .remapped(MSIMessage(address: 0xFEE0_1004, data: 0x4030), index: 2))
        }
        let wide = Self.ga(vector: 0x41, destination: 0x0102_0304)
        #expect(q72.remap(q, dte: remapping) { _ in wide }.message == MSIMessage(address: 0xFEE0_4000, data: 0x4041))
        #expect(spec.remap(q, dte: remapping) { _ in wide }.message == MSIMessage(address: 0x0002_0300_FEE0_4000, data: 0x4041))
        spec.x2APIC = true
        #expect(spec.remap(q, dte: remapping) { _ in wide }.message == MSIMessage(address: 0x0102_0300_FEE0_4000, data: 0x4041))
    }

    @Test("DTE: no device table or IV = 0 passes the MSI through; IntCtl abort and reserved refuse it")
    func dteControl() {
        let r = AMDVIRemapping()
        let q = Self.request(index: 7)
        let e = Self.basic(vector: 0x50, destination: 0)
        #expect(r.remap(q, dte: nil) { _ in e } == .passThrough(q))
        #expect(r.remap(q, dte: DTE.make(remapValid: false)) { _ in e } == .passThrough(q))
        #expect(r.remap(q, dte: DTE.make(control: .abort)) { _ in e } == .fault(.interruptControlAbort))
        #expect(AMDVIRemapFault.interruptControlAbort.qemuTrace! == ("amdvi_ir_target_abort", "int_ctl abort"))
        #expect(r.remap(q, dte: DTE.make(control: .reserved)) { _ in e } == .fault(.interruptControlReserved))
    }

    @Test("IntCtl = forward unmapped: the spec forwards the MSI; QEMU 7.2 sends vector 0 to APIC 0 (its zeroed X86IOMMUIrq)")
    func intCtlPass() {
        let q = Self.request(index: 7)
        let dte = DTE.make(control: .pass)
        #expect(AMDVIRemapping(rules: .specification).remap(q, dte: dte) { _ in nil } == .passThrough(q))
        #expect(AMDVIRemapping(rules: .qemu72).remap(q, dte: dte) { _ in nil }.message == MSIMessage(address: 0xFEE0_0000, data: 0x4000))
    }

    @Test("index bounds: the spec target-aborts an index at or beyond 2^IntTabLen; QEMU 7.2 reads the entry anyway")
    func tableLength() {
        let dte = DTE.make(tableLength: 3)
        let e = Self.basic(vector: 0x60, destination: 0)
        let spec = AMDVIRemapping(rules: .specification), q72 = AMDVIRemapping(rules: .qemu72)
        #expect(spec.remap(Self.request(index: 7), dte: dte) { _ in e }.message != nil)
        #expect(spec.remap(Self.request(index: 8), dte: dte) { _ in e } == .fault(.indexBeyondTable))
        #expect(spec.remap(Self.request(index: 0), dte: DTE.make(tableLength: 12)) { _ in e } == .fault(.indexBeyondTable))
        #expect(q72.remap(Self.request(index: 8), dte: dte) { _ in e }.message != nil)
        // Only data bits 10:0 index the table.
        #expect(AMDVIRemapping.index(of: MSIMessage(address: 0xFEE0_0000, data: 0x0FFF)) == 0x7FF)
    }

    @Test("RemapEn = 0 target-aborts; the spec logs IO_PAGE_FAULT unless SupIOPF or the DTE's IG, QEMU 7.2 never logs")
    func remapDisabled() {
        let q = Self.request(index: 1)
        let spec = AMDVIRemapping(rules: .specification)
        let off = Self.basic(vector: 0x70, destination: 0, remapEn: false)
        #expect(spec.remap(q, dte: remapping) { _ in off } == .fault(.remapDisabled(logged: true)))
        #expect(spec.remap(q, dte: remapping) { _ in Self.basic(vector: 0x70, destination: 0, remapEn: false, supIOPF: true) }
                == .fault(.remapDisabled(logged: false)))
        #expect(spec.remap(q, dte: DTE.make(ignoreUnmapped: true)) { _ in off } == .fault(.remapDisabled(logged: false)))
        #expect(AMDVIRemapping(rules: .qemu72).remap(q, dte: remapping) { _ in off } == .fault(.remapDisabled(logged: false)))
        #expect(AMDVIRemapFault.remapDisabled(logged: false).qemuTrace! == ("amdvi_ir_target_abort", "RemapEn is disabled"))
    }

    @Test("GuestMode (GA) or reserved bit 7 (basic), and IntType other than fixed/arbitrated, are refused")
    func reservedFields() {
        let q = Self.request(index: 3)
        var r = AMDVIRemapping()
        #expect(r.remap(q, dte: remapping) { _ in Self.basic(vector: 0x31, destination: 0, bit7: true) } == .fault(.guestMode))
        #expect(r.remap(q, dte: remapping) { _ in Self.basic(vector: 0x31, destination: 0, type: 4) } == .fault(.reservedInterruptType))
        r.guestVirtualAPIC = true
        #expect(r.remap(q, dte: remapping) { _ in Self.ga(vector: 0x31, destination: 0, guestMode: true) } == .fault(.guestMode))
        // Ignored fields: basic bits 31:24 and the GA high quadword's reserved bits change nothing.
        let plain = r.remap(q, dte: remapping) { _ in Self.ga(vector: 0x31, destination: 2) }
        #expect(r.remap(q, dte: remapping) { _ in AMDVIIRTE(gaLow: 0x201, gaHigh: 0x31 | 0xFF00) } == plain)
        r.guestVirtualAPIC = false
        #expect(r.remap(q, dte: remapping) { _ in AMDVIIRTE(basic: 0xFF31_0201) } == r.remap(q, dte: remapping) { _ in AMDVIIRTE(basic: 0x0031_0201) })
    }

    @Test("NMI, INIT and ExtInt pass through only with their DTE pass bit and a physical destination; SMI and reserved modes are refused")
    func specialDeliveryModes() {
        let r = AMDVIRemapping()
        for (mode, dte) in [(UInt32(4), DTE.make(nmiPass: true)), (5, DTE.make(initPass: true)), (7, DTE.make(extIntPass: true))] {
            let q = Self.request(index: 0, mode: mode)
            #expect(r.remap(q, dte: dte) { _ in nil } == .passThrough(q))
            #expect(r.remap(q, dte: remapping) { _ in nil } == .fault(.passNotEnabled))
            #expect(r.remap(Self.request(index: 0, mode: mode, logical: true), dte: dte) { _ in nil } == .fault(.invalidDestinationMode))
        }
        #expect(r.remap(Self.request(index: 0, mode: 2), dte: remapping) { _ in nil } == .fault(.smi))
        #expect(r.remap(Self.request(index: 0, mode: 3), dte: remapping) { _ in nil } == .fault(.unsupportedDeliveryMode))
        #expect(AMDVIRemapping.deliveryModeTrace(of: Self.request(index: 0, mode: 1)) == "fixed/arbitrated")
        #expect(AMDVIRemapping.deliveryModeTrace(of: Self.request(index: 0, mode: 7)) == "eint")
        #expect(AMDVIRemapping.deliveryModeTrace(of: Self.request(index: 0, mode: 2)) == nil)
        #expect(r.remap(MSIMessage(address: 0xFEF0_0000, data: 0), dte: remapping) { _ in nil } == .fault(.notInterruptAddress))
    }

    @Test("the model gives QEMU's result for every distinct request and IRTE in the real samples", arguments: ["amdvi-ir-smp2-mttcg", "amdvi-ir-legacy"])
    func realIRTEs(sample: String) throws {
        let lines = try sampleLines(x86Samples.first { $0.contains(sample) }!)
        func hex(_ s: Substring) -> UInt64 { UInt64(s.hasPrefix("0x") ? s.dropFirst(2) : s, radix: 16) ?? .max }
        var request: MSIMessage?, irte: AMDVIIRTE?, ga = false
        var seen = Set<[UInt64]>()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let w = line[line.index(after: colon)...].split(separator: " ")
            switch w.first {
            case "amdvi_ir_remap_msi_req": request = MSIMessage(address: hex(w[2]), data: UInt32(hex(w[4]))); irte = nil
            case "amdvi_ir_irte_val": irte = AMDVIIRTE(basic: UInt32(hex(w[2])))
            case "amdvi_ir_irte_ga_val": irte = AMDVIIRTE(gaLow: hex(w[4]), gaHigh: hex(w[2])); ga = true
            case "amdvi_ir_remap_msi":
                guard let q = request, let e = irte else { continue }
                let to = MSIMessage(address: hex(w[7].dropLast()), data: UInt32(hex(w[9].dropLast())))
                guard seen.insert([q.address, UInt64(q.data), e.low, e.high, to.address, UInt64(to.data)]).inserted else { continue }
                var r = AMDVIRemapping()
                r.guestVirtualAPIC = ga
                #expect(r.remap(q, dte: remapping) { $0 == AMDVIRemapping.index(of: q) ? e : nil } == .remapped(to, index: AMDVIRemapping.index(of: q)), "\(line)")
            default: continue
            }
        }
        #expect(seen.count >= 5)
        #expect(ga == sample.contains("mttcg"))
    }
}
