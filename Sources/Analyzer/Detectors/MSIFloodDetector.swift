import Replayer

/// `interrupt_storm` for message-signalled interrupts: one device MSI (one destination APIC and
/// vector) sent far faster than its vCPU can service it. An MSI is an edge: unlike a level storm
/// (``X86Detectors``), nothing in the IOAPIC re-delivers it, so the storm is the device's (a cause it
/// never clears, a runaway irqfd or vhost thread) and the vCPU pays for every message.
///
/// An *episode* is a run of messages (`raised` transitions: `kvm_msi_set_irq`, QEMU's
/// `apic_deliver_irq`) of one destination and vector with no gap longer than ``Options/maxGapNs``
/// between two. An episode of at least ``Options/minMessages`` messages is a flood when:
/// - the adapter shows merging (x86 KVM: `kvm_apic_accept_irq` of a vector already in IRR, the
///   `coalesced` transition with an MSI source): at least a quarter of its messages merged into the
///   IRR bit already set — a vCPU that keeps up merges none (each message finds the previous one
///   taken), so a vCPU that merges one in four spends most of the episode in the handler;
/// - the adapter cannot show merging (QEMU x86 logs: whether a message found its vector pending
///   depends on an acknowledge QEMU does not trace): the rate alone, ≥ 1 / ``Options/maxGapNs``
///   sustained for ``Options/minMessages`` messages.
///
/// Thresholds: 20 µs is 50 kHz, above the MSI rate of one queue of a busy virtio-net (NAPI masks
/// the queue's interrupts while it polls) and far above the per-queue rates of the real samples in
/// `traces/` (boot-time virtio bursts are a few messages, microseconds apart, then quiet); 200
/// successive messages at that rate are ≥ 4 ms of a vCPU's time at the ~20 µs a KVM exit, a
/// handler and an EOI cost, and 20 times the longest simulated virtio burst (geometric, mean 3).
/// Traces without time stamps (a QEMU log without `-msg timestamp=on`) have no rates: not judged.
/// Severity warning: the guest survives a flood (a merged MSI loses no work for a driver that polls
/// its queue), but the vCPU is saturated while it lasts. One finding per episode.
struct MSIFloodDetector {
    struct Options {
        var maxGapNs: Int64 = 20_000
        var minMessages: Int32 = 200
        /// The adapter reports merges (`coalesced`): require a quarter of the messages merged.
        var mergesVisible: Bool
    }

    struct Episode {
        var start: Int64 = 0
        var last: Int64 = 0
        var startEvent = -1
        var lastEvent = -1
        var messages: Int32 = 0
        var merged: Int32 = 0
    }

    let options: Options
    /// Per (APIC ID × 256 + vector), for APIC IDs below ``maxAPICs``: grown when a higher one shows up.
    var episodes: [Episode] = []
    var findings: [Finding] = []
    static let maxAPICs = 1024

    init(options: Options) { self.options = options }

    /// Off for traces whose clock is no time (QEMU logs without time stamps).
    var enabled = true

    @inline(__always)
    mutating func consume(_ t: Transition) {
        guard enabled else { return }
        switch t.kind {
        case .raised:
            // (QEMU: `aux` says an IOAPIC entry's message — a level pin's re-deliveries are X86Detectors'/QEMUX86Detectors' storms.)
            guard t.cpu >= 0, t.cpu < Int32(Self.maxAPICs), t.vector >= 16, t.vector < 256,
                  t.aux != KVMX86Adapter.MessageSource.ioapic.rawValue else { return }
            let k = Int(t.cpu) << 8 | Int(t.vector)
            if k >= episodes.count { episodes.append(contentsOf: repeatElement(Episode(), count: (Int(t.cpu) + 1) * 256 - episodes.count)) }
            var e = episodes[k]
            if e.messages == 0 || t.timeNs - e.last > options.maxGapNs {
                // (Most MSIs end an episode of one or a few: judged only when it could be a flood.)
                if e.messages >= options.minMessages { close(k) }
                e = Episode(start: t.timeNs, last: t.timeNs, startEvent: t.eventIndex, lastEvent: t.eventIndex, messages: 1, merged: 0)
            } else {
                e.last = t.timeNs
                e.lastEvent = t.eventIndex
                e.messages += 1
            }
            episodes[k] = e   // (one write: one copy-on-write check)
        case .coalesced:
            guard t.aux & 0xFF == KVMX86Adapter.MessageSource.msi.rawValue, t.cpu >= 0 else { return }
            let k = Int(t.cpu) << 8 | Int(UInt8(truncatingIfNeeded: t.vector))
            if k < episodes.count { episodes[k].merged += 1 }
        default:
            break
        }
    }

    /// The episodes still open at the end are judged too.
    mutating func finish() -> [Finding] {
        for k in episodes.indices { close(k) }
        return findings
    }

    mutating func close(_ k: Int) {
        let e = episodes[k]
        guard e.messages >= options.minMessages else { return }
        if options.mergesVisible && e.merged * 4 < e.messages { return }
        let cpu = k >> 8, vector = k & 0xFF
        let span = max(e.last - e.start, 1)
        let rateKHz = Int64(e.messages - 1) * 1_000_000 / span
        var text = "vector \(vector) was sent to APIC \(cpu) \(e.messages) times in \(ms(span)) (\(rateKHz) kHz, never more than \(options.maxGapNs / 1000) µs apart)"
        if options.mergesVisible {
            text += "; \(e.merged) of them found the vector still pending in IRR and merged (coalesced): the vCPU cannot service the device's MSIs as fast as they come"
        } else {
            text += ": far above what a vCPU can service (QEMU logs do not show whether each one merged with a pending one)"
        }
        text += ". A device MSI flood: the device (or the thread signalling for it) keeps raising without its cause being cleared"
        findings.append(Finding(.interruptStorm, .warning, time: e.start, cpu: cpu, vector: vector, events: [e.startEvent, e.lastEvent], text))
    }
}
