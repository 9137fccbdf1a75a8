import Replayer

/// The x86 KVM detectors `analyze` runs together (``X86Detectors``, ``MSIFloodDetector``), fed a
/// buffer of transitions at a time — on the replaying thread or on a ``DetectorThread``; the caller
/// takes them (``take()``) only after the last buffer is consumed.
final class X86DetectorSet: @unchecked Sendable {
    struct State {
        var detectors = X86Detectors()
        var flood = MSIFloodDetector(options: .init(mergesVisible: true))
    }
    private var state: State? = State()

    /// (A buffer at a time: the detectors' work is inlined in the loop over it. Moved out of the
    /// object while consuming: its stored properties would pay an exclusivity check per access.)
    func consume(_ b: TransitionBuffer) {
        var s = state.take()!
        s.detectors.vmEnds = b.vmEnds
        b.forEach { s.detectors.consume($0); s.flood.consume($0) }
        state = s
    }

    /// The detectors, once every buffer is consumed.
    func take() -> State { state.take()! }
}
