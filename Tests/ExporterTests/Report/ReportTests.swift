import Foundation
import Testing
@testable import Exporter
import Analyzer
import Recorder
import Replayer
import TraceFormat

@Suite("HTML report data")
struct ReportTests {
    @Test("real KVM fault recording: every finding listed with its evidence lines as the source printed them, and the state at its time")
    func kvmFindings() throws {
        let (reader, _) = try Recorder.open(sample("traces/kvm/pvm-idt-fault.trace.txt"))
        let analysis = try Analyzer.analyze(reader)
        let report = try Report.build(reader)
        #expect(report.findings.count == analysis.findings.count && !report.findings.isEmpty)
        #expect(report.summary.findingsBySeverity.reduce(0) { $0 + $1.count } == analysis.findings.count)
        #expect(report.summary.divergences == analysis.divergences)
        let text = try String(contentsOfFile: sample("traces/kvm/pvm-idt-fault.trace.txt"), encoding: .utf8)
        let sourceLines = Set(text.split(separator: "\n").map(String.init))
        for e in report.findings {
            #expect(e.evidence.map(\.event) == Array(e.finding.events.prefix(report.options.maxEvidence)))
            #expect(e.evidence.allSatisfy { sourceLines.contains($0.line) }, "evidence lines are the source's own lines")
            #expect(e.stateIndex != nil)
        }
        // The stuck vector is in service at its CPU in the state embedded at the finding's time, as
        // Replayer.run(until:) says.
        let stuck = try #require(report.findings.first { $0.finding.kind == .stuckInService })
        let state = report.states[try #require(stuck.stateIndex)]
        let cpu = try #require(state.cpus.first { $0.cpu == stuck.finding.cpu })
        let vector = try #require(stuck.finding.vector)
        #expect(cpu.activeName == "ISR" && cpu.active.contains(vector))
        let (_, machine) = try Replayer.run(reader, until: stuck.finding.timeNs + 1)
        let apic = try #require(machine.apics.first { Int($0.id) == stuck.finding.cpu })
        #expect(cpu.active == apic.isr.vectors.map(Int.init) && cpu.pending == apic.irr.vectors.map(Int.init))
        #expect(report.states.last?.label == "end of trace")
    }

    /// A host trace of several VMs: the summary counts them, each finding names its VM, and the
    /// replay's warning (concurrent VMs) heads the notes.
    @Test("several VMs: summary, each finding's VM, the concurrency warning")
    func severalVMs() throws {
        let (reader, _) = try Recorder.open(sample("traces/kvm-multi/pvm-concurrent-then-sequential.trace.txt"))
        let report = try Report.build(reader)
        #expect(report.summary.vms?.count == 3)
        #expect(report.notes.first?.contains("VMs ran concurrently") == true)
        #expect(report.findings.allSatisfy { $0.finding.vm != nil })
        let json = report.json().serialized()
        #expect(json.contains("\"vms\":\"3, one after another (1: concurrent VMs sharing one set of models)\""))
        #expect(json.contains("\"vm\":\"VM 3 (vCPU threads "))
    }

    @Test("latencies agree with stats --latency on an x86 KVM trace")
    func latencyAgrees() throws {
        let (reader, _) = try Recorder.open(sample("traces/kvm/pvm-idt-fault.trace.txt"))
        let report = try Report.build(reader)
        let reference = try Latency.measure(reader)
        for e in reference.entries {
            let row = report.latency.first { $0.cpu == e.cpu && $0.vector == e.vector }
            #expect(row?.raiseToAccept.histogram.count ?? 0 == e.raiseToAccept.count)
            #expect(row?.acceptToDeliver.histogram.count ?? 0 == e.acceptToDeliver.count)
            #expect(row?.deliverToEOI.histogram.count ?? 0 == e.deliverToEOI.count)
        }
        #expect(report.latency.allSatisfy { r in r.deliverToEOI.bins.reduce(0, +) == Int(r.deliverToEOI.histogram.count) })
    }

    @Test("QEMU GICv2 boot: activity levels keep every delivery at every resolution; state has GIC pending/active")
    func gicLevels() throws {
        let (reader, _) = try Recorder.open(sample("traces/qemu-arm64-virt-gicv2-smp2.log.zst"))
        let timeline = try Timeline.build(reader)
        let report = try Report.build(reader)
        let a = try #require(report.activity)
        #expect(a.cpus == [0, 1] && a.levels.count >= 2)
        for (r, cpu) in a.cpus.enumerated() {
            let slices = timeline.slices.filter { $0.kind == .inService && $0.cpu == cpu }.count
            for l in a.levels { #expect(l.tracks[r].delivered.reduce(0, +) == Int32(slices)) }
        }
        for (fine, coarse) in zip(a.levels, a.levels.dropFirst()) {
            #expect(coarse.bucketNs == fine.bucketNs * 4 && coarse.buckets * 4 == fine.buckets)
        }
        #expect(a.levels.allSatisfy { $0.tracks.allSatisfy { $0.inServicePermille.allSatisfy { (0...1000).contains($0) } } })
        #expect(a.levels.last!.tracks.contains { $0.inServicePermille.contains { $0 > 0 } })
        #expect(report.findings.isEmpty && report.summary.divergences == 0)
        let end = try #require(report.states.last)
        #expect(end.cpus.count == 2 && end.cpus[0].pendingName == "pending" && end.cpus[0].registers.contains { $0.name == "PMR" })
        #expect(report.windows.count == 1 && report.windows[0].reason == "all")
        #expect(!report.latency.isEmpty && report.latency.allSatisfy { $0.vector == -1 && $0.irq >= 0 })
    }

    @Test("a small detail budget embeds windows around the findings, within the budget")
    func budget() throws {
        let (reader, _) = try Recorder.open(sample("traces/kvm/pvm-idt-fault.trace.txt"))
        var options = Report.Options()
        options.detailBudget = 12
        options.itemsAroundFinding = 2
        let report = try Report.build(reader, options: options)
        #expect(!report.windows.isEmpty && report.windows.allSatisfy { $0.reason != "all" })
        let first = try #require(report.findings.first)
        #expect(report.windows.contains { $0.start <= first.finding.timeNs && first.finding.timeNs <= $0.end })
        #expect(report.notes.contains { $0.contains("detail windows") })
        for w in report.windows {
            #expect(w.instants.allSatisfy { w.start <= $0.time && $0.time <= w.end })
            #expect(w.slices.allSatisfy { $0.start <= w.end && ($0.end ?? .max) >= w.start })
        }
    }

    @Test("a source without transitions (QEMU x86 log): summary and counts, a note, no timeline")
    func noTransitions() throws {
        let (reader, _) = try Recorder.open(sample("traces/qemu-x86-q35-intremap-smp2.log.zst"))
        let report = try Report.build(reader)
        #expect(report.activity == nil && report.findings.isEmpty && report.windows.isEmpty && report.latency.isEmpty)
        #expect(report.notes.contains { $0.contains("No model transitions") })
        #expect(report.summary.events > 0 && report.summary.countsByName.reduce(0) { $0 + $1.count } == report.summary.events)
        #expect(report.summary.divergences != nil)
        // The IOAPIC / VT-d state is there at the end, though QEMU's log binds no LAPIC to a vCPU here.
        #expect(report.states.count == 1 && report.states[0].detail.contains("IRTE"))
        let page = String(decoding: HTMLReport.render(report), as: UTF8.self)
        #expect(page.contains("No model transitions"))
    }

    @Test("the page is self-contained: no external resource, the data cannot close its script element")
    func selfContained() throws {
        let (reader, _) = try Recorder.open(sample("traces/kvm/pvm-idt-fault.trace.txt"))
        let page = String(decoding: HTMLReport.render(try Report.build(reader)), as: UTF8.self)
        #expect(!page.contains(HTMLReport.placeholder))
        #expect(page.components(separatedBy: "</script>").count == 3, "two script elements, each closed once")
        for external in ["src=", "href=", "http://", "https://", "@import", "url("] { #expect(!page.contains(external), "\(external)") }
        let start = try #require(page.range(of: "type=\"application/json\">")), end = try #require(page.range(of: "</script>", range: start.upperBound..<page.endIndex))
        let json = try JSONSerialization.jsonObject(with: Data(page[start.upperBound..<end.lowerBound].utf8)) as? [String: Any]
        #expect((json?["findings"] as? [Any])?.count == 3)
    }
}
