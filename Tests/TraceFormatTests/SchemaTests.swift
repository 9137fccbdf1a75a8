import Testing
@testable import TraceFormat

@Suite("Schemas")
struct SchemaTests {
    func bind(_ name: String, _ body: String) -> (SchemaBinding?, [Int64]) {
        // A minimal template: the body tokenized by hand (numbers as decimal slots).
        var sk = SkeletonBuilder()
        sk.appendLiteral(name + " ")
        sk.appendBodyStart()
        var values: [Int64] = []
        for word in body.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            if word.offset > 0 { sk.appendLiteral(" ") }
            if let v = Int64(word.element) { sk.appendNumber(.decimal); values.append(v) } else { sk.appendLiteral(String(word.element)) }
        }
        let t = try! EventTemplate(name: name, skeleton: sk.bytes)
        return (t.binding, values)
    }

    @Test("gic_update_bestirq binds its %s to fixed text and its numbers to slots")
    func gic() {
        let (b, _) = bind("gic_update_bestirq", "cpu 0 irq 27 priority 160 cpu priority mask 240 cpu running priority 256")
        #expect(b != nil)
        #expect(b?.source(named: "iface") == .text("cpu"))
        #expect(b?.source(role: .cpu) == .slot(0))
        #expect(b?.source(role: .irq) == .slot(1))
        #expect(b?.source(named: "running_priority") == .slot(4))
    }

    @Test("ioapic_set_irq's printed 'vector' is the pin")
    func ioapicPin() {
        let (b, _) = bind("ioapic_set_irq", "vector: 4 level: 1")
        #expect(b?.source(role: .pin) == .slot(0))
        #expect(b?.source(role: .vector) == nil)
    }

    @Test("kvm_apic_accept_irq binds hex apicid and symbolic fields")
    func kvmAccept() {
        var sk = SkeletonBuilder()
        sk.appendLiteral("kvm_apic_accept_irq: "); sk.appendBodyStart()
        sk.appendLiteral("apicid 1a vec "); sk.appendNumber(.decimal); sk.appendLiteral(" (Fixed|edge)")
        let t = try! EventTemplate(name: "kvm_apic_accept_irq", skeleton: sk.bytes)
        #expect(t.binding?.source(role: .apicID) == .constant(0x1a))
        #expect(t.binding?.source(role: .vector) == .slot(0))
        #expect(t.binding?.source(named: "delivery_mode") == .text("Fixed"))
        #expect(t.binding?.source(named: "trigger_mode") == .text("edge"))
    }

    @Test("a line that does not follow the schema stays generic")
    func mismatch() {
        let (b, _) = bind("apic_deliver_irq", "something else 5")
        #expect(b == nil)
    }

    @Test("every schema's field list matches its format's conversions")
    func registry() {
        // EventSchema.init checks this with a precondition; touching the registry runs every check.
        #expect(SchemaRegistry.shared.byName.count > 60)
    }
}
