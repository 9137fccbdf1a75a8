import TraceFormat

extension X86Machine {
    /// Every model's state, for `replay --state-at`: per vCPU IRR/ISR/TMR/TPR/PPR/SPIV, IOAPIC entries
    /// with Remote IRR and line state, VT-d IRTEs.
    public func stateJSON() -> JSONValue {
        func hex(_ v: UInt64) -> JSONValue { .string("0x" + String(v, radix: 16)) }
        let apicsJSON: [JSONValue] = apics.enumerated().map { k, a in
            .object([
                ("vcpu", .int(k)), ("apic_id", .int(Int(a.id))),
                ("irr", .array(a.irr.vectors.map { .int(Int($0)) })), ("isr", .array(a.isr.vectors.map { .int(Int($0)) })),
                ("tmr", .array(a.tmr.vectors.map { .int(Int($0)) })),
                ("tpr", .int(Int(a.tpr))), ("ppr", .int(Int(a.ppr))), ("spiv", hex(UInt64(a.spiv))),
                ("software_enabled", .bool(a.softwareEnabled)),
            ])
        }
        let pins: [JSONValue] = ioapic.entries.enumerated().compactMap { pin, e in
            guard e.bits != RedirectionEntry().bits || ioapic.irr & (1 << UInt32(pin)) != 0 else { return nil }
            return .object([
                ("pin", .int(pin)), ("entry", hex(e.bits)), ("vector", .int(Int(e.vector))),
                (e.remappable ? "irte_index" : "dest", .int(e.remappable ? Int(e.remapIndex) : Int(e.destination))),
                ("level_triggered", .bool(e.levelTriggered)), ("masked", .bool(e.masked)), ("remote_irr", .bool(e.remoteIRR)),
                ("line_asserted", .bool(ioapic.irr & (1 << UInt32(pin)) != 0)),
            ])
        }
        let irtes: [JSONValue] = remapping.entries.sorted { $0.key < $1.key }.map { index, e in
            .object([("index", .int(index)), ("low", hex(e.low)), ("high", hex(e.high)), ("present", .bool(e.present)),
                     ("vector", .int(Int(e.vector))), ("dest", .int(Int(e.destination))), ("posted", .bool(e.isPosted))])
        }
        return .object([("lapics", .array(apicsJSON)), ("ioapic", .array(pins)),
                        ("remapping", .object([("enabled", .bool(remapping.enabled)), ("irtes", .array(irtes))]))])
    }

    /// The same, for people.
    public var stateDescription: String {
        var s = ""
        for (k, a) in apics.enumerated() {
            s += "vCPU \(k) (APIC \(a.id)): IRR \(a.irr) ISR \(a.isr) TMR \(a.tmr) TPR 0x\(String(a.tpr, radix: 16)) "
                + "PPR 0x\(String(a.ppr, radix: 16)) \(a.softwareEnabled ? "enabled" : "disabled")\n"
        }
        for (pin, e) in ioapic.entries.enumerated() where e.bits != RedirectionEntry().bits || ioapic.irr & (1 << UInt32(pin)) != 0 {
            let target = e.remappable ? "remappable (IRTE \(e.remapIndex))" : "dest \(e.destination)"
            s += "IOAPIC pin \(pin): vector \(e.vector) \(target) \(e.levelTriggered ? "level" : "edge")"
                + "\(e.masked ? " masked" : "")\(e.remoteIRR ? " Remote-IRR" : "")\(ioapic.irr & (1 << UInt32(pin)) != 0 ? " asserted" : "")\n"
        }
        if remapping.enabled || !remapping.entries.isEmpty {
            s += "VT-d interrupt remapping \(remapping.enabled ? "enabled" : "disabled"), \(remapping.entries.count) IRTEs seen\n"
            for (index, e) in remapping.entries.sorted(by: { $0.key < $1.key }) {
                let dest = remapping.extendedInterruptMode ? e.destination : (e.destination & 0xFF00) >> 8
                s += "  IRTE \(index): \(e.present ? "present" : "not present") vector \(e.vector) dest \(dest)\(e.isPosted ? " posted" : "")\n"
            }
        }
        return s
    }
}
