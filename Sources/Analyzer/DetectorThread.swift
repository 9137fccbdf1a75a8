import Foundation
import Replayer
import TraceFormat

/// Runs a consumer of transitions (the detectors) on a second thread while the replay goes on: the
/// replaying thread hands over each slice's ``TransitionBuffer`` (``submit(_:)``) and carries on with
/// an empty one, recycled from the consumer; the consumer takes the buffers in order. Sound because
/// the detectors read nothing but the transitions, in order, and the final machine handed to them
/// after ``finish()``. The queue is bounded (``depth`` buffers), so memory stays flat however far
/// ahead the replay runs.
///
/// IRQTRACE_SINGLE_CORE=1 leaves it out (``Analyzer``): everything on one thread.
final class DetectorThread: @unchecked Sendable {
    private let lock = NSCondition()
    private var queue: [TransitionBuffer] = []
    private var free: [TransitionBuffer] = []
    private var closed = false
    private var worker: WorkerThread?
    private let depth: Int
    private let work: (TransitionBuffer) -> Void

    /// Starts the thread; `work` runs on it, once per buffer, in order.
    init(depth: Int = 2, _ work: @escaping (TransitionBuffer) -> Void) {
        self.depth = depth
        self.work = work
        worker = WorkerThread(name: "irqtrace-detectors") { [self] in run() }
    }

    private func run() {
        while true {
            lock.lock()
            while queue.isEmpty && !closed { lock.wait() }
            if queue.isEmpty { lock.unlock(); return }   // closed and drained
            var buffer = queue.removeFirst()
            lock.broadcast()
            lock.unlock()
            work(buffer)
            buffer.removeAll(keepingCapacity: true)
            lock.lock()
            // (Moved into the free list: the replaying thread's next append finds it uniquely referenced.)
            if free.count < depth { free.append(consume buffer) }
            lock.unlock()
        }
    }

    /// Hands `buffer`'s transitions over (waiting while ``depth`` buffers are queued) and leaves it
    /// empty: a recycled buffer, or a new one.
    func submit(_ buffer: inout TransitionBuffer) {
        guard !buffer.isEmpty || !buffer.vmEnds.isEmpty else { return }
        lock.lock()
        while queue.count >= depth { lock.wait() }
        var next = free.popLast() ?? TransitionBuffer()
        swap(&next, &buffer)
        queue.append(next)
        lock.broadcast()
        lock.unlock()
    }

    /// Waits until every buffer handed over has been consumed and the thread has ended.
    func finish() {
        lock.lock()
        closed = true
        lock.broadcast()
        lock.unlock()
        worker?.join()
    }
}
