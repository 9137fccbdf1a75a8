import TraceFormat

extension ReportRun {
    /// The header of a report line, `%16s-%-5d [%03d] %5lu.%06lu: %s: ` with the event name padded to
    /// 20 (trace_show_data, print_event_name), written into stack memory (`RawLineWriter`) and appended at once: the
    /// importer prints a report line for every new template and every 64th record, and a dozen
    /// `Array` appends (with an `insert` for the seconds' padding) cost ~2,000 instructions a line.
    /// `comm`: the task name as printed (`<idle>`, `<...>` or the registered name).
    func appendHeader(comm: [UInt8], pid: Int32, _ s: CPUStream, _ e: DatEvent, _ out: inout [UInt8]) {
        let name = e.nameBytes
        // Fixed parts: 16 + '-' + 11 (pid) + 2 + 11 (cpu) + 1 + 1 + 20 (secs) + 1 + 6 + 2 + 2 + 20 < 96.
        let capacity = comm.count + name.count + 96
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var w = RawLineWriter(base: buffer.baseAddress!, capacity: capacity)
            w.repeated(0x20, 16 - comm.count)
            comm.withUnsafeBufferPointer { if let b = $0.baseAddress { w.bytes(b, $0.count) } }
            w.byte(0x2D)
            let pidStart = w.count
            Self.decimal(Int64(pid), width: 0, &w)
            w.repeated(0x20, 5 - (w.count - pidStart))
            w.byte(0x20); w.byte(0x5B)
            Self.decimal(Int64(s.cpu), width: 3, &w)
            w.byte(0x5D)
            if file.inUsecs {
                // " %6.1000d:" -> " %5llu.%06llu:"
                let t = (s.recTS &+ 500) / 1000
                w.byte(0x20)
                w.digits(t / 1_000_000, hex: false, upper: false, width: 5, pad: 0x20)
                w.byte(0x2E)
                w.digits(t % 1_000_000, hex: false, upper: false, width: 6, pad: 0x30)
            } else {
                w.digits(s.recTS, hex: false, upper: false, width: 12, pad: 0x20)
            }
            w.byte(0x3A); w.byte(0x20)
            name.withUnsafeBufferPointer { if let b = $0.baseAddress { w.bytes(b, $0.count) } }
            w.byte(0x3A); w.byte(0x20)
            w.repeated(0x20, 20 - name.count)
            out.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress!, count: w.count))
        }
    }

    /// A decimal number, zero-padded to `width` when not negative (`%0Nd` of the cpu, `%d` of the pid).
    @inline(__always)
    static func decimal(_ v: Int64, width: Int, _ w: inout RawLineWriter) {
        if v < 0 { w.byte(0x2D); w.digits(v.magnitude, hex: false, upper: false, width: 0, pad: 0x30) }
        else { w.digits(UInt64(v), hex: false, upper: false, width: width, pad: 0x30) }
    }
}
