import TraceFormat

/// Wraps pages read from `trace_pipe_raw` in a trace-cmd v6 file image (header_page, the event
/// formats of this kernel, saved cmdlines, trace clock, one flyrecord section per CPU) so the live
/// path decodes records with exactly the trace.dat decoder (``TraceDatReader``), by the kernel's own
/// format files. A v6 image is the simplest container the reader takes; it only lives in memory.
struct LiveTraceDatImage {
    let pageSize: Int
    let cpuCount: Int
    /// Everything before the saved cmdlines (fixed for a recording).
    private let prefix: [UInt8]
    private let traceClockText: [UInt8]

    /// - Parameters:
    ///   - formats: (system, format file text) of every event that may appear (the enabled ones and
    ///     `ftrace/print` for trace_marker writes).
    ///   - kallsyms: symbol lines for `%ps` (the marker's `ip`); may be empty.
    init(pageSize: Int, cpuCount: Int, headerPage: [UInt8], headerEvent: [UInt8],
         formats: [(system: String, text: [UInt8])], kallsyms: [UInt8], traceClock: String) {
        self.pageSize = pageSize
        self.cpuCount = cpuCount
        var s = ByteSink()
        s.append([0x17, 0x08, 0x44] + Array("tracing".utf8))
        s.append(Array("6".utf8) + [0])
        s.append([0, 8])                       // little-endian, 8-byte user long
        s.appendLE(UInt32(pageSize))
        s.append(Array("header_page".utf8) + [0])
        s.appendLE(UInt64(headerPage.count)); s.append(headerPage)
        s.append(Array("header_event".utf8) + [0])
        s.appendLE(UInt64(headerEvent.count)); s.append(headerEvent)
        let ftrace = formats.filter { $0.system == "ftrace" }
        s.appendLE(UInt32(ftrace.count))
        for f in ftrace { s.appendLE(UInt64(f.text.count)); s.append(f.text) }
        var systems: [(String, [[UInt8]])] = []
        for f in formats where f.system != "ftrace" {
            if let i = systems.firstIndex(where: { $0.0 == f.system }) { systems[i].1.append(f.text) } else { systems.append((f.system, [f.text])) }
        }
        s.appendLE(UInt32(systems.count))
        for (name, texts) in systems {
            s.append(Array(name.utf8) + [0])
            s.appendLE(UInt32(texts.count))
            for t in texts { s.appendLE(UInt64(t.count)); s.append(t) }
        }
        s.appendLE(UInt32(kallsyms.count)); s.append(kallsyms)
        s.appendLE(UInt32(0))                  // printk formats
        prefix = s.bytes
        traceClockText = Array("[\(traceClock)]\n".utf8)
    }

    /// The image of `pages` (per CPU, in time order) with the current saved cmdlines.
    func image(pages: [ArraySlice<RingPage>], cmdlines: [UInt8]) -> [UInt8] {
        var s = ByteSink(capacity: prefix.count + cmdlines.count + 256 + pages.reduce(0) { $0 + $1.count } * pageSize + pageSize)
        s.append(prefix)
        s.appendLE(UInt64(cmdlines.count)); s.append(cmdlines)
        s.appendLE(UInt32(cpuCount))
        s.append(Array("options  ".utf8) + [0])
        s.appendLE(UInt16(4)); s.appendLE(UInt32(0))   // TRACECLOCK: the clock text follows the CPU table
        s.appendLE(UInt16(0))
        s.append(Array("flyrecord".utf8) + [0])
        let tableAt = s.count
        for _ in 0..<cpuCount { s.appendLE(UInt64(0)); s.appendLE(UInt64(0)) }
        s.appendLE(UInt64(traceClockText.count)); s.append(traceClockText)
        var offsets: [(Int, Int)] = []
        for cpu in 0..<cpuCount {
            let list = cpu < pages.count ? pages[cpu] : []
            guard !list.isEmpty else { offsets.append((0, 0)); continue }
            let pad = (pageSize - s.count % pageSize) % pageSize
            s.append([UInt8](repeating: 0, count: pad))
            let start = s.count
            for p in list { s.append(p.bytes) }
            offsets.append((start, s.count - start))
        }
        var out = s.bytes
        for (cpu, (off, size)) in offsets.enumerated() {
            withUnsafeBytes(of: UInt64(off).littleEndian) { b in for k in 0..<8 { out[tableAt + cpu * 16 + k] = b[k] } }
            withUnsafeBytes(of: UInt64(size).littleEndian) { b in for k in 0..<8 { out[tableAt + cpu * 16 + 8 + k] = b[k] } }
        }
        return out
    }
}
