import Foundation

/// Runs a ``ChunkSink`` on a second thread: while the producer (an importer or the simulator) fills
/// the next chunk, this thread encodes, compresses and writes the previous one, so producing and
/// encoding use both cores. Double-buffered: a hand-over waits until the previous chunk is written,
/// so at most two chunks exist (the one being filled, the one being written) and the output stays
/// in order. The first failure is kept and thrown at the next hand-over or ``drain()``.
final class EncodeBehind: @unchecked Sendable {
    struct Job {
        var templates: [EventTemplate]
        var firstEvent: UInt64
    }

    /// Touched only by the worker between a hand-over and the end of its write, and by the producer
    /// after ``drain()``.
    let sink: ChunkSink
    /// The chunk being written; empty between writes.
    private let buffer = ChunkBuilder()
    private let lock = NSCondition()
    private var job: Job?
    private var busy = false
    private var failure: Error?
    private var stopped = false
    private var started = false
    /// Bytes in the output after the last finished write (readable at any time).
    private var written = 0

    init(sink: ChunkSink) {
        self.sink = sink
        written = sink.output.offset
    }

    /// Hands the events of `chunk` to the worker once the previous chunk is written, leaving
    /// `chunk` empty (with the capacity of the columns written before).
    func submit(_ chunk: ChunkBuilder, _ job: Job) throws {
        lock.lock()
        defer { lock.unlock() }
        if !started {
            started = true
            let t = Thread { [self] in run() }
            t.name = "irqtrace-encode-behind"
            t.start()
        }
        while busy && failure == nil { lock.wait() }
        if let failure { throw failure }
        chunk.exchange(with: buffer)
        self.job = job
        busy = true
        lock.broadcast()
    }

    /// Waits until every handed-over chunk is written; throws the worker's failure, if any.
    func drain() throws {
        lock.lock()
        defer { lock.unlock() }
        while busy && failure == nil { lock.wait() }
        if let failure { throw failure }
    }

    /// The output's size after the chunks written so far.
    var bytesWritten: Int {
        lock.lock()
        defer { lock.unlock() }
        return written
    }

    /// Ends the worker thread (after the chunk it is writing, if any).
    func stop() {
        lock.lock()
        stopped = true
        lock.broadcast()
        lock.unlock()
    }

    private func run() {
        while true {
            lock.lock()
            while job == nil && !stopped { lock.wait() }
            guard let work = job else { lock.unlock(); return }
            job = nil
            lock.unlock()
            var problem: Error?
            do { try sink.write(buffer, templates: work.templates, firstEvent: work.firstEvent) } catch { problem = error }
            buffer.reset()
            let size = sink.output.offset
            lock.lock()
            if let problem, failure == nil { failure = problem }
            written = size
            busy = false
            lock.broadcast()
            lock.unlock()
        }
    }
}
