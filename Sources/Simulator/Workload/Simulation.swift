/// What every simulated platform has in common: a queue of timed actions run in time order until
/// the end time or the event budget, then the consequences of faults still in effect written as
/// ground truth.
protocol Simulation {
    associatedtype Action
    var queue: EventQueue<Action> { get set }
    var now: Int64 { get set }
    var endTime: Int64 { get }
    var maxEvents: Int { get }
    var eventCount: Int { get }
    /// Guest start-up and the first actions of the workload.
    mutating func boot() throws
    mutating func perform(_ action: Action) throws
    /// Ground truth for the consequences of faults still in effect at the end of the run.
    mutating func consequences()
}

extension Simulation {
    mutating func run() throws {
        try boot()
        while let (t, action) = queue.pop() {
            if t >= endTime || eventCount >= maxEvents { break }
            now = max(now, t)
            try perform(action)
        }
        consequences()
    }
}

/// An interrupt pending at the end of a run for longer than this was never serviced: the analyzers'
/// window (docs/ANALYZERS.md), which the simulators' consequences use too.
let lostWindowNs: Int64 = 10_000_000
