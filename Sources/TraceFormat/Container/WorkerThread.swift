import Foundation

/// A named thread that runs `body` once, and whose end can be waited for (``join()``): ``DecodeAhead``
/// and the analyzer's detector thread wait for theirs this way, so nothing their worker uses
/// outlives the pass that started it.
public final class WorkerThread: @unchecked Sendable {
    private let lock = NSCondition()
    private var exited = false

    /// Starts the thread.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread { [self] in
            body()
            lock.lock()
            exited = true
            lock.broadcast()
            lock.unlock()
        }
        t.name = name
        t.start()
    }

    /// Waits until `body` has returned (at once when it has).
    public func join() {
        lock.lock()
        while !exited { lock.wait() }
        lock.unlock()
    }
}
