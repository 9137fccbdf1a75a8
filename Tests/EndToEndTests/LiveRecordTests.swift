import Foundation
import Testing

/// What live recording needs on this machine: root, tracefs (mounted or mountable), /dev/kvm, a C
/// compiler for the test VMM. When one is missing the tests are skipped with the reason.
enum LiveHost {
    static let tracefsRoot: String? = {
        guard let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8) else { return nil }
        for line in mounts.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count >= 3, f[2] == "tracefs" { return String(f[1]) }
        }
        return FileManager.default.fileExists(atPath: "/sys/kernel/tracing") && getuid() == 0 ? "/sys/kernel/tracing" : nil
    }()
    static let compiler: String? = ["/usr/bin/cc", "/usr/bin/gcc", "/opt/swift/usr/bin/clang"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let available = getuid() == 0 && tracefsRoot != nil && FileManager.default.fileExists(atPath: "/dev/kvm") && compiler != nil
    static let reason: Comment = "live recording needs root, tracefs, /dev/kvm and a C compiler"

    /// The test VMM (scripts/kvm-guest/tinyvmm.c: raw KVM ioctls, a hand-assembled guest), built once.
    static let tinyvmm: String = {
        let out = temporary("tinyvmm")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: compiler ?? "/usr/bin/cc")
        p.arguments = ["-O2", "-pthread", "-o", out, root.appendingPathComponent("scripts/kvm-guest/tinyvmm.c").path]
        try? p.run()
        p.waitUntilExit()
        return out
    }()

    /// tracefs mounted where ``tracefsRoot`` says, as the recorder would mount it (on a machine that
    /// booted without it, the first recording mounts it: a "before" read from the unmounted folder
    /// would then differ from every "after").
    static let mounted: Bool = {
        guard let root = tracefsRoot else { return false }
        if let mounts = try? String(contentsOfFile: "/proc/mounts", encoding: .utf8),
           mounts.split(separator: "\n").contains(where: { $0.split(separator: " ").dropFirst().first.map(String.init) == root }) { return true }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/mount")
        p.arguments = ["-t", "tracefs", "nodev", root]
        try? p.run()
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// Global tracing state that a recorder must leave as it found it.
    static func globalState() -> [String: String] {
        _ = mounted
        var s: [String: String] = [:]
        for f in ["tracing_on", "current_tracer", "trace_clock", "buffer_size_kb", "set_event", "events/kvm/enable"] {
            s[f] = (try? String(contentsOfFile: (tracefsRoot ?? "") + "/" + f, encoding: .utf8)) ?? "?"
        }
        return s
    }

    static func ourInstances() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: (tracefsRoot ?? "") + "/instances")) ?? []).filter { $0.hasPrefix("irqtrace-") }
    }

    static func alive(_ name: String) -> Bool {
        guard let pid = Int32(name.dropFirst("irqtrace-".count)) else { return false }
        return kill(pid, 0) == 0
    }
}

func eventCounts(_ path: String) throws -> [String: Int] {
    let r = try irqtrace(["stats", path, "--json"])
    let j = try r.json()
    return (j["by_name"] as? [String: Int]) ?? [:]
}

@Suite("live recording from tracefs (real KVM)", .serialized, .enabled(if: LiveHost.available, LiveHost.reason))
struct LiveRecordTests {
    @Test("record -- tinyvmm msi: kvm_msi_set_irq / kvm_apic_accept_irq / kvm_eoi counts are what the VMM did; replay --check agrees")
    func msiCounts() throws {
        let before = LiveHost.globalState()
        let out = temporary("live-msi.irqt"), vmmLog = temporary("live-msi.vmm.txt")
        let r = try irqtrace(["record", "-o", out, "--json", "--", "sh", "-c",
                              "\"\(LiveHost.tinyvmm)\" --marker \"$IRQTRACE_TRACE_MARKER\" msi > \"\(vmmLog)\""])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try r.json()
        #expect(summary["lost_events"] as? Int == 0)
        #expect(summary["stop_reason"] as? String == "command exited")
        let vmm = try String(contentsOfFile: vmmLog, encoding: .utf8)
        let lines = vmm.split(separator: "\n")
        let signalled = lines.filter { $0.contains("KVM_SIGNAL_MSI dest ") || $0.contains("KVM_SIGNAL_MSI logical dest ") }.count
        let irqLine = lines.filter { $0.contains("KVM_IRQ_LINE gsi ") }
        // GSIs 24 and up are the VMM's MSI routes: every KVM_IRQ_LINE is a kvm_set_irq; a rising one
        // on an MSI route sends the message (kvm_set_msi ignores level 0).
        let routed = irqLine.filter { l in
            l.contains(" level 1") && (l.split(separator: " ").drop { $0 != "gsi" }.dropFirst().first.flatMap { Int($0) }.map { $0 >= 24 } ?? false)
        }.count
        let handled = lines.filter { $0.hasPrefix("# vcpu") }.compactMap { l in
            l.split(separator: " ").drop { $0 != "handled" }.dropFirst().first.flatMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }
        }.reduce(0, +)
        #expect(signalled > 0 && handled > 0)
        let counts = try eventCounts(out)
        #expect(counts["kvm_msi_set_irq"] == signalled + routed)
        #expect(counts["kvm_set_irq"] == irqLine.count)
        #expect(counts["kvm_apic_accept_irq"] == handled)
        // PVM's hypervisor EOIs at delivery and the guest's own EOI is traced too (vector -1):
        // two kvm_eoi per interrupt; VMX/SVM trace the guest's EOI only.
        let info = try irqtrace(["info", out, "--json"]).json()
        let pvm = (info["kvm_flavour"] as? String) == "pvm"
        #expect(counts["kvm_eoi"] == handled * (pvm ? 2 : 1))
        #expect(counts["print", default: 0] > 0, "the VMM's trace_marker lines are in the recording")
        let replay = try irqtrace(["replay", out, "--check"])
        #expect(replay.status == 0, "\(replay.out)")
        #expect(replay.out.contains("divergences: 0"))
        // Host facts in the header.
        let live = try #require(info["live"] as? [String: Any])
        #expect(live["method"] as? String == "tracefs")
        #expect((live["events"] as? [String])?.contains("kvm:kvm_msi_set_irq") == true)
        #expect(live["trace_clock"] as? String == "local")
        #expect(live["kernel_version"] as? String != nil)
        #expect(LiveHost.ourInstances().filter(LiveHost.alive).isEmpty)
        #expect(LiveHost.ourInstances().isEmpty, "the instance is removed after the command ends")
        #expect(LiveHost.globalState() == before, "global tracing state unchanged")
    }

    @Test("SIGKILL mid-recording leaves a readable file; the next recorder removes the dead one's instance")
    func sigkill() throws {
        let before = LiveHost.globalState()
        let out = temporary("live-kill.irqt")
        let binary = root.appendingPathComponent(".build/debug/irqtrace")
        let p = Process()
        p.executableURL = binary
        p.arguments = ["record", "-o", out, "--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8; do \"\(LiveHost.tinyvmm)\" level-storm >/dev/null; done"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Kill it once a chunk is on disk (debug builds decode slowly; give it up to 30 s).
        func size() -> Int { (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0 }
        Thread.sleep(forTimeInterval: 1.0)
        let header = size()
        for _ in 0..<300 where size() <= max(header, 4096) { Thread.sleep(forTimeInterval: 0.1) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(LiveHost.ourInstances().contains("irqtrace-\(p.processIdentifier)"), "a killed recorder cannot clean up")
        let info = try irqtrace(["info", out, "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        let j = try info.json()
        #expect((j["events"] as? Int ?? 0) > 1000, "at least the chunks flushed before the kill are there")
        #expect(info.stderr.contains("footer missing"))
        // The next recording removes the dead recorder's instance.
        let again = try irqtrace(["record", "-o", temporary("live-after.irqt"), "--duration", "0.2"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("removed tracefs instance irqtrace-\(p.processIdentifier)"))
        #expect(LiveHost.ourInstances().isEmpty)
        // Killed workload children may still run; wait for them so later tests see a quiet host.
        _ = try? irqtrace(["record", "-o", temporary("live-wait.irqt"), "--duration", "0.1"])
        #expect(LiveHost.globalState() == before)
    }

    @Test("SIGINT stops cleanly: footer written, instance removed")
    func sigint() throws {
        let out = temporary("live-int.irqt")
        let p = Process()
        p.executableURL = root.appendingPathComponent(".build/debug/irqtrace")
        p.arguments = ["record", "-o", out, "--duration", "30"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Once the instance exists the recorder handles SIGINT.
        for _ in 0..<100 where !LiveHost.ourInstances().contains("irqtrace-\(p.processIdentifier)") { Thread.sleep(forTimeInterval: 0.05) }
        Thread.sleep(forTimeInterval: 0.5)
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let info = try irqtrace(["info", out, "--json"])
        #expect(info.status == 0)
        #expect(!info.stderr.contains("damaged"), "\(info.stderr)")
        let live = try #require(try info.json()["live"] as? [String: Any])
        #expect((live["stop_reason"] as? String)?.hasPrefix("signal") == true)
        #expect(LiveHost.ourInstances().isEmpty)
    }

    @Test("an error after the instance exists still removes it (unwritable output)")
    func errorPath() throws {
        let r = try irqtrace(["record", "-o", "/nonexistent-dir/x.irqt", "--duration", "0.2"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("cannot create"))
        #expect(LiveHost.ourInstances().isEmpty)
        let bad = try irqtrace(["record", "-o", temporary("x.irqt"), "--events", "kvm:no_such_event"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("no event kvm:no_such_event"))
    }

    @Test("flight recorder: --ring keeps about the last SIZE, the file is valid and replays")
    func ring() throws {
        let out = temporary("live-ring.irqt")
        let r = try irqtrace(["record", "-o", out, "--ring", "64K", "--flush-interval", "0.2", "--json", "--", "sh", "-c",
                              "for i in 1 2 3 4; do \"\(LiveHost.tinyvmm)\" level-storm >/dev/null; done"])
        #expect(r.status == 0, "\(r.stderr)")
        let size = (try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        #expect(size > 0 && size < 128 << 10, "about the ring size: \(size) bytes")
        let info = try irqtrace(["info", out, "--json"])
        #expect(info.status == 0 && !info.stderr.contains("damaged"), "\(info.stderr)")
        let live = try #require(try info.json()["live"] as? [String: Any])
        #expect((live["ring_dropped_events"] as? Int ?? 0) > 0, "the window dropped old data")
        let segments = try FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: out).deletingLastPathComponent().path)
            .filter { $0.hasPrefix("live-ring.irqt.seg-") }
        #expect(segments.isEmpty, "segments are joined and removed")
        let replay = try irqtrace(["replay", out])
        #expect(replay.status == 0, "a trace that starts mid-flight replays: \(replay.stderr)")
    }
}
