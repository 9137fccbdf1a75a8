#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TraceFormat

/// Drains every CPU's `trace_pipe_raw` on its own thread, so the ring buffers keep emptying while the
/// recorder decodes and compresses (on a 2-CPU host, decoding a burst must not make the kernel drop
/// events). Pages wait here, per CPU in time order, until the recorder releases them in time order
/// across CPUs (``take(upTo:)``). Memory is capped: past ``maxPendingBytes`` the collector stops
/// reading and the kernel's own missed-events accounting records the loss.
final class PageCollector: @unchecked Sendable {
    private let readers: RingBufferReaders
    private let lock = NSLock()
    private var pending: [[RingPage]]
    private var pendingBytes = 0
    private(set) var bytesRead = 0
    private(set) var seenMax: UInt64 = 0
    private var failure: Error?
    private var stopping = false
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    let pollInterval: Double
    let maxPendingBytes: Int

    init(readers: RingBufferReaders, pollInterval: Double, maxPendingBytes: Int = 256 << 20) {
        self.readers = readers
        self.pollInterval = pollInterval
        self.maxPendingBytes = maxPendingBytes
        pending = Array(repeating: [], count: readers.cpuCount)
    }

    func start() {
        let t = Thread { [self] in
            while true {
                lock.lock()
                let stop = stopping, full = pendingBytes >= maxPendingBytes
                lock.unlock()
                if stop { break }
                if !full { drainOnce() }
                usleep(useconds_t(pollInterval * 1e6))
            }
            done.signal()
        }
        t.name = "irqtrace-pages"
        t.start()
        thread = t
    }

    /// One pass over every CPU (also called by the recorder for the final drain, after stop()).
    func drainOnce() {
        var fresh = Array(repeating: [RingPage](), count: pending.count)
        do {
            let got = try readers.drain(into: &fresh)
            lock.lock()
            bytesRead += got
            for cpu in fresh.indices where !fresh[cpu].isEmpty {
                pending[cpu] += fresh[cpu]
                pendingBytes += fresh[cpu].count * readers.pageSize
                if let l = fresh[cpu].last?.lastTS, l > seenMax { seenMax = l }
            }
            lock.unlock()
        } catch {
            lock.lock(); failure = error; lock.unlock()
        }
    }

    /// Stops the thread (waits for its current pass).
    func stop() {
        lock.lock(); stopping = true; lock.unlock()
        if thread != nil { done.wait(); thread = nil }
    }

    /// Throws the collector's read error, if any.
    func check() throws {
        lock.lock(); defer { lock.unlock() }
        if let f = failure { throw f }
    }

    var latest: UInt64 { lock.lock(); defer { lock.unlock() }; return seenMax }
    var pendingPageCount: Int { lock.lock(); defer { lock.unlock() }; return pending.reduce(0) { $0 + $1.count } }

    /// Removes and returns, per CPU, the pages whose events are all at or before `bound` (nil:
    /// everything), lowering the bound below any page that straddles it so no page is split and the
    /// merge across CPUs stays in time order.
    func take(upTo bound: UInt64?) -> [[RingPage]] {
        lock.lock(); defer { lock.unlock() }
        var w = bound ?? UInt64.max
        if bound != nil {
            var lowered = true
            while lowered {
                lowered = false
                for list in pending {
                    if let p = list.first(where: { $0.lastTS > w }), p.firstTS <= w, p.firstTS > 0 {
                        w = p.firstTS - 1; lowered = true
                    }
                }
            }
        }
        var out: [[RingPage]] = []
        for cpu in pending.indices {
            let n = pending[cpu].firstIndex { $0.lastTS > w } ?? pending[cpu].count
            out.append(Array(pending[cpu][0..<n]))
            pending[cpu].removeFirst(n)
            pendingBytes -= n * readers.pageSize
        }
        return out
    }
}
