import TraceFormat

/// Writes a ``Report`` as one self-contained HTML page: the template (``HTMLTemplate``, inline CSS
/// and JavaScript, no network) with the report's JSON embedded in a `<script type="application/json">`.
public enum HTMLReport {
    static let placeholder = "__IRQTRACE_REPORT_DATA__"

    /// The page, as UTF-8. Every `<` in the JSON is written `\u003c`, so no string in the data (event
    /// lines, paths) can close the script element.
    public static func render(_ report: Report) -> [UInt8] {
        let json = report.json().serialized()
        let parts = HTMLTemplate.page.split(separator: placeholder, maxSplits: 1, omittingEmptySubsequences: false)
        var out: [UInt8] = []
        out.reserveCapacity(json.utf8.count + HTMLTemplate.page.utf8.count)
        out.append(contentsOf: parts[0].utf8)
        let escapedLess = Array("\\u003c".utf8)
        for b in json.utf8 {
            if b == 0x3C { out.append(contentsOf: escapedLess) } else { out.append(b) }
        }
        if parts.count > 1 { out.append(contentsOf: parts[1].utf8) }
        return out
    }
}
