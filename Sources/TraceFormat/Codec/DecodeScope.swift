/// How much of each chunk a pass decodes. A full pass decodes everything; a pre-pass that reads only
/// a few templates' fields (the replayer learning which thread runs which vCPU from `kvm_entry`'s
/// "vcpu N") decodes the per-event columns (cpus, threads, domains, templates) and the slot values of
/// the templates it names, and skips the time column and every other template's value columns.
///
/// Skipped columns are still read through and checked as a full decode checks them (the same varint
/// errors at the same offsets), so a chunk that one scope rejects the other rejects too: the damage a
/// pre-pass reports does not depend on its scope. Only storing the values is saved.
///
/// In a batch decoded with a narrower scope, ``EventBatch/times`` is empty unless asked for, and the
/// slot values of the templates left out are absent (reading one traps: a programming error, never a
/// wrong value).
public struct DecodeScope {
    /// Whether the time column is decoded.
    public let times: Bool
    /// Whether a template's slot values are decoded (nil: every template's).
    private let wantsValues: ((EventTemplate) -> Bool)?
    /// `wantsValues` per catalog id, asked once: 0 not asked yet, 1 no, 2 yes.
    private var answers: [UInt8] = []

    /// Every column of every chunk.
    public static var everything: DecodeScope { DecodeScope(times: true, wantsValues: nil) }

    /// The per-event columns, and slot values only of the templates `wanted` accepts; no times.
    public static func values(of wanted: @escaping (EventTemplate) -> Bool) -> DecodeScope {
        DecodeScope(times: false, wantsValues: wanted)
    }

    /// Every per-event column with the times, and slot values only of the templates `wanted` accepts:
    /// a replay whose models read a few kinds of events (a real host trace is mostly other events:
    /// instruction emulation, system calls, scheduling).
    public static func timesAndValues(of wanted: @escaping (EventTemplate) -> Bool) -> DecodeScope {
        DecodeScope(times: true, wantsValues: wanted)
    }

    private init(times: Bool, wantsValues: ((EventTemplate) -> Bool)?) {
        self.times = times
        self.wantsValues = wantsValues
    }

    /// Whether the values of catalog template `id` are decoded.
    @inline(__always)
    mutating func decodesValues(of id: UInt32, _ catalog: TemplateCatalog) -> Bool {
        guard let wantsValues else { return true }
        let k = Int(id)
        while answers.count <= k { answers.append(0) }
        if answers[k] == 0 { answers[k] = wantsValues(catalog[id]) ? 2 : 1 }
        return answers[k] == 2
    }
}

extension ChunkDecoder {
    /// Reads past `n` varints with the checks ``ByteCursor/readVarint()`` makes, storing nothing.
    /// Eight bytes at a time: a word with a final byte (< 0x80) in it is consumed up to its last final
    /// byte — every varint ending there is at most 8 bytes long, so valid — and a word without one
    /// (the start of a varint of 9 or more bytes: the only kind that can be malformed) goes through
    /// `readVarint`, which throws what a full decode throws there.
    @inline(__always)
    static func skipVarints(_ c: inout ByteCursor, count n: Int) throws(DecodeError) {
        var left = n
        let high: UInt64 = 0x8080_8080_8080_8080
        // (At most 8 varints end in a word: while more than 8 are left, a whole word's worth never overshoots.)
        while left > 8 && c.end - c.position >= 8 {
            let w = UInt64(littleEndian: c.base.loadUnaligned(fromByteOffset: c.position, as: UInt64.self))
            let finals = ~w & high
            if finals == 0 {
                _ = try c.readVarint()
                left -= 1
                continue
            }
            // Byte j of the word is bits 8j…8j+7: the last final byte is the highest set bit's byte.
            c.position += (63 - finals.leadingZeroBitCount) / 8 + 1
            left -= finals.nonzeroBitCount
        }
        while left > 0 {
            _ = try c.readVarint()
            left -= 1
        }
    }

    /// Reads past one value column of `n` values (``valueColumn(_:count:into:)``'s checks, nothing stored).
    @inline(__always)
    static func skipValueColumn(_ c: inout ByteCursor, count n: Int) throws(DecodeError) {
        let mode = try c.readByte()
        switch mode {
        case ChunkCodec.modeConstant: _ = try c.readZigzag()
        case ChunkCodec.modeDelta, ChunkCodec.modeRaw: try skipVarints(&c, count: n)
        default: throw c.error("unknown value column mode \(mode)")
        }
    }
}
