import Foundation
import Testing

@Suite("replay --snapshots, --from and --state-at through the sidecar", .serialized)
struct SnapshotCLITests {
    @Test("a window and a state from the sidecar print what the replay from the first event prints")
    func sameOutput() throws {
        let trace = temporary("snap-\(UUID().uuidString).irqt")
        defer { try? FileManager.default.removeItem(atPath: trace); try? FileManager.default.removeItem(atPath: trace + ".snapshots") }
        let input = root.appendingPathComponent("traces/kvm/pvm-ioapic-level.trace.txt").path
        #expect(try irqtrace(["record", "--chunk-size", "4096", input, "-o", trace]).status == 0)
        let full = try irqtrace(["replay", trace, "--check", "--snapshot-every", "1"])
        #expect(full.status == 0)
        #expect(full.stderr.contains("snapshots") && full.stderr.contains(trace + ".snapshots"), "\(full.stderr)")
        #expect(FileManager.default.fileExists(atPath: trace + ".snapshots"))
        for t in ["+5ms", "+12ms", "+20ms", "+26ms"] {
            for args in [["--check", "--from", t, "--json"], ["--check", "--from", t, "--to", "+28ms"], ["--state-at", t, "--json"], ["--state-at", t]] {
                let a = try irqtrace(["replay", trace] + args)
                let b = try irqtrace(["replay", trace] + args + ["--no-snapshots"])
                #expect(a.status == b.status && a.out == b.out, "\(args)")
                #expect(a.stderr.isEmpty, "\(args): \(a.stderr)")
            }
        }
        // A damaged sidecar: the same output, and a note.
        let sidecar = try Data(contentsOf: URL(fileURLWithPath: trace + ".snapshots"))
        try sidecar.prefix(sidecar.count - 3).write(to: URL(fileURLWithPath: trace + ".snapshots"))
        let a = try irqtrace(["replay", trace, "--check", "--from", "+20ms", "--json"])
        let b = try irqtrace(["replay", trace, "--check", "--from", "+20ms", "--json", "--no-snapshots"])
        #expect(a.out == b.out)
        #expect(a.stderr.contains("ignoring damaged snapshots"), "\(a.stderr)")
    }
}
