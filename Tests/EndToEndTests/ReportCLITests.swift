import Foundation
import Testing

@Suite("irqtrace report")
struct ReportCLITests {
    @Test("writes one HTML page for a real KVM fault recording; a source without transitions gets a note")
    func report() throws {
        let out = temporary("report-\(UUID().uuidString).html")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try irqtrace(["report", root.appendingPathComponent("traces/kvm/pvm-idt-fault.trace.txt").path, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        let page = try String(contentsOfFile: out, encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("stuck_in_service") && page.contains("kvm_apic_accept_irq"))
        #expect(r.stderr.contains("3 findings"))

        let q = try irqtrace(["report", sample, "-o", out])
        #expect(q.status == 0, "\(q.stderr)")
        #expect(try String(contentsOfFile: out, encoding: .utf8).contains("No model transitions"))
    }

    @Test("-o is required")
    func needsOutput() throws {
        let r = try irqtrace(["report", sample])
        #expect(r.status == 2)
    }
}
