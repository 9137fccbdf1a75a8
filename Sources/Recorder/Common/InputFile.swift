import Foundation
import TraceFormat

/// An input file's bytes: memory-mapped, or decompressed when the file is zstd-compressed
/// (`.log.zst` samples are read as they are).
public struct InputFile {
    public let path: String
    public let data: Data
    /// Size on disk (compressed size for `.zst`).
    public let fileSize: Int
    public let wasCompressed: Bool
    /// `data` is a read-only mapping of the file itself (not decompressed or in-memory bytes): a
    /// text importer then reads the file through a small block (``LineReader``) instead of walking
    /// the mapping, which keeps a 12 GB text from counting its pages as resident memory.
    public let isFileMapping: Bool

    public init(path: String) throws {
        self.path = path
        let mapped: Data
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw IrqtraceError("is a folder, not a trace file", path: path, hint: "give a file in it (ls \(path))")
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw IrqtraceError("no such file", path: path, hint: "check the path")
        }
        do {
            mapped = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw IrqtraceError("cannot read: \((error as NSError).localizedDescription)", path: path,
                                hint: "check the path")
        }
        fileSize = mapped.count
        let isZstd = mapped.withUnsafeBytes { ZstdDecompressor.isZstd($0) }
        if isZstd {
            do {
                data = try mapped.withUnsafeBytes { try ZstdDecompressor().decompressStream($0) }
            } catch {
                throw IrqtraceError("\(error)", path: path, hint: "the .zst file is damaged; try `zstd -t`")
            }
            wasCompressed = true
            isFileMapping = false
        } else {
            data = mapped
            wasCompressed = false
            isFileMapping = true
        }
    }

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        data = Data(bytes)
        fileSize = bytes.count
        wasCompressed = false
        isFileMapping = false
    }
}
