import TraceFormat

/// One tokenized text line: the template skeleton, the slot values and the event's common fields.
/// Reused for every line of an import, so tokenizing allocates nothing once warmed up.
public struct ParsedLine {
    public var skeleton = SkeletonBuilder()
    public var values: [Int64] = []
    /// The event name's byte range in the line.
    public var nameStart = 0
    public var nameEnd = 0
    public var time: Int64 = 0
    public var cpu: Int32 = -1
    public var thread: Int32 = -1
    public var clock: ClockDomain = .none
    /// A name for events whose line has none (`lost_events` markers).
    public var syntheticName: String?
    /// Set by a tokenizer when the line has something its construction does not reprint exactly by
    /// itself (a leading zero in a thread id, a timestamp near the 64-bit limit): the importer then
    /// proves the reprint before storing the line in typed form.
    public var needsVerification = false

    public init() { values.reserveCapacity(32) }

    public mutating func reset() {
        skeleton.reset()
        values.removeAll(keepingCapacity: true)
        nameStart = 0
        nameEnd = 0
        time = 0
        cpu = -1
        thread = -1
        clock = .none
        syntheticName = nil
        needsVerification = false
    }
}

/// What a tokenizer made of a line.
public enum LineOutcome: Equatable {
    case event
    /// Not an event and not an error: a blank line, or a header or comment line of the format.
    case ignored
    case malformed(String)
}

/// Turns one line of a text format into a ``ParsedLine``. Implemented per format; the import loop is
/// generic over it, so the per-line call is static.
public protocol LineTokenizer {
    mutating func tokenize(_ line: UnsafeRawBufferPointer, into parsed: inout ParsedLine) -> LineOutcome
    /// Header lines met before the first event, reprinted by the text export.
    var preamble: [String] { get }
}

extension LineTokenizer {
    public var preamble: [String] { [] }
}
