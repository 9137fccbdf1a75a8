import Foundation
import Testing

/// The guest kit `scripts/guest-kit.sh` prepares (run by `make test`): Debian kernels, initramfs
/// images, a disk image; and QEMU itself.
enum GuestKit {
    static let env: [String: String]? = {
        let path = ProcessInfo.processInfo.environment["IRQTRACE_GUEST_KIT"] ?? "/tmp/irqtrace-guest/guest.env"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var d: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { d[String(kv[0])] = String(kv[1]) }
        }
        return d
    }()
    static func has(_ binary: String) -> Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/" + binary) }
    static let available = env != nil && has("qemu-system-x86_64") && has("qemu-system-aarch64")
    static let reason: Comment = "needs QEMU and the guest kit: run scripts/guest-kit.sh (make test does)"
    static func common(_ arch: String, console: String) -> [String] {
        let e = env ?? [:]
        return ["-kernel", e["VMLINUZ_" + arch] ?? "", "-initrd", e["INITRD_" + arch] ?? "",
                "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-blk-pci,drive=d0",
                "-nographic", "-no-reboot", "-m", "512M", "-accel", "tcg,thread=single",
                "-netdev", "user,id=n0,restrict=on",
                "-drive", "file=\(e["DISK"] ?? ""),if=none,id=d0,format=raw,readonly=on",
                "-append", "console=\(console) panic=-1 quiet loglevel=4" + (arch == "AMD64" ? " intremap=on" : "")]
    }
}

@Suite("record --qemu: live QEMU runs of a real Debian kernel", .serialized, .enabled(if: GuestKit.available, GuestKit.reason))
struct QEMULiveTests {
    /// Runs `irqtrace record --qemu` (QEMU's console is irqtrace's standard output).
    func record(_ out: String, _ qemu: [String]) throws -> Run {
        try irqtrace(["record", "--qemu", "-o", out, "--"] + qemu)
    }

    @Test("x86 q35 with VT-d interrupt remapping: remapped MSIs, LAPIC EOIs, replay --check agrees")
    func x86() throws {
        let out = temporary("qemu-live-x86.irqt")
        let r = try record(out, ["qemu-system-x86_64", "-M", "q35", "-device", "intel-iommu,intremap=on", "-smp", "2"]
                           + GuestKit.common("AMD64", console: "ttyS0"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out.contains("IRQTRACE: PING OK") && r.out.contains("IRQTRACE: DONE"), "the guest booted and did its I/O")
        let counts = try eventCounts(out)
        #expect(counts["vtd_ir_remap_msi", default: 0] > 0)
        #expect(counts["apic_deliver_irq", default: 0] > 0)
        #expect(counts["ioapic_set_irq", default: 0] > 0)
        // Every remapped MSI request is translated (or faults, which a clean boot never does).
        #expect(counts["vtd_ir_remap_msi_req"] == counts["vtd_ir_remap_msi"])
        let info = try irqtrace(["info", out, "--json"]).json()
        #expect(info["source"] as? String == "qemu-log")
        #expect((info["live"] as? [String: Any])?["stop_reason"] as? String == "command exited")
        let replay = try irqtrace(["replay", out, "--check"])
        #expect(replay.status == 0 && replay.out.contains("divergences: 0"), "\(replay.out.prefix(2000))")
    }

    @Test("arm64 virt GICv2: every acknowledged interrupt is EOId, replay --check agrees")
    func arm64() throws {
        let out = temporary("qemu-live-arm.irqt")
        let r = try record(out, ["qemu-system-aarch64", "-M", "virt,gic-version=2", "-cpu", "cortex-a57", "-smp", "2"]
                           + GuestKit.common("ARM64", console: "ttyAMA0"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.out.contains("IRQTRACE: DONE"))
        let counts = try eventCounts(out)
        #expect(counts["gic_acknowledge_irq", default: 0] > 100)
        #expect(counts["gic_set_irq", default: 0] > 0)
        // Linux's gic_handle_irq: an EOIR write (offset 0x10) for every acknowledge of a real
        // interrupt, except handlers still running when the guest powered off (one per vCPU at most).
        let writes = try irqtrace(["show", out, "--event", "gic_cpu_write"]).out.split(separator: "\n")
        let eoirs = writes.filter { $0.contains("write at 0x00000010 ") }.count
        let acks = try irqtrace(["show", out, "--event", "gic_acknowledge_irq"]).out.split(separator: "\n")
        let real = acks.filter { !$0.hasSuffix("irq 1023") }.count
        #expect(real > 100 && eoirs <= real && real - eoirs <= 2, "EOIR writes \(eoirs), acknowledges of real interrupts \(real)")
        let replay = try irqtrace(["replay", out, "--check"])
        #expect(replay.status == 0 && replay.out.contains("divergences: 0"), "\(replay.out.prefix(2000))")
    }
}
