import Foundation
import Testing

/// Runs the built `irqtrace` binary, as users do.
struct Run {
    var status: Int32
    var stdout: Data
    var stderr: String
    var out: String { String(decoding: stdout, as: UTF8.self) }
    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: stdout) as? [String: Any])
    }
}

let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let sample = root.appendingPathComponent("traces/qemu-x86-q35-intremap-smp2.log.zst").path
let armSample = root.appendingPathComponent("traces/qemu-arm64-virt-gicv2-smp2.log.zst").path

/// The `irqtrace` the tests run (the debug build `swift build` makes).
let irqtraceBinary = root.appendingPathComponent(".build/debug/irqtrace").path

func irqtrace(_ args: [String]) throws -> Run { try runProcess(irqtraceBinary, args) }

/// Runs `executable` with `args` (and this process's environment plus `extra`), its output
/// collected in files.
func runProcess(_ executable: String, _ args: [String], environment extra: [String: String] = [:]) throws -> Run {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    if !extra.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 } }
    let outPath = temporary("stdout-\(UUID().uuidString)"), errPath = temporary("stderr-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: outPath, contents: nil)
    FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: outPath); try? FileManager.default.removeItem(atPath: errPath) }
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    try p.run()
    p.waitUntilExit()
    let outData = try Data(contentsOf: URL(fileURLWithPath: outPath))
    let errData = try Data(contentsOf: URL(fileURLWithPath: errPath))
    return Run(status: p.terminationStatus, stdout: outData, stderr: String(decoding: errData, as: UTF8.self))
}

/// A .zst sample's text, through the zstd command (independent of irqtrace's own reader).
func decompressed(_ path: String) throws -> Data {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
    p.arguments = ["-dc", path]
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return data
}

func temporary(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-e2e-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

@Suite("irqtrace command line", .serialized)
struct CLITests {
    @Test("record, then info --json with the documented keys")
    func recordAndInfo() throws {
        let out = temporary("a.irqt")
        let r = try irqtrace(["record", sample, "-o", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let info = try irqtrace(["info", out, "--json"])
        #expect(info.status == 0)
        let j = try info.json()
        #expect(j["format_version"] as? String == "1.0")
        #expect(j["source"] as? String == "qemu-log")
        #expect(j["arch"] as? String == "x86_64")
        #expect(j["events"] as? Int == 23729)
        #expect(j["damaged"] as? Bool == false)
        #expect(j["lost_events"] as? Int == 0)
        #expect((j["chunks"] as? [Any])?.isEmpty == false)
    }

    @Test("stats --json on a raw input (imported on the fly)")
    func statsOnTheFly() throws {
        let r = try irqtrace(["stats", armSample, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try r.json()
        let byName = try #require(j["by_name"] as? [String: Int])
        #expect(byName["gic_acknowledge_irq"] ?? 0 > 0)
        #expect(j["events"] as? Int == byName.values.reduce(0, +))
        let byCPU = try #require(j["by_cpu"] as? [String: Int])
        #expect(Set(byCPU.keys) == ["0", "1"])
    }

    @Test("export -o - reprints the input byte for byte")
    func exportText() throws {
        let r = try irqtrace(["export", sample, "--format", "text", "-o", "-"])
        #expect(r.status == 0)
        #expect(r.stdout == (try decompressed(sample)))
    }

    @Test("show filters by irq and stops at --limit")
    func show() throws {
        let r = try irqtrace(["show", armSample, "--irq", "27", "--event", "gic_acknowledge_irq", "--limit", "5"])
        #expect(r.status == 0)
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines.allSatisfy { $0.contains("gic_acknowledge_irq") && $0.hasSuffix("acknowledged irq 27") })
    }

    @Test("usage and input errors exit 2 with a message naming the file")
    func errors() throws {
        let missing = try irqtrace(["info", "/nonexistent/x.irqt"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent/x.irqt"))
        let usage = try irqtrace(["record", sample])
        #expect(usage.status == 2)
        let bogus = try irqtrace(["frobnicate"])
        #expect(bogus.status == 2)
        let help = try irqtrace(["--help"])
        #expect(help.status == 0)
    }

    @Test("a failed record leaves an existing output untouched")
    func atomicOutput() throws {
        // Its own folder: other tests write outputs (atomically, through .tmp- files) in the shared one.
        let own = temporary("atomic-output")
        try FileManager.default.createDirectory(atPath: own, withIntermediateDirectories: true)
        let out = own + "/keep.irqt"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: out))
        let garbage = temporary("garbage.log")
        try Data("1@1.000001:a 1\n@@@ not a line\n".utf8).write(to: URL(fileURLWithPath: garbage))
        let r = try irqtrace(["record", garbage, "--strict", "-o", out])
        #expect(r.status == 2)
        #expect(r.stderr.contains("garbage.log:2"))
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "precious")
        let dir = URL(fileURLWithPath: out).deletingLastPathComponent().path
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.contains(".tmp-") })
    }

    @Test("a damaged trace: lenient by default (exit 0, warning), exit 2 under --strict")
    func damaged() throws {
        let out = temporary("damaged.irqt")
        #expect(try irqtrace(["record", sample, "--chunk-size", "4096", "-o", out]).status == 0)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        bytes = bytes.prefix(bytes.count * 2 / 3)
        try bytes.write(to: URL(fileURLWithPath: out))
        let info = try irqtrace(["info", out, "--json"])
        #expect(info.status == 0)
        #expect(info.stderr.contains("warning"))
        let j = try info.json()
        #expect(j["damaged"] as? Bool == true)
        #expect((j["events"] as? Int ?? 0) > 0)
        let strict = try irqtrace(["stats", out, "--strict"])
        #expect(strict.status == 2)
    }
}

@Suite("irqtrace replay", .serialized)
struct ReplayCLITests {
    @Test("replay --check --json on a real QEMU x86 trace: exit 0, documented keys")
    func check() throws {
        let r = try irqtrace(["replay", sample, "--check", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try r.json()
        #expect(j["observations_checked"] as? Int ?? 0 > 0)
        #expect(j["observations_total"] as? Int ?? 0 >= j["observations_checked"] as? Int ?? 0)
        #expect((j["divergences"] as? [Any])?.isEmpty == true)
        #expect(j["digest"] is String)
    }

    @Test("a divergence exits 1 and names the event")
    func divergence() throws {
        var text = String(decoding: try decompressed(sample), as: UTF8.self)
        let target = try #require(text.range(of: "-> (addr 0xfee0100c, data 0x4030)"))
        text.replaceSubrange(target, with: "-> (addr 0xfee0100c, data 0x4031)")
        let path = temporary("diverge.log")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try irqtrace(["replay", path, "--check"])
        #expect(r.status == 1)
        #expect(r.out.contains("vtd_ir_remap_msi result"))
    }

    @Test("--from/--to check one window: a divergence inside it exits 1, outside it 0")
    func window() throws {
        var text = String(decoding: try decompressed(sample), as: UTF8.self)
        let target = try #require(text.range(of: "-> (addr 0xfee0100c, data 0x4030)"))
        text.replaceSubrange(target, with: "-> (addr 0xfee0100c, data 0x4031)")
        let path = temporary("window.log")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        // The altered line's timestamp: "TID@SECONDS.MICROS:event".
        let lineStart = text[..<target.lowerBound].lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex
        let stamp = text[lineStart...].split(separator: ":", maxSplits: 1)[0].split(separator: "@")[1]
        let t = try #require(Double(stamp))
        let inside = try irqtrace(["replay", path, "--check", "--from", String(format: "%.6f", t - 0.001), "--to", String(format: "%.6f", t + 0.001), "--json"])
        #expect(inside.status == 1)
        #expect((try inside.json()["divergences"] as? [Any])?.isEmpty == false)
        let before = try irqtrace(["replay", path, "--check", "--to", String(format: "%.6f", t - 0.001)])
        #expect(before.status == 0, "\(before.out)")
        let after = try irqtrace(["replay", path, "--check", "--from", String(format: "%.6f", t + 0.001)])
        #expect(after.status == 0, "\(after.out)")
    }

    @Test("a VMX KVM trace injecting a vector no LAPIC accepted diverges (exit 1)")
    func vmx() throws {
        let path = temporary("vmx.txt")
        try Data(("    qemu-kvm-1234    [001] d..1.  100.000001: kvm_exit: vcpu 0 reason EXTERNAL_INTERRUPT rip 0xffffffff8102d85e info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x800000ec error_code 0x00000000\n"
                  + "    qemu-kvm-1234    [001] d..1.  100.000002: kvm_inj_virq: IRQ 0xec\n"
                  + "    qemu-kvm-1234    [001] d..1.  100.000003: kvm_entry: vcpu 0, rip 0xffffffff8102d85e\n").utf8).write(to: URL(fileURLWithPath: path))
        let r = try irqtrace(["replay", path, "--check"])
        #expect(r.status == 1)
        #expect(r.out.contains("kvm-vmx"))
        #expect(r.out.contains("never accepted"))
    }

    @Test("a trace with nothing to replay (host IRQ events only) is a clear error (exit 2)")
    func unsupported() throws {
        let path = temporary("irq-only.txt")
        try Data(("          <idle>-0       [001] d.h1.  2681.289500: irq_handler_entry: irq=36 name=virtio1-req.0\n"
                  + "          <idle>-0       [001] d.h1.  2681.289504: irq_handler_exit: irq=36 ret=handled\n").utf8).write(to: URL(fileURLWithPath: path))
        let r = try irqtrace(["replay", path, "--check"])
        #expect(r.status == 2)
        #expect(!r.stderr.isEmpty)
    }

    @Test("replay --check on a real arm64 GICv2 trace: exit 0, no divergence")
    func gic() throws {
        let r = try irqtrace(["replay", armSample, "--check", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try r.json()
        #expect(j["adapter"] as? String == "qemu-gicv2")
        #expect((j["divergences"] as? [Any])?.isEmpty == true)
    }
}

@Suite("irqtrace replay --state-at", .serialized)
struct StateAtTests {
    @Test("the LAPIC state of a real KVM recording at a time: TPR raised, nothing pending")
    func tpr() throws {
        let path = root.appendingPathComponent("traces/kvm/pvm-tpr.trace.txt").path
        let r = try irqtrace(["replay", path, "--state-at", "+0.0127", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let state = try #require((try r.json())["state"] as? [String: Any])
        let lapics = try #require(state["lapics"] as? [[String: Any]])
        let apic0 = try #require(lapics.first { $0["apic_id"] as? Int == 0 })
        #expect(apic0["tpr"] as? Int == 0x50)
        #expect(apic0["ppr"] as? Int == 0x50)
    }

    @Test("a trace without timestamps: --state-at is an input error")
    func untimed() throws {
        let path = root.appendingPathComponent("traces/qemu-x86-pc-nomsi-smp2-notimestamp.log.zst").path
        let r = try irqtrace(["replay", path, "--state-at", "1"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("timestamps"))
    }
}

@Suite("irqtrace sim --vocabulary", .serialized)
struct SimVocabularyTests {
    @Test("sim --vocabulary kvm-arm64 writes arm64 KVM tracepoints that replay --check passes (exit 0)")
    func kvmArm64() throws {
        let out = temporary("kvm-arm64.irqt")
        let s = try irqtrace(["sim", "arm-gicv2-el2", "--vocabulary", "kvm-arm64", "--duration", "20ms", "--seed", "3", "-o", out])
        #expect(s.status == 0, "\(s.stderr)")
        let info = try irqtrace(["info", out, "--json"])
        #expect(info.out.contains("\"kvm-arm64\""))
        let r = try irqtrace(["replay", out, "--check", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try r.json()
        #expect(j["adapter"] as? String == "kvm-arm64")
        #expect((j["divergences"] as? [Any])?.isEmpty == true)
        let text = try irqtrace(["export", out])
        #expect(text.out.contains(": vgic_update_irq_pending: VCPU: 0, IRQ "))
        #expect(!text.out.contains("gic_acknowledge_irq"))
    }

    @Test("an output the platform lacks, or a fault the output cannot show, is refused (exit 2) with the reason")
    func refused() throws {
        let out = temporary("refused.irqt")
        let a = try irqtrace(["sim", "arm-gicv2", "--vocabulary", "kvm-vmx", "-o", out])
        #expect(a.status == 2)
        #expect(a.stderr.contains("qemu-gic, kvm-arm64"))
        let b = try irqtrace(["sim", "arm-gicv2", "--vocabulary", "kvm-arm64", "--fault", "gic-missing-eoi", "-o", out])
        #expect(b.status == 2)
        #expect(b.stderr.contains("cannot be written in the kvm-arm64 output"))
        let list = try irqtrace(["sim", "--list", "--json"])
        let outputs = try #require(try list.json()["outputs"] as? [[String: Any]])
        #expect(outputs.compactMap { $0["name"] as? String }.contains("kvm-arm64"))
    }
}
