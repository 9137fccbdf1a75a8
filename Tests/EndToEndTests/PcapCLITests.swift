import Foundation
import Testing

@Suite("irqtrace export --format pcap and record FILE.pcap", .serialized)
struct PcapCLITests {
    @Test("export --format pcap, record it back: the same text, byte for byte, and the same replay digest",
          arguments: ["traces/kvm/pvm-msi.trace.txt", "traces/qemu-arm64-virt-gicv2-smp2.log.zst"])
    func roundTrip(_ relative: String) throws {
        let trace = root.appendingPathComponent(relative).path
        let pcap = temporary("round-\(UUID().uuidString).pcap"), back = temporary("round-\(UUID().uuidString).irqt")
        defer { try? FileManager.default.removeItem(atPath: pcap); try? FileManager.default.removeItem(atPath: back) }
        let exported = try irqtrace(["export", trace, "--format", "pcap", "-o", pcap])
        #expect(exported.status == 0, "\(exported.stderr)")
        let magic = try [UInt8](Data(contentsOf: URL(fileURLWithPath: pcap)).prefix(4))
        #expect(magic == [0x4D, 0x3C, 0xB2, 0xA1], "a nanosecond pcap")
        let recorded = try irqtrace(["record", pcap, "-o", back])
        #expect(recorded.status == 0, "\(recorded.stderr)")
        let a = try irqtrace(["export", trace, "--format", "text"]), b = try irqtrace(["export", back, "--format", "text"])
        #expect(a.status == 0 && b.status == 0)
        #expect(a.stdout == b.stdout)
        let ra = try irqtrace(["replay", trace, "--json"]), rb = try irqtrace(["replay", back, "--json"])
        let da = try ra.json()["digest"] as? String, db = try rb.json()["digest"] as? String
        #expect(da != nil && da == db)
    }

    @Test("record refuses a pcap of another link type, naming its DLT (exit 2)")
    func otherLinkType() throws {
        let pcap = temporary("eth-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(atPath: pcap) }
        // A classic little-endian microsecond pcap header for Ethernet (DLT_EN10MB, 1), no packets.
        var header: [UInt8] = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + [UInt8](repeating: 0, count: 8)
        header += [0xFF, 0xFF, 0, 0, 1, 0, 0, 0]
        try Data(header).write(to: URL(fileURLWithPath: pcap))
        let r = try irqtrace(["record", pcap, "-o", temporary("eth.irqt")])
        #expect(r.status == 2)
        #expect(r.stderr.contains("link type 1 (DLT_EN10MB)"), "\(r.stderr)")
    }
}
