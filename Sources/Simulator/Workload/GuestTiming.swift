/// The guest's handler and run times as the per-interrupt draws use them, made once from the
/// scenario: per handled interrupt, `Double(handlerNs) / 10` was a floating-point division on the
/// path to the next action (~15 cycles), and the scenario's optionals were unwrapped again. The
/// same expressions, evaluated once: the same values, so the same trace.
struct GuestTiming: Sendable {
    /// Mean handler time (`guest.handler_ns`).
    let handlerMeanNs: Double
    /// The shortest handler: a tenth of the mean.
    let handlerMinNs: Int64
    /// Mean time a vCPU runs after its last interrupt before it halts (`guest.run_ns`, default 20 µs).
    let runMeanNs: Double

    init(_ g: Scenario.Guest) {
        handlerMeanNs = Double(g.handlerNs)
        handlerMinNs = Int64(handlerMeanNs / 10)
        runMeanNs = Double(g.runNs ?? 20_000)
    }

    /// A handler's duration: exponential around the mean, at least a tenth of it.
    @inline(__always)
    func handlerNs(_ rng: inout SimRandom) -> Int64 { max(handlerMinNs, rng.exponential(mean: handlerMeanNs)) }

    /// The run time before an idle vCPU halts: exponential around `run_ns`.
    @inline(__always)
    func runNs(_ rng: inout SimRandom) -> Int64 { rng.exponential(mean: runMeanNs) }
}
