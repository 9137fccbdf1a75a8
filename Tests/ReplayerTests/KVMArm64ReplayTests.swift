import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import TraceFormat

/// arm64 KVM with an in-kernel vGIC. No arm64 host is available on these machines, so these tests
/// use a CONSTRUCTED trace (Fixtures/arm64-kvm-constructed.trace.txt, made by
/// scripts/constructed/make-arm64-kvm-fixture.py) following arm.c, arch_timer.c and vgic.c.
@Suite("Replay of arm64 KVM traces (constructed trace)")
struct KVMArm64ReplayTests {
    static let fixture = fixtureLines("arm64-kvm-constructed.trace.txt")

    func check(_ lines: [String]) throws -> ReplayReport {
        try replay(text: Array((lines.joined(separator: "\n") + "\n").utf8))
    }

    @Test("every injection after a line or timer change is checked; one without a traced cause is not")
    func agree() throws {
        let r = try check(Self.fixture)
        #expect(r.adapter == "kvm-arm64")
        #expect(r.divergences.isEmpty, "\(r.divergences)")
        #expect(r.observationsChecked == 6)
        #expect(r.observationsTotal == 7)
    }

    @Test("a wrong INTID, vCPU or level, and a missing injection, are detected")
    func mutations() throws {
        let cases: [(String, (String) -> String?)] = [
            ("vgic_update_irq_pending: VCPU: 0, IRQ 27, level: 1", { $0.replacingOccurrences(of: "level: 1", with: "level: 0") }),
            ("vgic_update_irq_pending: VCPU: 0, IRQ 48, level: 1", { _ in nil }),
            ("num: 48, level: 0", { $0.replacingOccurrences(of: "num: 48", with: "num: 49") }),
            ("vgic_update_irq_pending: VCPU: 1, IRQ 23, level: 1", { $0.replacingOccurrences(of: "VCPU: 1", with: "VCPU: 0") }),
            ("kvm_timer_update_irq: VCPU: 1, IRQ 27, level 0", { $0.replacingOccurrences(of: "IRQ 27", with: "IRQ 30") }),
        ]
        for (match, change) in cases {
            var l = Self.fixture
            guard let k = l.firstIndex(where: { $0.contains(match) }) else { Issue.record("no \(match)"); continue }
            if let c = change(l[k]) { l[k] = c } else { l.remove(at: k) }
            #expect(try !check(l).divergences.isEmpty, "not detected: \(match)")
        }
    }
}
