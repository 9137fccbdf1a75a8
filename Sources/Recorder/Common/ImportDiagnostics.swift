import TraceFormat

/// Malformed lines met during an import: all counted, the first few kept with file:line.
public struct ImportDiagnostics: Sendable {
    public static let shownLimit = 5
    public private(set) var malformedLines = 0
    public private(set) var ignoredLines = 0
    /// "file:line: reason: excerpt", for the first ``shownLimit`` malformed lines.
    public private(set) var examples: [String] = []

    /// Things worth saying that lost nothing (e.g. records stored as text instead of typed).
    public private(set) var notes: [String] = []

    public init() {}

    mutating func note(_ message: String) { notes.append(message) }

    mutating func malformed(path: String, line: Int, reason: String, text: UnsafeRawBufferPointer) {
        malformedLines += 1
        if examples.count < Self.shownLimit {
            examples.append("\(path):\(line): \(reason): \(Self.excerpt(text))")
        }
    }

    mutating func ignored() { ignoredLines += 1 }

    /// A binary input damaged part-way: counted with the malformed input, its message kept.
    mutating func damaged(_ message: String) {
        malformedLines += 1
        if examples.count < Self.shownLimit { examples.append(message) }
    }

    /// Printable excerpt of a line: at most 80 bytes, control and non-ASCII bytes escaped.
    static func excerpt(_ text: UnsafeRawBufferPointer) -> String {
        var s = "\""
        for b in text.prefix(80) {
            if b >= 0x20 && b < 0x7F && b != 0x22 { s.unicodeScalars.append(Unicode.Scalar(b)) } else {
                s += "\\x" + String(b, radix: 16, uppercase: false).leftPadded(2)
            }
        }
        if text.count > 80 { s += "…" }
        return s + "\""
    }
}

extension String {
    func leftPadded(_ n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}
