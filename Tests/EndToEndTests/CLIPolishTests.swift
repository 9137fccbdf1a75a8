import Foundation
import Testing

@Suite("CLI polish: version, man page, completions, colours, wrong file types", .serialized)
struct CLIPolishTests {
    @Test("--version")
    func version() throws {
        let r = try irqtrace(["--version"])
        #expect(r.status == 0)
        #expect(r.out.split(separator: ".").count >= 2)
    }

    @Test("the man page is generated from the argument definitions and docs/irqtrace.1 is current")
    func manpage() throws {
        let r = try irqtrace(["manpage"])
        #expect(r.status == 0)
        for c in ["record", "info", "stats", "show", "export", "replay", "analyze", "why", "sim"] {
            #expect(r.out.contains(".SS \(c)\n"), "section for \(c)")
        }
        #expect(r.out.contains("\\-\\-mid\\-flight") && r.out.contains("\\-\\-ring"))
        let committed = try String(contentsOf: root.appendingPathComponent("docs/irqtrace.1"), encoding: .utf8)
        #expect(committed == r.out, "regenerate with: .build/debug/irqtrace manpage > docs/irqtrace.1")
    }

    @Test("shell completions for bash, zsh and fish name the subcommands", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let r = try irqtrace(["--generate-completion-script", shell])
        #expect(r.status == 0)
        #expect(r.out.contains("replay") && r.out.contains("analyze") && r.out.contains("record"))
    }

    /// Runs irqtrace on a pseudo-terminal (util-linux `script`), as a user at a terminal would.
    func onTerminal(_ args: String, env: String = "") throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        let bin = root.appendingPathComponent(".build/debug/irqtrace").path
        p.arguments = ["-qec", "env -u NO_COLOR \(env) \(bin) \(args)", "/dev/null"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("colours on a terminal only, and never with NO_COLOR", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func colours() throws {
        let trace = root.appendingPathComponent("traces/kvm/pvm-idt-fault.trace.txt").path
        let tty = try onTerminal("analyze \(trace)", env: "TERM=xterm")
        #expect(tty.contains("\u{1B}[1;31merror\u{1B}[0m"), "severity in red on a terminal")
        let plain = try onTerminal("analyze \(trace)", env: "TERM=xterm NO_COLOR=1")
        #expect(!plain.contains("\u{1B}["), "NO_COLOR: no escape codes")
        #expect(plain.contains("error stuck_in_service"))
        let piped = try irqtrace(["analyze", trace])
        #expect(!piped.out.contains("\u{1B}[") && !piped.stderr.contains("\u{1B}["), "pipes never get colours")
    }

    @Test("wrong file types get an error that says what the file is and what to do")
    func wrongTypes() throws {
        let gz = temporary("x.log.gz")
        FileManager.default.createFile(atPath: gz, contents: Data([0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0]))
        let empty = temporary("empty.log")
        FileManager.default.createFile(atPath: empty, contents: Data())
        let cases: [(String, String)] = [
            (gz, "gzip-compressed"), ("/bin/sh", "ELF"), (empty, "empty"), (temporary(""), "folder"),
            (temporary("no-such-file"), "no such file"), (root.appendingPathComponent("README.md").path, "the first is: # irqtrace"),
        ]
        for (path, expected) in cases {
            let r = try irqtrace(["info", path])
            #expect(r.status == 2, "\(path)")
            #expect(r.stderr.contains(expected), "\(path): \(r.stderr)")
        }
    }
}
