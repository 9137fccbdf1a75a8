import TraceFormat

/// The pcap parser alone, without an import behind it: the file header, every packet record, each
/// packet decoded as an irqtrace event record and its line through the tokenizer of the vocabulary
/// it names. The fuzz target's parser depth (Fuzz/, docs/FUZZING.md) and a quick validity check;
/// `record FILE.pcap` (``PcapImport``) is the path users take.
public enum PcapScan {
    /// What a scan found.
    public struct Counts: Equatable, Sendable {
        public var packets = 0
        public var malformedPackets = 0
        public var eventLines = 0
    }

    /// Scans `bytes`; throws ``IrqtraceError`` (with the byte offset) where the pcap framing is
    /// broken, counts packets that are not irqtrace records.
    public static func scan(_ bytes: UnsafeRawBufferPointer, path: String = "-") throws -> Counts {
        let pcap: PcapFile
        do { pcap = try PcapFile(bytes) } catch let e as PcapFile.Malformed {
            throw IrqtraceError(e.message, path: path, byteOffset: e.offset)
        }
        var counts = Counts()
        var qemu = QEMULogTokenizer()
        var ftrace: [UInt8: FtraceLineTokenizer] = [:]
        var parsed = ParsedLine()
        do {
            try pcap.forEachPacket(bytes) { _, packet, _ in
                counts.packets += 1
                guard let decoded = try? DecodedEventPacket(packet) else { counts.malformedPackets += 1; return }
                let line = UnsafeRawBufferPointer(rebasing: packet[decoded.line])
                parsed.reset()
                let kind: LineOutcome
                switch decoded.vocabulary {
                case .qemuLog: kind = qemu.tokenize(line, into: &parsed)
                case .ftraceText, .traceCmdReport, .perfScript:
                    var t = ftrace[decoded.clock]
                        ?? FtraceLineTokenizer(clock: ClockDomain(rawValue: decoded.clock) ?? .ftraceLocal)
                    kind = t.tokenize(line, into: &parsed)
                    ftrace[decoded.clock] = t
                case .unknown: return
                }
                if kind == .event { counts.eventLines += 1 }
            }
        } catch let e as PcapFile.Malformed {
            throw IrqtraceError(e.message, path: path, byteOffset: e.offset)
        }
        return counts
    }
}
