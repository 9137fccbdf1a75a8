import Foundation
import Testing
@testable import Recorder
@testable import Replayer
import Simulator
import TraceFormat

/// Windows (`--from/--to`) and `--state-at` started from a stored snapshot must report exactly what
/// the replay from the first event reports: the same divergences, counts and digest.
@Suite("Replay snapshots (sidecar) for windows and --state-at")
struct SnapshotReplayTests {
    /// A fresh sidecar path in the temporary directory.
    static func sidecarPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-snap-\(UUID().uuidString).snapshots").path
    }

    static func simulated(_ scenario: String, events: Int, chunkSize: Int = 64 << 10) throws -> TraceReader {
        let o = Simulator.Options(scenario: BuiltinScenarios.named(scenario)!, faults: [], seed: 1, events: events, durationNs: nil,
                                  level: 3, chunkSize: chunkSize)
        let out = OutputFile()
        _ = try Simulator.run(o, to: out)
        return try TraceReader(data: Data(out.memory))
    }

    /// Window starts over the whole trace: each chunk's first time (a snapshot boundary), just after
    /// it, and halfway through the chunk; at most `limit` of them, evenly spread.
    static func starts(_ reader: TraceReader, limit: Int) throws -> [Int64] {
        var times: [Int64] = []
        for k in reader.chunks.indices where reader.chunks[k].isIntact {
            let b = try reader.decodeChunk(k)
            guard let first = b.times.first else { continue }
            times += [first, first + 1, b.times[b.count / 2]]
        }
        times = Array(Set(times)).sorted()
        guard times.count > limit else { return times }
        return (0..<limit).map { times[$0 * (times.count - 1) / max(1, limit - 1)] }
    }

    static func json(_ r: ReplayReport) -> String { r.json().serialized(pretty: false) }

    /// Writes the sidecar with a snapshot after every `every` chunks, then checks windows and
    /// states from many starts against the replay from the first event. Returns the windows that
    /// started from a snapshot.
    @discardableResult
    static func expectSnapshotsAgree(_ reader: TraceReader, every: Int = 1, limit: Int = 24, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let path = sidecarPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var notes: [String] = []
        let options = SnapshotOptions(read: true, write: true, every: every, path: path)
        let full = try Replayer.check(reader, snapshots: options, note: { notes.append($0) })
        #expect(json(full) == json(try Replayer.check(reader)), "writing snapshots changes nothing", sourceLocation: sourceLocation)
        #expect(notes.contains { $0.hasPrefix("wrote ") }, "\(notes)", sourceLocation: sourceLocation)
        let read = SnapshotOptions(read: true, write: false, path: path)
        var resumed = 0
        let times = try starts(reader, limit: limit)
        #expect(times.count >= 3, sourceLocation: sourceLocation)
        for (n, t) in times.enumerated() {
            var kvm = false
            if reader.metadata.vocabularySource == .qemuLog && reader.metadata.arch == .x86_64 {
                if let r = ReplaySnapshots.restore(reader, QEMUX86Adapter.self, kind: { _ in true }, before: t, read, note: { notes.append($0) }), r.resumeEvent > 0 {
                    resumed += 1
                }
            } else if reader.metadata.arch == .x86_64 {
                kvm = true
                if let r = ReplaySnapshots.restore(reader, KVMX86Adapter.self, kind: { _ in true }, before: t, read, note: { notes.append($0) }), r.resumeEvent > 0 {
                    resumed += 1
                }
            } else if let r = ReplaySnapshots.restore(reader, QEMUGICAdapter.self, kind: { _ in true }, before: t, read, note: { notes.append($0) }), r.resumeEvent > 0 {
                resumed += 1
            }
            // --from T, and --from T --to T' (a later start, so windows of several sizes).
            let to = times[min(times.count - 1, n + 3)]
            for end in [nil, to] {
                let a = try Replayer.check(reader, from: t, to: end, snapshots: read)
                let b = try Replayer.check(reader, from: t, to: end, snapshots: .none)
                #expect(json(a) == json(b), "window from \(t) to \(String(describing: end))", sourceLocation: sourceLocation)
            }
            // --state-at T: the models, the event count and the digest.
            let s = try Replayer.run(reader, until: t, snapshots: read)
            let f = try Replayer.run(reader, until: t, snapshots: .none)
            #expect(s.machine == f.machine && s.report.events == f.report.events && s.report.digest == f.report.digest,
                    "state at \(t) (kvm: \(kvm))", sourceLocation: sourceLocation)
        }
        #expect(!notes.contains { $0.hasPrefix("ignoring") }, "\(notes)", sourceLocation: sourceLocation)
        // (starts in the first `every` chunks have no snapshot before them)
        #expect(resumed >= times.count / 4, "\(resumed) of \(times.count) windows started from a snapshot", sourceLocation: sourceLocation)
        return resumed
    }

    static let kvmSamples = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("traces/kvm").path)) ?? [])
        .filter { $0.hasSuffix(".trace.txt") }.sorted().map { root.appendingPathComponent("traces/kvm/" + $0).path }

    /// VMs one after another (the models reset at each VM's start, the plan in every snapshot) and a
    /// period of concurrent VMs: a window from a snapshot inside any VM agrees with a replay from the start.
    @Test("several VMs in one trace, in 4 KB chunks: windows and states from snapshots = from the first event")
    func severalVMs() throws {
        let multi = root.appendingPathComponent("traces/kvm-multi/pvm-concurrent-then-sequential.trace.txt").path
        try Self.expectSnapshotsAgree(try Recorder.open(multi, options: RecordOptions(chunkSize: 4096)).0, every: 1, limit: 24)
        var joined: [UInt8] = []
        for s in ["idt-fault", "misroute", "halt-tpr"] {
            let text = try String(contentsOfFile: root.appendingPathComponent("traces/kvm/pvm-\(s).trace.txt").path, encoding: .utf8)
            joined += Array(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n").utf8) + [0x0A]
        }
        let (reader, _) = try Recorder.open(bytes: joined, name: "three-vms.trace.txt", options: RecordOptions(chunkSize: 4096))
        #expect(try Replayer.check(reader).vmCount == 3)
        try Self.expectSnapshotsAgree(reader, every: 1, limit: 24)
    }

    @Test("KVM x86 (kvm_pvm) recordings in 4 KB chunks: windows and states from snapshots = from the first event", arguments: kvmSamples)
    func kvmRecordings(path: String) throws {
        // (pvm-level-storm is 3.6 MB of text: fewer starts, a snapshot every 8 chunks)
        let big = path.contains("storm")
        let (reader, _) = try Recorder.open(path, options: RecordOptions(chunkSize: 4096))
        #expect(reader.chunks.count >= 2)
        try Self.expectSnapshotsAgree(reader, every: big ? 8 : 1, limit: big ? 8 : 24)
    }

    @Test("KVM x86 VMX (constructed trace, 1 KB chunks)")
    func vmxConstructed() throws {
        let bytes = Array(fixtureLines("vmx-constructed.trace.txt").joined(separator: "\n").utf8) + [10]
        let (reader, _) = try Recorder.open(bytes: bytes, name: "vmx.trace.txt", options: RecordOptions(chunkSize: 1024))
        #expect(reader.chunks.count >= 3)
        #expect(try Replayer.check(reader).adapter == "kvm-vmx")
        try Self.expectSnapshotsAgree(reader)
    }

    static let gicSamples = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("traces").path)) ?? [])
        .filter { $0.hasPrefix("qemu-arm64-") && $0.hasSuffix(".log.zst") }.sorted().map { root.appendingPathComponent("traces/" + $0).path }

    @Test("QEMU GICv2 logs in 16 KB chunks: windows and states from snapshots = from the first event", arguments: gicSamples)
    func gicRecordings(path: String) throws {
        let (reader, _) = try Recorder.open(path, options: RecordOptions(chunkSize: 16 << 10))
        #expect(reader.chunks.count >= 4)
        #expect(try Replayer.check(reader).adapter == "qemu-gicv2")
        try Self.expectSnapshotsAgree(reader, every: 1, limit: 12)
    }

    static let qemuX86Samples = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("traces").path)) ?? [])
        .filter { $0.hasPrefix("qemu-x86-") && $0.hasSuffix(".log.zst") && !$0.contains("notimestamp") }.sorted()
        .map { root.appendingPathComponent("traces/" + $0).path }

    @Test("QEMU x86 logs in 16 KB chunks (VT-d, AMD-Vi, 8259, multi-threaded TCG's thread binding): windows and states from snapshots = from the first event",
          arguments: qemuX86Samples)
    func qemuX86Recordings(path: String) throws {
        let (reader, _) = try Recorder.open(path, options: RecordOptions(chunkSize: 16 << 10))
        #expect(reader.chunks.count >= 4)
        #expect(try Replayer.check(reader).adapter == "qemu-x86")
        try Self.expectSnapshotsAgree(reader, every: 1, limit: 10)
    }

    @Test("simulated x86-virtio (200 000 events) and x86-posted (VMX, APICv): windows from snapshots = from the first event")
    func simulatedX86() throws {
        try Self.expectSnapshotsAgree(try Self.simulated("x86-virtio", events: 200_000), every: 2, limit: 8)
        let posted = try Self.simulated("x86-posted", events: 40_000, chunkSize: 16 << 10)
        #expect(try Replayer.check(posted).adapter == "kvm-vmx")
        try Self.expectSnapshotsAgree(posted, limit: 8)
    }

    @Test("simulated x86-q35-intremap (QEMU x86 with VT-d): windows from snapshots = from the first event")
    func simulatedQEMUX86() throws {
        let reader = try Self.simulated("x86-q35-intremap", events: 60_000, chunkSize: 16 << 10)
        #expect(try Replayer.check(reader).adapter == "qemu-x86")
        try Self.expectSnapshotsAgree(reader, every: 2, limit: 8)
    }

    @Test("simulated x86-q35-vfio with msix-unmask-lost (VFIO MSI-X tables, open sends): windows from snapshots = from the first event")
    func simulatedVFIO() throws {
        let o = Simulator.Options(scenario: BuiltinScenarios.named("x86-q35-vfio")!, faults: [try FaultRequest(parsing: "msix-unmask-lost:at=20ms")],
                                  seed: 3, events: 40_000, durationNs: nil, level: 3, chunkSize: 16 << 10)
        let out = OutputFile()
        _ = try Simulator.run(o, to: out)
        let reader = try TraceReader(data: Data(out.memory))
        #expect(try Replayer.check(reader).divergences.count == 1)
        try Self.expectSnapshotsAgree(reader, every: 2, limit: 8)
    }

    @Test("simulated arm-gicv2: windows from snapshots = from the first event")
    func simulatedGIC() throws {
        try Self.expectSnapshotsAgree(try Self.simulated("arm-gicv2", events: 60_000, chunkSize: 16 << 10), every: 2, limit: 8)
    }

    @Test("a simulated trace with faults: divergences inside and before windows are the same")
    func withDivergences() throws {
        let o = Simulator.Options(scenario: BuiltinScenarios.named("x86-legacy")!, faults: [try FaultRequest(parsing: "eoi-wrong-pin:at=5ms")],
                                  seed: 3, events: 30_000, durationNs: nil, level: 3, chunkSize: 8 << 10)
        let out = OutputFile()
        _ = try Simulator.run(o, to: out)
        let reader = try TraceReader(data: Data(out.memory))
        #expect(!(try Replayer.check(reader).divergences.isEmpty))
        try Self.expectSnapshotsAgree(reader, limit: 12)
    }

    // MARK: sidecars not to be trusted

    /// A sidecar written for `reader`, and a window start past most of its snapshots.
    static func sidecar(_ reader: TraceReader) throws -> (path: String, start: Int64) {
        let path = sidecarPath()
        _ = try Replayer.check(reader, snapshots: SnapshotOptions(read: false, write: true, every: 1, path: path))
        let t = try starts(reader, limit: 100)
        return (path, t[t.count * 3 / 4])
    }

    static func kvmReader() throws -> TraceReader {
        try Recorder.open(kvmSamples.first { $0.hasSuffix("pvm-msi.trace.txt") }!, options: RecordOptions(chunkSize: 4096)).0
    }

    /// The window from `start` with the sidecar at `path`: the notes, and whether it equals the replay from the first event.
    static func window(_ reader: TraceReader, _ path: String, _ start: Int64) throws -> (notes: [String], same: Bool, resumed: Bool) {
        var notes: [String] = []
        let read = SnapshotOptions(read: true, write: false, path: path)
        let a = try Replayer.check(reader, from: start, to: nil, snapshots: read, note: { notes.append($0) })
        let b = try Replayer.check(reader, from: start, to: nil, snapshots: .none)
        let resumed = ReplaySnapshots.restore(reader, KVMX86Adapter.self, kind: { _ in true }, before: start, read, note: { _ in }) != nil
        return (notes, json(a) == json(b), resumed)
    }

    @Test("an intact sidecar is used")
    func intactIsUsed() throws {
        let reader = try Self.kvmReader()
        let (path, start) = try Self.sidecar(reader)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try Self.window(reader, path, start)
        #expect(w.same && w.resumed && w.notes.isEmpty, "\(w.notes)")
    }

    @Test("a corrupted sidecar (any snapshot byte flipped) is ignored with a note")
    func corrupted() throws {
        let reader = try Self.kvmReader()
        let (path, start) = try Self.sidecar(reader)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // Every 7th byte past the header: a payload byte, a length, a checksum or a marker.
        var tried = 0
        for k in stride(from: 40, to: original.count, by: 7) {
            var bytes = original
            bytes[k] ^= 0x5A
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let w = try Self.window(reader, path, start)
            #expect(w.same, "byte \(k) flipped")
            // A flip in a snapshot the window does not use may go unnoticed, never a wrong result.
            if !w.resumed { #expect(w.notes.contains { $0.contains("ignoring damaged snapshots") }, "byte \(k): \(w.notes)") }
            tried += 1
        }
        #expect(tried > 20)
    }

    @Test("a truncated sidecar is ignored with a note")
    func truncated() throws {
        let reader = try Self.kvmReader()
        let (path, start) = try Self.sidecar(reader)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for cut in [0, 4, 8, 30, original.count / 2, original.count - 1] {
            try Data(original.prefix(cut)).write(to: URL(fileURLWithPath: path))
            let w = try Self.window(reader, path, start)
            #expect(w.same && !w.resumed, "cut at \(cut)")
            #expect(w.notes.contains { $0.contains("ignoring damaged snapshots") }, "cut at \(cut): \(w.notes)")
        }
    }

    @Test("the sidecar of another trace is ignored with a note")
    func foreign() throws {
        let reader = try Self.kvmReader()
        let other = try Recorder.open(Self.kvmSamples.first { $0.hasSuffix("pvm-ipi.trace.txt") }!, options: RecordOptions(chunkSize: 4096)).0
        let (path, start) = try Self.sidecar(other)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let w = try Self.window(reader, path, start)
        #expect(w.same && !w.resumed)
        #expect(w.notes.contains { $0.contains("another trace") }, "\(w.notes)")
        // The same trace in other chunks is another trace too.
        let rechunked = try Recorder.open(Self.kvmSamples.first { $0.hasSuffix("pvm-msi.trace.txt") }!, options: RecordOptions(chunkSize: 8192)).0
        let (path2, start2) = try Self.sidecar(reader)
        defer { try? FileManager.default.removeItem(atPath: path2) }
        let w2 = try Self.window(rechunked, path2, start2)
        #expect(w2.same && !w2.resumed && w2.notes.contains { $0.contains("another trace") })
    }

    @Test("a sidecar written without --mid-flight is not used with it")
    func otherOptions() throws {
        let reader = try Self.kvmReader()
        let (path, start) = try Self.sidecar(reader)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var notes: [String] = []
        let read = SnapshotOptions(read: true, write: false, path: path)
        let a = try Replayer.check(reader, from: start, to: nil, midFlight: true, snapshots: read, note: { notes.append($0) })
        let b = try Replayer.check(reader, from: start, to: nil, midFlight: true, snapshots: .none)
        #expect(Self.json(a) == Self.json(b))
        #expect(notes.contains { $0.contains("not this one") }, "\(notes)")
    }

    @Test("IntMap and IntSet keep their slot layout through Codable")
    func intMapLayout() throws {
        var m = IntMap<Int32, Int>()
        for k in stride(from: Int32(0), to: 500, by: 3) { m[k * 7919] = Int(k) }
        for k in stride(from: Int32(0), to: 500, by: 9) { m[k * 7919] = nil }
        let d = try JSONDecoder().decode(IntMap<Int32, Int>.self, from: try JSONEncoder().encode(m))
        #expect(d.map { $0.key } == m.map { $0.key } && d.map { $0.value } == m.map { $0.value })
        for k in stride(from: Int32(0), to: 500, by: 1) { #expect(d[k * 7919] == m[k * 7919]) }
        var s = IntSet<UInt64>()
        for k in 0..<300 as Range<UInt64> { s.insert(k &* 0x9E37) }
        let e = try JSONDecoder().decode(IntSet<UInt64>.self, from: try JSONEncoder().encode(s))
        #expect(Array(e) == Array(s))
        // A layout whose keys are off their probe runs is refused.
        var json = String(decoding: try JSONEncoder().encode(m), as: UTF8.self)
        json = json.replacingOccurrences(of: "\"n\":512", with: "\"n\":1024")
        #expect(throws: (any Error).self) { try JSONDecoder().decode(IntMap<Int32, Int>.self, from: Data(json.utf8)) }
    }
}
