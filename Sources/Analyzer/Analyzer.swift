import Replayer
import TraceFormat

/// `irqtrace analyze`: replays a trace with transitions recorded and runs the detectors over them and
/// over the models' final state.
public enum Analyzer {
    public struct Options: Sendable {
        /// Only these kinds (nil: all).
        public var only: Set<Finding.Kind>?
        public var minSeverity: Finding.Severity
        public init(only: Set<Finding.Kind>? = nil, minSeverity: Finding.Severity = .info) {
            self.only = only
            self.minSeverity = minSeverity
        }
    }

    public static func analyze(_ reader: TraceReader, options: Options = Options()) throws -> AnalysisReport {
        let m = reader.metadata
        switch (m.vocabularySource, m.arch) {
        case (.ftraceText, .x86_64), (.traceCmdReport, .x86_64), (.perfScript, .x86_64), (.traceDat, .x86_64):
            // One pass when the first chunk binds every thread (as `replay --check`); otherwise over
            // again, with fresh detectors, after the bindings' first pass.
            func run(singlePass: Bool) throws -> AnalysisReport? {
                // The detectors run on a second thread while the replay goes on (``DetectorThread``),
                // or on this one (IRQTRACE_SINGLE_CORE=1).
                let d = X86DetectorSet()
                let thread = SingleCore.requested ? nil : DetectorThread { d.consume($0) }
                defer { thread?.finish() }
                func hand(_ b: inout TransitionBuffer) { if let thread { thread.submit(&b) } else { d.consume(b) } }
                guard let r = singlePass
                    ? try TransitionReplay.kvmX86SinglePass(reader, what: "analyze", batches: hand)
                    : try TransitionReplay.kvmX86(reader, what: "analyze", batches: hand) else { return nil }
                thread?.finish()
                var s = d.take()
                s.detectors.finish(machine: r.adapter.machine, endTime: r.end)
                var findings = s.detectors.findings + s.flood.finish()
                if let list = r.report.vmList {
                    for k in findings.indices { findings[k].vm = findings[k].events.min().flatMap { VMInfo.of(event: $0, in: list)?.number } }
                }
                return AnalysisReport(adapter: r.report.adapter, events: r.report.events, findings: filter(findings, options),
                                      divergences: r.report.divergenceCount, warnings: r.report.warnings, vmList: r.report.vmList)
            }
            if let report = try run(singlePass: true) { return report }
            return try run(singlePass: false)!
        case (.qemuLog, .x86_64):
            var detectors = QEMUX86Detectors()
            var flood = MSIFloodDetector(options: .init(mergesVisible: false))
            flood.enabled = m.clock != .none && m.clock != .counter
            let r = try TransitionReplay.qemuX86(reader) { detectors.consume($0); flood.consume($0) }
            detectors.finish(ioapic: r.adapter.machine.ioapic, endTime: r.end)
            return AnalysisReport(adapter: r.report.adapter, events: r.report.events, findings: filter(detectors.findings + flood.finish(), options),
                                  divergences: r.report.divergenceCount)
        case (.ftraceText, .arm64), (.traceCmdReport, .arm64), (.perfScript, .arm64), (.traceDat, .arm64):
            var detectors = KVMArm64Detectors()
            let r = try TransitionReplay.kvmArm64(reader) { detectors.consume($0) }
            return AnalysisReport(adapter: r.report.adapter, events: r.report.events, findings: filter(detectors.findings, options),
                                  divergences: r.report.divergenceCount)
        case (.qemuLog, .arm64):
            var detectors = GICDetectors()
            let r = try TransitionReplay.qemuGIC(reader) { detectors.consume($0) }
            detectors.finish(gic: r.adapter.gic, endTime: r.end)
            return AnalysisReport(adapter: r.report.adapter, events: r.report.events, findings: filter(detectors.findings, options),
                                  divergences: r.report.divergenceCount)
        default:
            throw IrqtraceError("analyze does not read \(m.vocabularySource.rawValue) traces for \(m.arch.rawValue) yet", path: reader.path,
                                hint: "this release analyzes x86 KVM tracepoint traces (kvm_pvm, VMX, SVM hosts), arm64 KVM vGIC tracepoint traces, QEMU x86 logs (IOAPIC, messages and interrupt remapping), QEMU GICv2 logs, and simulated kvm-vmx, kvm-arm64, qemu-x86 and qemu-gic traces")
        }
    }

    /// Keeps the findings asked for; `caused_by` indices follow the kept list (a cause filtered out is dropped).
    static func filter(_ all: [Finding], _ o: Options) -> [Finding] {
        var newIndex = [Int?](repeating: nil, count: all.count)
        var out: [Finding] = []
        for (k, f) in all.enumerated() where f.severity >= o.minSeverity && (o.only?.contains(f.kind) ?? true) {
            newIndex[k] = out.count
            out.append(f)
        }
        for k in out.indices {
            guard let old = out[k].causedBy else { continue }
            let new = newIndex[old]
            out[k].causedBy = new
            // The explanation names its cause by index too ("because of finding 3"): the kept list's.
            out[k].explanation = renumber(out[k].explanation, finding: old, as: new.map(String.init) ?? "\(old) (not shown: filtered out)")
        }
        return out
    }

    /// `text` with "finding `old`" (not followed by another digit) written "finding `new`".
    static func renumber(_ text: String, finding old: Int, as new: String) -> String {
        let key = "finding \(old)"
        guard text.contains(key), key != "finding \(new)" else { return text }
        var out = "", rest = Substring(text)
        while let r = rest.range(of: key) {
            out += rest[..<r.lowerBound]
            let next = rest[r.upperBound...].first
            out += next.map(\.isNumber) == true ? key : "finding " + new
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
