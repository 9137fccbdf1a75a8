import Analyzer
import Replayer
import TraceFormat

extension Report {
    /// Builds the report of `reader`: counts (one pass), findings (`Analyzer.analyze`), the timeline
    /// (`Timeline.build`) with its activity levels, detail windows and latencies, evidence lines, and
    /// the models' state at the findings' times (one replay per time, at most ``Options/maxStates``).
    /// Sources without model transitions get the summary and counts, with a note.
    public static func build(_ reader: TraceReader, options: Options = Options()) throws -> Report {
        let m = reader.metadata
        let stats = try TraceStats.collect(reader)
        let first = stats.firstTime ?? 0, last = stats.lastTime ?? 0
        var notes: [String] = []

        var analysis: AnalysisReport?
        var timeline: Timeline?
        var divergences: Int?
        var adapter: String?
        if TransitionStream.supports(m) {
            analysis = try Analyzer.analyze(reader)
            timeline = try Timeline.build(reader)
            adapter = analysis?.adapter
            divergences = analysis?.divergences
        } else {
            notes.append("No model transitions for \(m.vocabularySource.rawValue) traces (\(m.arch.rawValue)) yet: the timeline, findings and latency sections are empty. They come from x86 KVM tracepoint traces and QEMU GICv2 logs.")
            if let r = try? Replayer.check(reader) {
                adapter = r.adapter
                divergences = r.divergenceCount
            }
        }

        // Findings: most severe first, then by time, within the budget; listed in time order.
        let all = analysis?.findings ?? []
        let ranked = all.indices.sorted { (all[$0].severity, all[$1].timeNs) > (all[$1].severity, all[$0].timeNs) }
        let kept = Array(ranked.prefix(options.maxFindings)).sorted { (all[$0].timeNs, $0) < (all[$1].timeNs, $1) }
        let keptSet = Set(kept)
        if all.count > kept.count {
            notes.append("\(all.count - kept.count) of \(all.count) findings left out (the most severe \(kept.count) are listed); `irqtrace analyze` lists them all.")
        }
        let wanted = Set(kept.flatMap { all[$0].events.prefix(options.maxEvidence) })
        let lines = try EvidenceLines.lines(reader, wanted)

        // States: at the most severe findings' times (distinct), then at the end of the trace.
        var stateTimes: [Int64] = []
        for k in ranked where keptSet.contains(k) {
            let t = all[k].timeNs + 1
            if !stateTimes.contains(t) { stateTimes.append(t) }
            if stateTimes.count >= options.maxStates { break }
        }
        stateTimes.sort()
        var states: [ModelStateSnapshot] = []
        for t in stateTimes {
            let named = kept.filter { all[$0].timeNs + 1 == t }.map { "#\($0) \(all[$0].kind.rawValue)" }
            let label = "finding" + (named.count == 1 ? " " : "s ") + named.joined(separator: ", ") + ": after the events at its time"
            if let s = try ModelStateSnapshot.take(reader, before: t, label: label) { states.append(s) }
        }
        if let s = try ModelStateSnapshot.take(reader, before: nil, label: "end of trace") { states.append(s) }
        if kept.count > stateTimes.count && !stateTimes.isEmpty {
            notes.append("Model state embedded at \(stateTimes.count) finding times (the most severe findings'); other findings show the nearest earlier one.")
        }

        var entries: [FindingEntry] = []
        for k in kept {
            let f = all[k]
            let stateIndex = states.lastIndex { $0.time <= f.timeNs + 1 }
            entries.append(FindingEntry(index: k, finding: f, evidence: f.events.prefix(options.maxEvidence).compactMap { lines[$0] },
                                        stateIndex: stateIndex))
        }

        var bySeverity: [(Finding.Severity, Int)] = []
        for s in Finding.Severity.allCases.reversed() { bySeverity.append((s, all.filter { $0.severity == s }.count)) }

        let summary = Summary(
            path: reader.path, source: m.vocabularySource.rawValue, recordedAs: m.source.rawValue, arch: m.arch.rawValue,
            kvmFlavour: m.kvmFlavour, simulation: m.simulation.map { "\($0.scenario) (seed \($0.seed), \($0.output))" },
            events: stats.events, typedEvents: stats.typedEvents, firstTime: first, lastTime: last,
            eventCPUs: stats.byCPU.keys.sorted(), modelCPUs: timeline?.cpus ?? [],
            countsByName: stats.byName.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) },
            adapter: adapter, divergences: divergences, findingsBySeverity: bySeverity, damagedEvents: reader.damage.lostEvents,
            vms: analysis?.vmList)
        // The replay's own doubts (VMs that ran concurrently) head the notes.
        notes.insert(contentsOf: analysis?.warnings ?? [], at: 0)

        var report = Report(summary: summary, options: options)
        report.findings = entries
        report.findingsLeftOut = all.count - kept.count
        report.states = states
        report.notes = notes
        if let timeline {
            let start = min(first, timeline.firstTime), end = max(last, timeline.lastTime)
            // No finer than the items need: a small trace gets 256 buckets, not thousands of empty ones.
            let items = timeline.slices.count + timeline.instants.count + timeline.flows.count
            report.activity = ActivityLevels.build(timeline, start: start, end: end, finestBuckets: min(options.finestBuckets, max(256, items)))
            let findingTimes = ranked.filter { keptSet.contains($0) }.map { all[$0].timeNs }
            report.windows = DetailWindow.select(timeline, start: start, end: end, findingTimes: findingTimes, budget: options.detailBudget, around: options.itemsAroundFinding)
            let total = timeline.slices.count + timeline.instants.count + timeline.flows.count
            if report.windows.first?.reason != "all" {
                let embedded = report.windows.reduce(0) { $0 + $1.itemCount }
                report.notes.append("The timeline has \(total) items; \(embedded) are embedded in \(report.windows.count) detail windows (\(kept.isEmpty ? "samples across the trace" : "around findings, then samples")). Elsewhere the timeline shows per-bucket summaries at every zoom.")
            }
            report.latency = LatencyRow.rows(timeline)
        }
        return report
    }
}
