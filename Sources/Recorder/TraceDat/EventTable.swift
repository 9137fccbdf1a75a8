/// The events a trace.dat describes, by id, each parsed from its format file on first use.
///
/// A file carries the format of every event the kernel offers (thousands); a trace uses a few
/// dozen. Only the `ID:` line is read up front; the rest of a format (fields, print format) is parsed
/// when a record of that id, or a look-up, first asks for it. Among formats sharing an id the
/// first one that parses wins, as when all were parsed in file order (libtraceevent keeps the
/// first event registered for an id).
final class EventTable {
    private var formats: [Int: [(system: String, text: [UInt8])]] = [:]
    private var parsed: [Int: DatEvent?] = [:]
    private let longSize: Int
    private let functions: Set<String>
    /// The ids described (whether or not their formats parse), ascending.
    let ids: [Int]

    init(formats list: [(system: String, text: [UInt8])], longSize: Int, functions: Set<String>) {
        for f in list {
            guard let id = EventFormatParser.peekID(f.text) else { continue }
            formats[id, default: []].append(f)
        }
        ids = formats.keys.sorted()
        self.longSize = longSize
        self.functions = functions
    }

    /// The largest id described (0 when none).
    var maxID: Int { ids.last ?? 0 }

    /// The event of `id`, parsed now if it was not; nil when no format of that id parses.
    subscript(id: Int) -> DatEvent? {
        if let e = parsed[id] { return e }
        var found: DatEvent? = nil
        for f in formats[id] ?? [] {
            let s = String(decoding: f.text, as: UTF8.self)
            if let e = EventFormatParser.parse(s, system: f.system, longSize: longSize, symbols: nil, functions: functions), e.id == id {
                e.plugin = TraceDatFile.plugin(system: e.system, name: e.name)
                found = e
                break
            }
        }
        parsed[id] = .some(found)
        return found
    }

    /// The events parsed so far.
    var parsedEvents: [DatEvent] { parsed.values.compactMap { $0 } }

    /// The event of the smallest id that parses (its common fields give the record layout).
    func first() -> DatEvent? {
        for id in ids { if let e = self[id] { return e } }
        return nil
    }
}

extension EventFormatParser {
    /// The id `parse` would read from a format file (its last `ID:` line before `format:`), without
    /// parsing the rest; nil when it has none (then `parse` drops the event too).
    static func peekID(_ text: [UInt8]) -> Int? {
        var id: Int? = nil
        var p = 0
        let n = text.count
        while p < n {
            var e = p
            while e < n, text[e] != 0x0A { e += 1 }
            var a = p, b = e
            func blank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }
            while a < b, blank(text[a]) { a += 1 }
            while b > a, blank(text[b - 1]) { b -= 1 }
            let line = text[a..<b]
            if line.starts(with: "format:".utf8) { break }
            if line.starts(with: "ID:".utf8) {
                id = Int(String(decoding: line.dropFirst(3), as: UTF8.self).trimmedTD())
            }
            p = e + 1
        }
        return id
    }
}
