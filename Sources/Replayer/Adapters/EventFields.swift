import TraceFormat

/// The schema fields of one template, by name, for adapters: resolved once per template.
struct SchemaFields {
    let sources: [String: FieldSource]

    init(_ template: EventTemplate) {
        var s: [String: FieldSource] = [:]
        if let b = template.binding {
            for (f, src) in zip(b.schema.fields, b.sources) { s[f.name] = src }
        }
        sources = s
    }

    /// The number in field `name` of event `i`, or nil.
    @inline(__always)
    func number(_ name: String, _ batch: EventBatch, _ i: Int) -> Int64? {
        sources[name].flatMap { batch.number(i, $0) }
    }

    func text(_ name: String, _ batch: EventBatch, _ i: Int, _ template: EventTemplate) -> String? {
        sources[name].map { batch.text(i, $0, template: template) }
    }
}
