import ArgumentParser
import Foundation
import TraceFormat

/// `irqtrace manpage`: the man page (roff, man(7) macros), generated from the argument definitions
/// themselves (ArgumentParser's tool description, `--experimental-dump-help`), so it cannot drift
/// from the commands. docs/irqtrace.1 is its output (a test keeps it current).
struct ManpageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manpage", abstract: "Print the irqtrace(1) man page (roff) generated from the argument definitions.",
        shouldDisplay: false)

    func run() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        p.arguments = ["--experimental-dump-help"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard let root = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["command"] as? [String: Any] else {
            throw IrqtraceError("could not read the command description")
        }
        Console.out(Manpage.render(root))
    }
}

/// Renders ArgumentParser's ToolInfo JSON as a man(7) page.
enum Manpage {
    static func esc(_ s: String) -> String {
        var out = s.replacingOccurrences(of: "\\", with: "\\e")
        out = out.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix(".") || line.hasPrefix("'") ? "\\&" + line : String(line)
        }.joined(separator: "\n")
        return out.replacingOccurrences(of: "-", with: "\\-")
    }

    static func names(_ a: [String: Any]) -> [String] {
        ((a["names"] as? [[String: Any]]) ?? []).map { n in
            let name = n["name"] as? String ?? ""
            return (n["kind"] as? String) == "short" ? "-" + name : "--" + name
        }
    }

    static func synopsis(_ path: String, _ c: [String: Any]) -> String {
        var parts = [path]
        for a in (c["arguments"] as? [[String: Any]]) ?? [] where a["shouldDisplay"] as? Bool != false {
            let value = a["valueName"] as? String ?? "value"
            var s: String
            switch a["kind"] as? String {
            case "positional": s = "<\(value)>"
            case "flag": s = names(a).first ?? ""
            default: s = (names(a).first ?? "") + " <\(value)>"
            }
            if a["isRepeating"] as? Bool == true { s += " ..." }
            if a["isOptional"] as? Bool == true { s = "[" + s + "]" }
            parts.append(s)
        }
        return parts.joined(separator: " ")
    }

    static func options(_ c: [String: Any]) -> String {
        var s = ""
        for a in (c["arguments"] as? [[String: Any]]) ?? [] where a["shouldDisplay"] as? Bool != false {
            let value = a["valueName"] as? String ?? "value"
            let label: String
            switch a["kind"] as? String {
            case "positional": label = "\\fI\(esc(value))\\fR"
            case "flag": label = names(a).map { "\\fB\(esc($0))\\fR" }.joined(separator: ", ")
            default: label = names(a).map { "\\fB\(esc($0))\\fR \\fI\(esc(value))\\fR" }.joined(separator: ", ")
            }
            s += ".TP\n\(label)\n\(esc(a["abstract"] as? String ?? ""))"
            if let d = a["defaultValue"] as? String, !d.isEmpty { s += " (default: \(esc(d)))" }
            if let all = a["allValues"] as? [String], !all.isEmpty { s += " Values: \(esc(all.joined(separator: ", ")))." }
            s += "\n"
        }
        return s
    }

    static func render(_ root: [String: Any]) -> String {
        var s = ".TH IRQTRACE 1 \"\" \"irqtrace \(IrqtraceVersion.string)\" \"User Commands\"\n"
        s += ".SH NAME\nirqtrace \\- \(esc(root["abstract"] as? String ?? ""))\n"
        s += ".SH SYNOPSIS\n.B irqtrace\n\\fIcommand\\fR [\\fIoptions\\fR]\n"
        if let d = root["discussion"] as? String { s += ".SH DESCRIPTION\n\(esc(d))\n" }
        s += ".SH OPTIONS\n" + options(root)
        s += ".SH COMMANDS\n"
        for sub in (root["subcommands"] as? [[String: Any]]) ?? [] where sub["shouldDisplay"] as? Bool != false {
            let name = sub["commandName"] as? String ?? ""
            guard name != "help" else { continue }
            s += ".SS \(esc(name))\n\(esc(sub["abstract"] as? String ?? ""))\n.PP\n.B \(esc(synopsis("irqtrace " + name, sub)))\n"
            if let d = sub["discussion"] as? String { s += ".PP\n\(esc(d))\n" }
            s += options(sub)
        }
        s += """
        .SH EXIT STATUS
        0 ok; 1 findings or divergences (replay \\-\\-check, analyze); 2 usage or input error.
        .SH ENVIRONMENT
        .TP
        \\fBNO_COLOR\\fR
        When set and not empty, no colours (https://no\\-color.org). Colours are only ever written to a terminal.
        .SH FILES
        docs/CLI.md (the command-line contract), docs/FORMAT.md (the .irqt format), docs/RECORDING.md (live recording).
        .SH SEE ALSO
        \\fBtrace\\-cmd\\fR(1), \\fBperf\\fR(1), \\fBqemu\\fR(1)

        """
        return s
    }
}
