extension ReportRun {
    /// The header of a report line, `%16s-%-5d [%03d] %5lu.%06lu: %s: ` with the event name padded to
    /// 20 (trace_show_data, print_event_name), written into stack memory and appended at once: the
    /// importer prints a report line for every new template and every 64th record, and a dozen
    /// `Array` appends (with an `insert` for the seconds' padding) cost ~2,000 instructions a line.
    /// `comm`: the task name as printed (`<idle>`, `<...>` or the registered name).
    func appendHeader(comm: [UInt8], pid: Int32, _ s: CPUStream, _ e: DatEvent, _ out: inout [UInt8]) {
        let name = e.nameBytes
        // Fixed parts: 16 + '-' + 11 (pid) + 2 + 11 (cpu) + 1 + 1 + 20 (secs) + 1 + 6 + 2 + 2 + 20 < 96.
        let capacity = comm.count + name.count + 96
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            let p = buffer.baseAddress!
            var k = 0
            @inline(__always) func spaces(_ n: Int) {
                if n > 0 { (p + k).update(repeating: 0x20, count: n); k += n }
            }
            @inline(__always) func bytes(_ b: [UInt8]) {
                b.withUnsafeBufferPointer { (p + k).update(from: $0.baseAddress!, count: $0.count) }
                k += b.count
            }
            spaces(16 - comm.count)
            if !comm.isEmpty { bytes(comm) }
            p[k] = 0x2D; k += 1
            let pidStart = k
            k = Self.writeDec(Int64(pid), p, k)
            spaces(5 - (k - pidStart))
            p[k] = 0x20; p[k + 1] = 0x5B; k += 2
            let cpu = Int64(s.cpu)
            if cpu >= 0 && cpu < 10 { p[k] = 0x30; p[k + 1] = 0x30; k += 2 } else if cpu >= 0 && cpu < 100 { p[k] = 0x30; k += 1 }
            k = Self.writeDec(cpu, p, k)
            p[k] = 0x5D; k += 1
            if file.inUsecs {
                // " %6.1000d:" -> " %5llu.%06llu:"
                let t = (s.recTS &+ 500) / 1000
                p[k] = 0x20; k += 1
                let secs = t / 1_000_000
                var usecs = t % 1_000_000
                spaces(5 - Self.decimalDigits(secs))
                k = Self.writeUDec(secs, p, k)
                p[k] = 0x2E
                for j in stride(from: 6, to: 0, by: -1) { p[k + j] = 0x30 + UInt8(truncatingIfNeeded: usecs % 10); usecs /= 10 }
                k += 7
            } else {
                spaces(12 - Self.decimalDigits(s.recTS))
                k = Self.writeUDec(s.recTS, p, k)
            }
            p[k] = 0x3A; p[k + 1] = 0x20; k += 2
            if !name.isEmpty { bytes(name) }
            p[k] = 0x3A; p[k + 1] = 0x20; k += 2
            spaces(20 - name.count)
            out.append(contentsOf: UnsafeBufferPointer(start: p, count: k))
        }
    }

    /// Decimal digits of `v` (1 for 0).
    @inline(__always)
    static func decimalDigits(_ v: UInt64) -> Int {
        var n = 1
        var x = v / 10
        while x != 0 { n += 1; x /= 10 }
        return n
    }

    /// `appendUDec` into memory at `k`; returns the index after the digits.
    @inline(__always)
    static func writeUDec(_ v: UInt64, _ p: UnsafeMutablePointer<UInt8>, _ k: Int) -> Int {
        let n = decimalDigits(v)
        var x = v
        var i = k + n - 1
        repeat { p[i] = 0x30 + UInt8(truncatingIfNeeded: x % 10); x /= 10; i -= 1 } while x != 0
        return k + n
    }

    /// `appendDec` into memory at `k`.
    @inline(__always)
    static func writeDec(_ v: Int64, _ p: UnsafeMutablePointer<UInt8>, _ k: Int) -> Int {
        if v < 0 { p[k] = 0x2D; return writeUDec(v.magnitude, p, k + 1) }
        return writeUDec(UInt64(v), p, k)
    }
}
