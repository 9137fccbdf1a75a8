import TraceFormat

/// A condition that ends a live recording (`--stop-on`), for flight recorders left running until a
/// guest hangs.
public enum StopTrigger: Sendable, Equatable, CustomStringConvertible {
    /// `halt:VCPU:SECONDS` (VCPU a number or `any`): a vCPU halted (a `kvm_exit` with reason HLT)
    /// with no `kvm_entry` for it for longer than SECONDS. Needs x86 kvm_exit/kvm_entry (VMX, SVM);
    /// PVM hosts do not trace them, and arm64's kvm_wfx_arm64 does not name the vCPU.
    case halt(vcpu: Int?, seconds: Double)

    public init(parsing text: String) throws {
        let f = text.split(separator: ":").map(String.init)
        guard f.count == 3, f[0] == "halt", let s = Double(f[2]), s > 0 else {
            throw IrqtraceError("bad --stop-on '\(text)'", hint: "use halt:VCPU:SECONDS, e.g. halt:0:5 or halt:any:10")
        }
        if f[1] == "any" || f[1] == "*" { self = .halt(vcpu: nil, seconds: s); return }
        guard let v = Int(f[1]), v >= 0 else { throw IrqtraceError("bad vCPU '\(f[1])' in --stop-on '\(text)'", hint: "a vCPU index or 'any'") }
        self = .halt(vcpu: v, seconds: s)
    }

    public var description: String {
        switch self {
        case .halt(let v, let s): "halt:\(v.map(String.init) ?? "any"):\(s)"
        }
    }
}

/// Follows halts from the decoded records and says when a trigger fires.
struct StopTriggerWatch {
    let triggers: [StopTrigger]
    /// vCPU → time its halt began (trace clock, ns).
    private var haltedSince: [Int: Int64] = [:]
    private(set) var latest: Int64 = 0

    init(_ triggers: [StopTrigger]) { self.triggers = triggers }

    var isEmpty: Bool { triggers.isEmpty }

    /// One record: `kvm_exit: vcpu N reason HLT …` starts a halt, `kvm_entry: vcpu N …` ends it.
    mutating func observe(name: Substring, args: Substring, time: Int64) {
        latest = max(latest, time)
        guard name == "kvm_exit" || name == "kvm_entry" else { return }
        guard let vcpu = Self.vcpu(args) else { return }
        if name == "kvm_entry" { haltedSince[vcpu] = nil; return }
        if args.contains("reason HLT") { if haltedSince[vcpu] == nil { haltedSince[vcpu] = time } } else { haltedSince[vcpu] = nil }
    }

    /// The first trigger that holds at trace time `now`, described.
    func fired(now: Int64) -> String? {
        for t in triggers {
            switch t {
            case .halt(let v, let s):
                for (vcpu, since) in haltedSince.sorted(by: { $0.key < $1.key }) where v == nil || v == vcpu {
                    if Double(now - since) / 1e9 > s { return "vCPU \(vcpu) halted for more than \(s) s (since \(since) ns)" }
                }
            }
        }
        return nil
    }

    /// "vcpu 3 reason …" / "vcpu 3, rip …" / "vcpu 3 rip …" → 3.
    static func vcpu(_ args: Substring) -> Int? {
        guard let r = args.range(of: "vcpu ") else { return nil }
        let digits = args[r.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }
}
