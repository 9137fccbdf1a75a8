import TraceFormat

/// Drives the models from a trace through the adapter for its source and architecture.
public enum Replayer {
    /// Replays every intact event of `reader` and checks the observations.
    public static func check(_ reader: TraceReader) throws -> ReplayReport {
        let m = reader.metadata
        switch (m.source, m.arch) {
        case (.qemuLog, .x86_64):
            var adapter = QEMUX86Adapter(vcpus: m.topology.vcpus ?? 1)
            try reader.forEachBatch { b in
                for i in 0..<b.count { adapter.handle(b, i, catalog: reader.catalog) }
            }
            return adapter.finish()
        default:
            throw IrqtraceError("replay of \(m.source.rawValue) traces for \(m.arch.rawValue) is not implemented yet",
                                path: reader.path, hint: "this release replays QEMU x86 logs (IOAPIC, VT-d interrupt remapping, MSI)")
        }
    }
}
