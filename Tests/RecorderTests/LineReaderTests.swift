import Foundation
import Testing
@testable import Recorder

/// `LineReader` reads a text input through one reused block: every line must come out whole and in
/// order whatever the block boundaries, with or without a final newline, and lines longer than the
/// block must grow it, never be cut.
@Suite("line reader")
struct LineReaderTests {
    static let texts: [String] = [
        "",
        "\n",
        "one line\n",
        "one line, no newline",
        "a\nbb\nccc\ndddd\n",
        "a\nbb\nccc\ndddd",
        "\n\nempty lines\n\n",
        "short\n" + String(repeating: "x", count: 100) + "\nafter a line longer than the block\n",
        String(repeating: "y", count: 77),
        (0..<200).map { "line \($0) " + String(repeating: "z", count: $0 % 37) }.joined(separator: "\n") + "\n",
    ]

    /// What splitting the whole text at newlines gives (a final newline ends the last line, it does not start another).
    static func expected(_ text: String) -> (lines: [String], finalNewline: Bool) {
        guard !text.isEmpty else { return ([], true) }
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let finalNewline = text.hasSuffix("\n")
        if finalNewline { parts.removeLast() }
        return (parts, finalNewline)
    }

    @Test("a file read through small blocks gives the lines the whole text has", arguments: [1, 2, 3, 7, 16, 64, 4096])
    func blocks(blockSize: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-linereader-\(getpid())-\(blockSize)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (k, text) in Self.texts.enumerated() {
            let path = dir.appendingPathComponent("t\(k).txt").path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let input = try InputFile(path: path)
            #expect(input.isFileMapping)
            var lines: [String] = []
            let result = try LineReader.forEachLine(in: input, blockSize: blockSize) { lines.append(String(decoding: $0, as: UTF8.self)) }
            let want = Self.expected(text)
            #expect(lines == want.lines, "text \(k), block \(blockSize)")
            #expect(result.lines == want.lines.count)
            #expect(result.finalNewline == want.finalNewline, "text \(k), block \(blockSize)")
            // In-memory bytes (a decompressed .zst) are walked in place, with the same result.
            var inMemory: [String] = []
            let memory = try LineReader.forEachLine(in: InputFile(path: path, bytes: Array(text.utf8))) { inMemory.append(String(decoding: $0, as: UTF8.self)) }
            #expect(inMemory == lines && memory.finalNewline == result.finalNewline)
        }
    }

    @Test("progress comes every 65536 lines of the whole file, across blocks")
    func progressAcrossBlocks() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-linereader-progress-\(getpid()).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lineCount = 140_000
        try Data(String(repeating: "x\n", count: lineCount).utf8).write(to: URL(fileURLWithPath: path))
        var calls: [(Int, Int)] = []
        var lines = 0
        let result = try LineReader.forEachLine(in: try InputFile(path: path), blockSize: 4096, progress: { calls.append(($0, $1)) }) { _ in lines += 1 }
        #expect(result.lines == lineCount && lines == lineCount)
        // After line 65536 and line 131072; line n ends (its newline) at byte 2n − 1, the offset reported.
        #expect(calls.map(\.0) == [2 * 65536 - 1, 2 * 131072 - 1])
        #expect(calls.allSatisfy { $0.1 == 2 * lineCount })
    }
}
