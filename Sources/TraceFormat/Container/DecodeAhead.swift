import Foundation

/// Decompresses the chunks of a pass on a second thread, a few chunks ahead of the consumer, so a
/// replay or an analysis (the consumer) and zstd (this thread) use both cores. Only decompression
/// runs here: decoding the columns interns templates into the reader's catalog, which stays on the
/// consumer's thread. The queue is bounded (``depth`` chunks of at most `Layout.maxChunkBytes`).
final class DecodeAhead: @unchecked Sendable {
    struct Item {
        var chunk: Int
        var raw: [UInt8]
        var error: String?
    }

    private let storage: Data
    private let order: [(chunk: Int, offset: Int, compressedSize: Int, rawSize: Int)]
    private let depth: Int
    private let lock = NSCondition()
    private var queue: [Item] = []
    private var produced = 0
    private var stopped = false
    private var worker: WorkerThread?
    private var free: [[UInt8]] = []

    init(storage: Data, order: [(chunk: Int, offset: Int, compressedSize: Int, rawSize: Int)], depth: Int = 3) {
        self.storage = storage
        self.order = order
        self.depth = depth
    }

    func start() {
        worker = WorkerThread(name: "irqtrace-decode-ahead") { [self] in run() }
    }

    private func run() {
        let z = ZstdDecompressor()
        for entry in order {
            lock.lock()
            while queue.count >= depth && !stopped { lock.wait() }
            if stopped { lock.unlock(); return }
            var buffer = free.popLast() ?? []
            lock.unlock()
            var problem: String?
            storage.withUnsafeBytes { (file: UnsafeRawBufferPointer) in
                let start = entry.offset + Layout.chunkHeaderSize
                let payload = UnsafeRawBufferPointer(rebasing: file[start..<start + entry.compressedSize])
                do { try z.decompress(payload, expectedSize: entry.rawSize, into: &buffer) } catch { problem = "\(error)" }
            }
            lock.lock()
            queue.append(Item(chunk: entry.chunk, raw: buffer, error: problem))
            produced += 1
            lock.broadcast()
            lock.unlock()
        }
    }

    /// The next decompressed chunk, in order; nil after the last.
    func next() -> Item? {
        lock.lock()
        defer { lock.unlock() }
        while queue.isEmpty && produced < order.count && !stopped { lock.wait() }
        guard !queue.isEmpty else { return nil }
        let item = queue.removeFirst()
        lock.broadcast()
        return item
    }

    /// Gives a buffer back for reuse.
    func recycle(_ buffer: [UInt8]) {
        lock.lock()
        if free.count < depth { free.append(buffer) }
        lock.unlock()
    }

    /// Stops the producer (the consumer ended early or threw) and waits until its thread has left
    /// `run`, so nothing of the pass (the file's bytes, the buffers) outlives the caller's
    /// `forEachBatch` — a leak checker, or a caller unmapping the file, sees the thread done.
    func stop() {
        lock.lock()
        stopped = true
        queue.removeAll()
        lock.broadcast()
        lock.unlock()
        worker?.join()
    }
}
