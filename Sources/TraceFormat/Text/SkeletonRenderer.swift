#if canImport(Glibc)
import Glibc
#endif

/// Renders a line straight from a skeleton and slot values, before the template is interned.
/// Importers use it to prove each line reprints exactly before storing it in typed form.
public enum SkeletonRenderer {
    /// Appends the line to `out`; false when the skeleton is malformed or lacks values.
    public static func render(_ sk: UnsafeBufferPointer<UInt8>, values: UnsafeBufferPointer<Int64>, strings: [[UInt8]] = [],
                              time: Int64, cpu: Int32, thread: Int32, to out: inout [UInt8]) -> Bool {
        var i = 0
        var slot = 0
        let n = sk.count
        while i < n {
            let b = sk[i]
            if b != 0xFF {
                // A run of literal bytes up to the next code.
                let start = i
                if let hit = memchr(sk.baseAddress! + i, 0xFF, n - i) {
                    i = sk.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                } else { i = n }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: sk[start..<i]))
                continue
            }
            guard i + 1 < n else { return false }
            let code = sk[i + 1]
            i += 2
            switch code {
            case 0xFF: out.append(0xFF)
            case SkeletonCode.number:
                guard i + 1 < n, slot < values.count, let style = NumberStyle(rawValue: sk[i]) else { return false }
                LinePrinter.appendNumber(values[slot], style: style, width: Int(sk[i + 1]), to: &out)
                slot += 1; i += 2
            case SkeletonCode.string:
                guard slot < values.count, values[slot] >= 0, Int(values[slot]) < strings.count else { return false }
                out.append(contentsOf: strings[Int(values[slot])]); slot += 1
            case SkeletonCode.thread: LinePrinter.appendNumber(Int64(thread), style: .decimal, width: 0, to: &out)
            case SkeletonCode.cpu:
                guard i + 1 < n else { return false }
                LinePrinter.appendPadded(Int64(cpu), width: Int(sk[i]), pad: sk[i + 1] != 0 ? 0x30 : 0x20, to: &out); i += 2
            case SkeletonCode.time:
                guard i + 1 < n, sk[i] & 0x7F <= 9 else { return false }
                LinePrinter.appendTime(time, fractionDigits: Int(sk[i]), secondsWidth: Int(sk[i + 1]), to: &out); i += 2
            case SkeletonCode.rawTime: LinePrinter.appendNumber(time, style: .decimal, width: 0, to: &out)
            case SkeletonCode.bodyStart: break
            default: return false
            }
        }
        return true
    }
}

extension SkeletonRenderer {
    /// True when the skeleton and values render exactly `line` (`scratch` is reused).
    public static func reprints(_ line: UnsafeRawBufferPointer, skeleton: [UInt8], values: [Int64], time: Int64, cpu: Int32,
                                thread: Int32, scratch: inout [UInt8]) -> Bool {
        skeleton.withUnsafeBufferPointer { sk in
            values.withUnsafeBufferPointer { v in reprints(line, skeleton: sk, values: v, time: time, cpu: cpu, thread: thread, scratch: &scratch) }
        }
    }

    /// `reprints` of a skeleton and values in memory the caller holds (a stored template's).
    public static func reprints(_ line: UnsafeRawBufferPointer, skeleton: UnsafeBufferPointer<UInt8>, values: UnsafeBufferPointer<Int64>,
                                time: Int64, cpu: Int32, thread: Int32, scratch: inout [UInt8]) -> Bool {
        // Rendered into `scratch`'s memory, at most the line's length (a longer rendering cannot match).
        if scratch.count < line.count + 1 { scratch = [UInt8](repeating: 0, count: max(line.count + 1, 256)) }
        return scratch.withUnsafeMutableBufferPointer { buffer in
            var out = RawLineWriter(base: buffer.baseAddress!, capacity: line.count)
            let ok = render(skeleton, values: values, time: time, cpu: cpu, thread: thread, to: &out)
            guard ok, !out.overflow, out.count == line.count else { return false }
            return line.isEmpty || memcmp(buffer.baseAddress!, line.baseAddress!, line.count) == 0
        }
    }
}
