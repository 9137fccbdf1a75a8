import Analyzer
import Replayer
import TraceFormat

/// What the pictures show, built once from the model transitions (never from raw events): per CPU,
/// in-service intervals (delivered → EOI) and halts (halted → woke), instants (raises, coalesced and
/// dropped requests, masked edges, halts with work pending, …) and flows from the acceptance of an
/// interrupt at a CPU to its delivery there. Shared by the Perfetto export and the HTML report.
public struct Timeline: Sendable {
    /// An interval on a CPU's track.
    public struct Slice: Sendable, Equatable {
        public enum Kind: String, Sendable { case inService = "in_service", halted }
        public var kind: Kind
        public var cpu: Int32
        public var start: Int64
        /// nil: still open at the end of the trace.
        public var end: Int64?
        /// x86 vector, or -1.
        public var vector: Int32
        /// GIC INTID / IOAPIC pin, or -1.
        public var irq: Int32
        /// Event indices of the transitions that opened and closed it.
        public var startEvent: Int
        public var endEvent: Int?
    }

    /// A point in time.
    public struct Instant: Sendable, Equatable {
        public var kind: Transition.Kind
        public var time: Int64
        public var cpu: Int32
        public var vector: Int32
        public var irq: Int32
        public var event: Int
    }

    /// From an interrupt set pending at a CPU to its delivery there.
    public struct Flow: Sendable, Equatable {
        public var cpu: Int32
        public var vector: Int32
        public var irq: Int32
        public var fromTime: Int64
        public var fromEvent: Int
        public var toTime: Int64
        public var toEvent: Int
    }

    public var slices: [Slice] = []
    public var instants: [Instant] = []
    public var flows: [Flow] = []
    /// CPUs that appear, sorted.
    public var cpus: [Int32] = []
    public var firstTime: Int64 = 0
    public var lastTime: Int64 = 0
    /// The replay behind it.
    public var report: ReplayReport?

    public init() {}

    /// Replays `reader` and builds its timeline. Throws for sources without model transitions.
    public static func build(_ reader: TraceReader) throws -> Timeline {
        var b = Builder()
        let report = try TransitionStream.replay(reader) { b.add($0) }
        var t = b.finish()
        t.report = report
        return t
    }

    /// Builds a timeline from transitions already at hand (tests, other drivers).
    public static func build(_ transitions: [Transition]) -> Timeline {
        var b = Builder()
        for t in transitions { b.add(t) }
        return b.finish()
    }

    struct Builder {
        var t = Timeline()
        /// Open in-service slices per (cpu, interrupt), innermost last (x86 nests by priority class).
        var open: [UInt64: [Int]] = [:]
        var halted: [Int32: Int] = [:]
        /// Latest acceptance not yet delivered, per (cpu, interrupt).
        var accepted: [UInt64: (time: Int64, event: Int)] = [:]
        var cpus = Set<Int32>()
        var first: Int64?

        static func key(_ cpu: Int32, _ vector: Int16, _ irq: Int32) -> UInt64 {
            UInt64(UInt32(bitPattern: cpu)) << 32 | (vector >= 0 ? UInt64(UInt16(vector)) : 0x1_0000 + UInt64(UInt32(bitPattern: irq) & 0xFFFF))
        }

        mutating func add(_ x: Transition) {
            if first == nil { first = x.timeNs }
            t.lastTime = max(t.lastTime, x.timeNs)
            if x.cpu >= 0 { cpus.insert(x.cpu) }
            let k = Self.key(x.cpu, x.vector, x.irq)
            switch x.kind {
            case .delivered:
                guard x.cpu >= 0, !(x.vector < 0 && x.irq == 1023) else { instant(x); return }
                if let a = accepted.removeValue(forKey: k) {
                    t.flows.append(Flow(cpu: x.cpu, vector: Int32(x.vector), irq: x.irq, fromTime: a.time, fromEvent: a.event,
                                        toTime: x.timeNs, toEvent: x.eventIndex))
                }
                open[k, default: []].append(t.slices.count)
                t.slices.append(Slice(kind: .inService, cpu: x.cpu, start: x.timeNs, end: nil, vector: Int32(x.vector), irq: x.irq,
                                      startEvent: x.eventIndex, endEvent: nil))
            case .eoi:
                guard x.cpu >= 0 else { instant(x); return }
                if var list = open[k], let s = list.popLast() {
                    t.slices[s].end = x.timeNs
                    t.slices[s].endEvent = x.eventIndex
                    open[k] = list.isEmpty ? nil : list
                }
            case .accepted:
                if x.cpu >= 0, accepted[k] == nil { accepted[k] = (x.timeNs, x.eventIndex) }
                instant(x)
            case .halted:
                guard x.cpu >= 0, halted[x.cpu] == nil else { return }
                halted[x.cpu] = t.slices.count
                t.slices.append(Slice(kind: .halted, cpu: x.cpu, start: x.timeNs, end: nil, vector: -1, irq: -1,
                                      startEvent: x.eventIndex, endEvent: nil))
            case .woke:
                if let s = halted.removeValue(forKey: x.cpu) {
                    t.slices[s].end = x.timeNs
                    t.slices[s].endEvent = x.eventIndex
                }
            case .vmStarted:
                // Another VM from reset (VMs one after another in a host trace): what the last one left
                // in service or halted ends with it, and nothing it accepted is delivered in the next.
                for s in open.values.joined() { t.slices[s].end = x.timeNs; t.slices[s].endEvent = x.eventIndex }
                for s in halted.values { t.slices[s].end = x.timeNs; t.slices[s].endEvent = x.eventIndex }
                open = [:]
                halted = [:]
                accepted = [:]
                instant(x)
            default:
                instant(x)
            }
        }

        mutating func instant(_ x: Transition) {
            t.instants.append(Instant(kind: x.kind, time: x.timeNs, cpu: x.cpu, vector: Int32(x.vector), irq: x.irq, event: x.eventIndex))
        }

        mutating func finish() -> Timeline {
            t.cpus = cpus.sorted()
            t.firstTime = first ?? 0
            return t
        }
    }
}
