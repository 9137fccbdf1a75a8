import Foundation
import Testing
@testable import Exporter
import Analyzer
import Recorder
import TraceFormat

func exported(_ path: String, _ write: (TraceReader, OutputFile) throws -> Void) throws -> (TraceReader, Data) {
    let (reader, _) = try Recorder.open(path)
    let out = OutputFile()
    try write(reader, out)
    try out.commit()
    return (reader, Data(out.memory))
}

@Suite("Perfetto (Chrome trace-event JSON) and JSON Lines exports")
struct PerfettoJSONLinesTests {
    /// The structure ui.perfetto.dev and chrome://tracing need: named tracks, complete events with
    /// non-negative durations, instants with a scope, flows paired by id, times in µs.
    func validate(_ data: Data) throws -> [[String: Any]] {
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(root["displayTimeUnit"] as? String == "ns")
        let events = try #require(root["traceEvents"] as? [[String: Any]])
        var named = Set<String>()
        for e in events where e["ph"] as? String == "M" && e["name"] as? String == "thread_name" {
            named.insert("\(e["pid"]!)/\(e["tid"]!)")
        }
        var flowStarts: [Int: Double] = [:], flowEnds: [Int: Double] = [:]
        for e in events {
            let ph = try #require(e["ph"] as? String)
            #expect(["M", "X", "i", "s", "f"].contains(ph))
            guard ph != "M" else { continue }
            let ts = try #require(e["ts"] as? Double)
            #expect(ts >= 0)
            #expect(e["pid"] is Int && e["tid"] is Int)
            if ph != "i" || e["s"] as? String == "t" { #expect(named.contains("\(e["pid"]!)/\(e["tid"]!)"), "track \(e["pid"]!)/\(e["tid"]!) has a name") }
            switch ph {
            case "X": #expect((e["dur"] as? Double ?? -1) >= 0); #expect(e["name"] is String)
            case "i": #expect(["t", "g", "p"].contains(e["s"] as? String ?? ""))
            case "s": flowStarts[e["id"] as! Int] = ts
            case "f": flowEnds[e["id"] as! Int] = ts; #expect(e["bp"] as? String == "e")
            default: break
            }
        }
        #expect(flowStarts.keys.sorted() == flowEnds.keys.sorted(), "every flow starts and ends")
        for (id, s) in flowStarts { #expect(flowEnds[id]! >= s) }
        return events
    }

    @Test("a host trace of several VMs: a global instant at each VM's start, valid structure")
    func severalVMs() throws {
        let (reader, data) = try exported(sample("traces/kvm-multi/pvm-concurrent-then-sequential.trace.txt")) { try PerfettoExport.write($0, to: $1) }
        let events = try validate(data)
        let starts = events.filter { $0["cat"] as? String == "vm" }
        let list = try #require(try Analyzer.analyze(reader).vmList)
        #expect(starts.count == list.count - 1)
        #expect(starts.allSatisfy { $0["ph"] as? String == "i" && $0["s"] as? String == "g" })
        #expect(starts.compactMap { ($0["args"] as? [String: Any])?["event"] as? Int } == list.dropFirst().map(\.firstEvent))
    }

    @Test("QEMU GICv2 boot: a slice per acknowledged interrupt on its vCPU track, flows, valid structure")
    func gic() throws {
        let (reader, data) = try exported(sample("traces/qemu-arm64-virt-gicv2-smp2.log.zst")) { try PerfettoExport.write($0, to: $1) }
        let events = try validate(data)
        let tl = try Timeline.build(reader)
        let slices = events.filter { $0["ph"] as? String == "X" && $0["cat"] as? String == "in_service" }
        #expect(slices.count == tl.slices.filter { $0.kind == .inService }.count && !slices.isEmpty)
        #expect(Set(slices.compactMap { $0["tid"] as? Int }) == [1, 2], "vCPU 0 and 1 tracks")
        #expect(events.contains { $0["ph"] as? String == "s" })
        #expect(!events.contains { $0["cat"] as? String == "finding" }, "a clean boot has no findings")
    }

    @Test("real KVM fault recording: the stuck vector's open slice and the findings are in the JSON")
    func kvmFault() throws {
        let (_, data) = try exported(sample("traces/kvm/pvm-idt-fault.trace.txt")) { try PerfettoExport.write($0, to: $1) }
        let events = try validate(data)
        let open = events.filter { ($0["args"] as? [String: Any])?["open"] as? Bool == true }
        #expect(open.contains { $0["name"] as? String == "vector 0x58" })
        let findings = events.filter { $0["cat"] as? String == "finding" }
        #expect(findings.contains { $0["name"] as? String == "error: stuck_in_service" })
    }

    @Test("sources without transitions (QEMU x86 logs): every event an instant on its track, valid structure")
    func rawEvents() throws {
        let (reader, data) = try exported(sample("traces/qemu-x86-pc-smp2.log.zst")) { try PerfettoExport.write($0, to: $1) }
        let events = try validate(data)
        #expect(events.filter { $0["ph"] as? String == "i" }.count == reader.eventCount)
        #expect(events.contains { ($0["args"] as? [String: Any])?["vector"] is Int })
    }

    @Test("JSON Lines: one object per event with typed fields and the source line, then the findings")
    func jsonl() throws {
        let path = sample("traces/kvm/pvm-idt-fault.trace.txt")
        let (reader, data) = try exported(path) { try JSONLinesExport.write($0, to: $1) }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let events = objects.filter { $0["type"] as? String == "event" }
        #expect(events.count == reader.eventCount)
        #expect(events.enumerated().allSatisfy { $0.element["index"] as? Int == $0.offset })
        // The line is the source's own text, byte for byte.
        let original = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(events.map { $0["line"] as? String ?? "" } == original.map(String.init))
        let eoi = try #require(events.first { $0["name"] as? String == "kvm_eoi" })
        #expect(eoi["vector"] is Int && (eoi["fields"] as? [String: Any])?["apicid"] is Int)
        let findings = objects.filter { $0["type"] as? String == "finding" }
        #expect(findings.contains { $0["kind"] as? String == "stuck_in_service" && $0["vector"] as? Int == 88 })
    }
}
