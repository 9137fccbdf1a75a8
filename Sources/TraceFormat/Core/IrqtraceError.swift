/// An error for the user: what went wrong, where (file, line or byte offset), and what to do.
public struct IrqtraceError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var path: String?
    public var line: Int?
    public var byteOffset: Int?
    public var hint: String?

    public init(_ message: String, path: String? = nil, line: Int? = nil, byteOffset: Int? = nil, hint: String? = nil) {
        self.message = message
        self.path = path
        self.line = line
        self.byteOffset = byteOffset
        self.hint = hint
    }

    public var description: String {
        var s = ""
        if let path {
            s += path
            if let line { s += ":\(line)" }
            if let byteOffset { s += " (byte \(byteOffset))" }
            s += ": "
        } else if let byteOffset {
            s += "byte \(byteOffset): "
        }
        s += message
        if let hint { s += " (\(hint))" }
        return s
    }
}
