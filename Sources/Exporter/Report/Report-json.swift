import Analyzer
import Replayer
import TraceFormat

extension Report {
    /// The data the page draws (docs/REPORT.md). Times are ns from `summary.first_time_ns`; timeline
    /// items are arrays (slices `[cpu, kind, start, end|-1, vector, irq, startEvent]`, instants
    /// `[cpu, kind, time, vector, irq, event]`, flows `[cpu, vector, irq, from, to]`) to keep it small.
    public func json() -> JSONValue {
        let t0 = summary.firstTime
        func ints<S: Sequence>(_ a: S) -> JSONValue where S.Element: BinaryInteger { .array(a.map { .int(Int64($0)) }) }
        func opt(_ v: Int?) -> JSONValue { v.map { .int($0) } ?? .null }

        let s = summary
        let summaryJSON: JSONValue = .object([
            ("path", .string(s.path)), ("source", .string(s.source)), ("recorded_as", .string(s.recordedAs)), ("arch", .string(s.arch)),
            ("kvm_flavour", s.kvmFlavour.map { .string($0) } ?? .null), ("simulation", s.simulation.map { .string($0) } ?? .null),
            ("events", .int(s.events)), ("typed_events", .int(s.typedEvents)),
            ("first_time_ns", .int(s.firstTime)), ("last_time_ns", .int(s.lastTime)),
            ("event_cpus", ints(s.eventCPUs)), ("model_cpus", ints(s.modelCPUs)),
            ("counts_by_name", .array(s.countsByName.map { .array([.string($0.name), .int($0.count)]) })),
            ("adapter", s.adapter.map { .string($0) } ?? .null), ("divergences", opt(s.divergences)),
            ("findings_by_severity", .object(s.findingsBySeverity.map { ($0.severity.rawValue, .int($0.count)) })),
            ("damaged_events", .int(s.damagedEvents)),
            ("vms", s.vms.map { .string(VMInfo.summary($0)) } ?? .null),
        ])

        var activityJSON: JSONValue = .null
        if let a = activity {
            activityJSON = .object([
                ("cpus", ints(a.cpus)), ("start", .int(a.start - t0)),
                ("levels", .array(a.levels.map { l in
                    .object([("bucket_ns", .int(l.bucketNs)), ("buckets", .int(l.buckets)),
                             ("tracks", .array(l.tracks.map { t in
                                 .object([("in_service", ints(t.inServicePermille)), ("halted", ints(t.haltedPermille)),
                                          ("delivered", ints(t.delivered)), ("accepted", ints(t.accepted)), ("anomalies", ints(t.anomalies))])
                             }))])
                })),
            ])
        }

        let kinds = Transition.Kind.allCases
        var kindIndex: [Transition.Kind: Int] = [:]
        for (k, x) in kinds.enumerated() { kindIndex[x] = k }
        let windowsJSON: JSONValue = .array(windows.map { w in
            .object([
                ("start", .int(w.start - t0)), ("end", .int(w.end - t0)), ("reason", .string(w.reason)),
                ("slices", .array(w.slices.map { x in
                    .array([.int(Int64(x.cpu)), .int(x.kind == .inService ? 0 : 1), .int(x.start - t0), .int(x.end.map { $0 - t0 } ?? -1),
                            .int(Int64(x.vector)), .int(Int64(x.irq)), .int(x.startEvent)])
                })),
                ("instants", .array(w.instants.map { x in
                    .array([.int(Int64(x.cpu)), .int(kindIndex[x.kind]!), .int(x.time - t0), .int(Int64(x.vector)), .int(Int64(x.irq)), .int(x.event)])
                })),
                ("flows", .array(w.flows.map { x in
                    .array([.int(Int64(x.cpu)), .int(Int64(x.vector)), .int(Int64(x.irq)), .int(x.fromTime - t0), .int(x.toTime - t0)])
                })),
            ])
        })

        let findingsJSON: JSONValue = .array(findings.map { e in
            let f = e.finding
            return .object([
                ("index", .int(e.index)), ("kind", .string(f.kind.rawValue)), ("severity", .string(f.severity.rawValue)),
                ("time", .int(f.timeNs - t0)), ("cpu", opt(f.cpu)), ("dest", opt(f.dest)), ("vector", opt(f.vector)), ("irq", opt(f.irq)),
                ("explanation", .string(f.explanation)), ("caused_by", opt(f.causedBy)), ("events", ints(f.events)),
                ("vm", f.vm.flatMap { v in summary.vms.flatMap { v >= 1 && v <= $0.count ? .string($0[v - 1].label) : nil } } ?? .null),
                ("evidence", .array(e.evidence.map { .array([.int($0.event), .int($0.time - t0), .string($0.line)]) })),
                ("state", opt(e.stateIndex)),
            ])
        })

        let statesJSON: JSONValue = .array(states.map { st in
            .object([
                ("time", st.time == Int64.max ? .null : .int(st.time - t0)), ("label", .string(st.label)), ("events", .int(st.events)),
                ("cpus", .array(st.cpus.map { c in
                    .object([("cpu", .int(c.cpu)), ("pending_name", .string(c.pendingName)), ("pending", ints(c.pending)),
                             ("active_name", .string(c.activeName)), ("active", ints(c.active)),
                             ("registers", .array(c.registers.map { .array([.string($0.name), .string($0.value)]) }))])
                })),
                ("detail", .string(st.detail)),
            ])
        })

        func stage(_ x: LatencyRow.Stage) -> JSONValue {
            let h = x.histogram
            let lastBin = x.bins.lastIndex { $0 > 0 } ?? -1
            return .object([("count", .int(Int(h.count))), ("p50", .int(h.percentile(0.5))), ("p90", .int(h.percentile(0.9))),
                            ("p99", .int(h.percentile(0.99))), ("max", .int(h.count == 0 ? 0 : h.max)), ("mean", .int(Int64(h.mean.rounded()))),
                            ("bins", ints(x.bins.prefix(lastBin + 1)))])
        }
        let latencyJSON: JSONValue = .array(latency.map { r in
            .object([("cpu", .int(r.cpu)), ("vector", .int(r.vector)), ("irq", .int(r.irq)),
                     ("raise_to_accept", stage(r.raiseToAccept)), ("accept_to_deliver", stage(r.acceptToDeliver)),
                     ("deliver_to_eoi", stage(r.deliverToEOI))])
        })

        return .object([
            ("generator", .string(generator)),
            ("summary", summaryJSON), ("notes", .array(notes.map { .string($0) })),
            ("instant_kinds", .array(kinds.map { .string("\($0)") })),
            ("activity", activityJSON), ("windows", windowsJSON),
            ("findings", findingsJSON), ("findings_left_out", .int(findingsLeftOut)),
            ("states", statesJSON), ("latency", latencyJSON),
            ("limits", .object([("detail_budget", .int(options.detailBudget)), ("items_around_finding", .int(options.itemsAroundFinding)),
                                ("finest_buckets", .int(options.finestBuckets)), ("max_findings", .int(options.maxFindings)),
                                ("max_evidence", .int(options.maxEvidence)), ("max_states", .int(options.maxStates))])),
        ])
    }
}
