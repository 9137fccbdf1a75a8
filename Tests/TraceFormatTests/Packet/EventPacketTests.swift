import Testing
@testable import TraceFormat

@Suite("EventPacket: the pcap record layout of docs/PCAP.md")
struct EventPacketTests {
    func encoded(extraSection: Bool = false) -> [UInt8] {
        var e = EventPacketEncoder()
        e.begin(vocabulary: .ftraceText, clock: ClockDomain.ftraceGlobal.rawValue, family: 2, flags: [.hasCPU, .hasVector, .noNewline],
                index: 1 << 40, time: -5, cpu: 3, thread: -1, vector: 0xEC, irq: 0, dest: 0, apicID: 0, name: Array("kvm_apic_accept_irq".utf8))
        e.beginLine()
        e.withBytes { $0 += Array("line text".utf8) }
        e.endLine()
        e.appendSection(.fields, Array("vec=236".utf8))
        if extraSection { e.withBytes { $0 += [0x7F, 0x7F, 0, 0, 0, 2, 0xAA, 0xBB] } }
        e.appendSection(.preamble, Array("# tracer: nop\n".utf8))
        return e.bytes
    }

    @Test("big-endian fixed fields at the documented offsets; decode gives back every field")
    func layout() throws {
        let b = encoded()
        #expect(Array(b[0..<4]) == Array("IRQE".utf8))
        #expect(b[4] == 1 && b[5] == 2 && b[6] == 3 && b[7] == 2)
        #expect(Array(b[8..<12]) == [0, 0, 0x02, 0x05])
        #expect(Array(b[12..<20]) == [0, 0, 1, 0, 0, 0, 0, 0])
        #expect(Array(b[36..<44]) == [0, 0, 0, 0, 0, 0, 0, 0xEC])
        #expect(Array(b[68..<70]) == [0, 19])
        try b.withUnsafeBytes { p in
            let d = try DecodedEventPacket(p)
            #expect(d.vocabulary == .ftraceText && d.clock == 3 && d.family == 2)
            #expect(d.index == 1 << 40 && d.time == -5 && d.cpu == 3 && d.thread == -1)
            #expect(d.vector == 0xEC && d.irq == nil && d.dest == nil && d.apicID == nil)
            #expect(d.flags.contains(.noNewline) && !d.flags.contains(.startsInput))
            #expect(String(decoding: UnsafeRawBufferPointer(rebasing: p[d.name]), as: UTF8.self) == "kvm_apic_accept_irq")
            #expect(String(decoding: UnsafeRawBufferPointer(rebasing: p[d.line]), as: UTF8.self) == "line text")
            #expect(d.fields.map { String(decoding: UnsafeRawBufferPointer(rebasing: p[$0]), as: UTF8.self) } == "vec=236")
            #expect(d.preamble != nil && d.metadata == nil)
        }
    }

    @Test("unknown section tags are skipped; every truncation is refused with an offset")
    func robustness() throws {
        let b = encoded(extraSection: true)
        let decoded = try b.withUnsafeBytes { p in try DecodedEventPacket(p) }
        #expect(decoded.preamble != nil && decoded.fields != nil)
        let full = encoded()
        for n in 0..<full.count {
            let cut = Array(full.prefix(n))
            let cutAtSectionBoundary = cut.withUnsafeBytes { (try? DecodedEventPacket($0)) != nil }
            // Only cuts that end exactly after the line or a whole section decode (a shorter valid record).
            if cutAtSectionBoundary { #expect(n >= EventPacket.fixedSize + 2 + 19 + 4 + 9) }
        }
        var wrongVersion = full
        wrongVersion[4] = 2
        wrongVersion.withUnsafeBytes { p in
            #expect(throws: DecodedEventPacket.Malformed.self) { try DecodedEventPacket(p) }
        }
    }
}
