/// A time given on the command line: `SECONDS[.FRACTION]` (as the trace prints times), or a number
/// with a unit `ns`, `us`, `ms`, `s`; a leading `+` makes it relative to the trace's first event.
public struct TimeSpec: Sendable, Equatable {
    public var nanoseconds: Int64
    public var relative: Bool

    public init?(_ text: String) {
        var s = Substring(text)
        relative = s.hasPrefix("+")
        if relative { s = s.dropFirst() }
        var scale: Int64 = 1_000_000_000
        for (suffix, unit) in [("ns", Int64(1)), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)] where s.hasSuffix(suffix) {
            scale = unit
            s = s.dropLast(suffix.count)
            break
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0].isEmpty ? "0" : parts[0]), whole >= 0 else { return nil }
        let (product, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        var ns = product
        if parts.count == 2 {
            let f = parts[1]
            guard !f.isEmpty, f.allSatisfy(\.isNumber), f.count <= 18 else { return nil }
            var frac = Int64(f)!
            var digits = f.count
            // frac / 10^digits * scale, without overflow for up to 18 digits.
            var sc = scale
            while digits > 0 && sc % 10 == 0 { sc /= 10; digits -= 1 }
            while digits > 0 { frac /= 10; digits -= 1 }
            ns += frac * sc
        }
        nanoseconds = ns
    }

    /// The absolute time, given the trace's first event time.
    public func resolve(start: Int64) -> Int64 {
        guard relative else { return nanoseconds }
        let (sum, overflow) = start.addingReportingOverflow(nanoseconds)
        return overflow ? .max : sum
    }
}

/// Nanoseconds as seconds with six decimals ("12.000345"), without floating point: how times are
/// shown to users (the CLI, findings, `why`).
public func seconds(_ ns: Int64) -> String {
    let sign = ns < 0 ? "-" : ""
    let m = ns.magnitude
    let frac = String(m % 1_000_000_000 / 1000)
    return sign + String(m / 1_000_000_000) + "." + String(repeating: "0", count: 6 - frac.count) + frac
}
