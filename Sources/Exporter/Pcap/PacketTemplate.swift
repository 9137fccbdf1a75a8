import TraceFormat

/// What the pcap export needs of one template, computed once per template: the name's bytes, the
/// schema family, the field sources of the roles the packet carries, and the schema's fields.
struct PacketTemplate {
    let name: [UInt8]
    let family: UInt8
    let roles: EventRoles
    let dest: FieldSource?
    let apicID: FieldSource?
    /// Each schema field's `name=` bytes and where its value comes from.
    let fields: [(prefix: [UInt8], source: FieldSource, piece: TemplatePiece?)]

    init(_ t: EventTemplate) {
        name = Array(t.name.utf8)
        family = EventPacket.familyCode(t.binding?.schema.family)
        roles = EventRoles(t)
        dest = t.binding?.source(role: .dest)
        apicID = t.binding?.source(role: .apicID)
        if let b = t.binding {
            fields = zip(b.schema.fields, b.sources).map { f, src in
                var piece: TemplatePiece? = nil
                if case .slot(let s) = src { piece = t.slotPiece(s) }
                return (Array((f.name + "=").utf8), src, piece)
            }
        } else {
            fields = []
        }
    }

    /// Appends `name=value` for each field, separated by spaces: the text ``EventBatch/text(_:_:template:)``
    /// gives (what `show --fields` prints), built from bytes.
    func appendFields(_ i: Int, of batch: EventBatch, template: EventTemplate, to out: inout [UInt8]) {
        for (k, f) in fields.enumerated() {
            if k > 0 { out.append(0x20) }
            out.append(contentsOf: f.prefix)
            switch f.source {
            case .slot(let s):
                let v = batch.value(i, slot: s)
                switch f.piece {
                case .string?:
                    if v >= 0, Int(v) < batch.strings.count { out.append(contentsOf: batch.strings[Int(v)]) } else {
                        LinePrinter.appendNumber(v, style: .decimal, width: 0, to: &out)
                    }
                case .number(let style, _)? where style != .decimal:
                    out.append(0x30); out.append(0x78)
                    LinePrinter.appendNumber(v, style: style, width: 0, to: &out)
                default:
                    LinePrinter.appendNumber(v, style: .decimal, width: 0, to: &out)
                }
            case .hexDigitsSlot(let s):
                out.append(0x30); out.append(0x78)
                LinePrinter.appendNumber(EventBatch.decimalDigitsAsHex(batch.value(i, slot: s)), style: .hexLower, width: 0, to: &out)
            case .constant(let v): LinePrinter.appendNumber(v, style: .decimal, width: 0, to: &out)
            case .text(let t): out.append(contentsOf: t.utf8)
            case .composite: out.append(contentsOf: batch.text(i, f.source, template: template).utf8)
            }
        }
    }
}
