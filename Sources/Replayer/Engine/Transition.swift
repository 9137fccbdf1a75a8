/// One change of model state (or one thing the real system did against the models), in the
/// vocabulary every consumer of a replay shares: the analyzers, `why`, latency statistics and the
/// exports read transitions, never raw events, so hardware semantics live in the adapters and models
/// only (docs/ARCHITECTURE.md). Fixed-size: adapters append them to a reusable buffer when asked to
/// (`recordTransitions`), and pay nothing otherwise.
public struct Transition: Sendable, Equatable {
    public enum Kind: UInt8, Sendable, CaseIterable {
        /// An interrupt request entered the system: an MSI write, an IPI, a line asserted (`irq` =
        /// pin), a local interrupt (LAPIC timer). `cpu` = destination when one, `vector` when known.
        /// GIC: a device line rising (`gic_set_irq`; `value` = the target CPU mask the GIC used, `aux` =
        /// the SPI's ITARGETSR in the model, or the PPI's CPU mask) or a GICD_SGIR write (`irq` = the
        /// SGI, `value` = the target CPU mask, `aux` = the sender CPU). QEMU x86: a message on the APIC
        /// bus (`apic_deliver_irq`), `aux` = its ``KVMX86Adapter/MessageSource`` (MSI or IOAPIC).
        case raised
        /// A level line deasserted (`irq`). GIC: `value` = CPUs at which it stopped being pending,
        /// `aux` = 1 when level-triggered.
        case lineLowered
        /// Set pending at a CPU (IRR / GIC pending). `aux` bit 0 = level-triggered; x86 VMX with APICv:
        /// bit 1 / bit 2 = posted to a vCPU blocked in HLT with no posted route set up since it blocked /
        /// with one (``PostedInterruptTracking``). GIC: also an
        /// interrupt still pending at the CPU right after its acknowledge (a level line still high,
        /// another SGI source); for an SGI `value` = the source CPU.
        case accepted
        /// Arrived while already pending at that CPU: merged (one interrupt lost to the guest).
        case coalesced
        /// A request that reached no CPU: `aux` is a ``DropReason``; `cpu` = the destination it named.
        /// GIC (`irq`): an edge whose pending state the GIC never showed (``DropReason/notAccepted``;
        /// the event is the `gic_set_irq`), or an SGI source merged (``DropReason/merged``; the event
        /// is the one that showed the SGI not pending).
        case dropped
        /// Taken by the CPU (injection, IAR acknowledge): pending → in service. `aux` = the vector the
        /// model would deliver (-1: none deliverable), `value` = the CPU's priority (PPR) before.
        /// GIC (`irq` = the INTID acknowledged, 1023 spurious): `aux` = the INTID the model expected
        /// (1023: none), `value` = ``QEMUGICAdapter/Ack`` packed (running priority before and after,
        /// PMR, priorities, ITARGETSR, whether the model had it pending).
        case delivered
        /// End of interrupt at the CPU: `vector` retired (-1: nothing in service). GIC: a GICC_EOIR
        /// priority drop (`irq` = the INTID written, `value` = running priority after, `aux` = before).
        case eoi
        /// A level pin's Remote IRR set by a delivery (`irq`, `vector`).
        case remoteIRRSet
        /// A level pin's Remote IRR cleared by an EOI that reached the IOAPIC (`irq`).
        case remoteIRRCleared
        /// An EOI the models expected to reach a pin did not (the system acked another pin or none):
        /// the pin keeps Remote IRR (`irq`, `vector`).
        case ackMissing
        /// An edge on a masked pin: dropped by the IOAPIC (`irq`, `vector`); `aux` = 1 when the pin
        /// had been unmasked by the guest before (0: never programmed yet).
        case maskedEdge
        /// A level pin re-delivered at EOI because its line is still high (`irq`, `vector`; `aux` =
        /// successive re-deliveries so far).
        case redelivered
        /// A redirection entry (or other route) written: `irq` = pin, `value` = the entry's bits. GIC:
        /// an SPI's ITARGETSR byte (`value` = new, `aux` = old).
        case routeWritten
        /// The vCPU halted (HLT exit / WFI) and woke.
        case halted
        case woke
        /// A vCPU halted while an interrupt it could take was pending, and was not woken (`vector`).
        case haltedWithPending
        /// The task priority (x86 TPR, GIC PMR) written: `value`.
        case priorityWritten
        /// GIC: an active interrupt deactivated at a CPU (`irq`): GICC_DIR with EOImode 1, or the
        /// GICC_EOIR of EOImode 0, which drops the priority (``eoi``) and deactivates. Until then the
        /// interrupt is not acknowledged again on that CPU (GICv2 architecture spec, "Priority drop and
        /// interrupt deactivation"; QEMU `gic_deactivate_irq`).
        case deactivated
        /// A message delivered to another destination than the routing entry the guest last wrote
        /// names (QEMU VT-d: `vtd_ir_remap` disagreeing with the IRTE `vtd_ir_irte_get` just read, as
        /// a remapping unit translating with a stale cached IRTE does): `cpu` = the APIC ID it went
        /// to, `vector` = the vector it carried, `value` = the APIC ID the entry names, `irq` = the
        /// IRTE index, `aux` = the entry's vector.
        case misrouted
        /// Another VM began (x86 KVM: a new thread took over a vCPU while the VM's own threads had stopped:
        /// VMs one after another in one host trace). Every model is back at reset from here; `cpu` = the
        /// APIC ID the new thread runs, `value` = the index of the ended VM's final state in the
        /// buffer's ``TransitionBuffer/vmEnds``, `aux` = the VM's number (the first is 0).
        case vmStarted
    }

    /// Why a request reached no CPU.
    public enum DropReason: Int64, Sendable {
        /// The destination exists and the message was sent, but no LAPIC accepted it (GIC: an edge
        /// reached the distributor, and no pending state followed).
        case notAccepted = 1
        /// Vectors 0–15 are illegal for fixed delivery: the APIC drops them (SDM 10.5.3).
        case illegalVector = 2
        /// No CPU has the destination the message names.
        case noSuchDestination = 3
        /// GIC: an SGI from a second source CPU, pending at the target beside the same SGI from another
        /// source, that the GIC did not keep (one pending state per SGI instead of per SGI and source):
        /// `value` = the lost sources' CPU mask.
        case merged = 4
        /// MSI-X: a vector unmasked with its pending bit set, whose message the function did not
        /// send (PCI 3.0 §6.8.2.9; QEMU msix_handle_mask_update): `irq` = the table entry, `value` =
        /// the device's key, `cpu`/`vector` = the message's destination and vector.
        case msixUnmaskNotSent = 5
    }

    // (Declared widest first: Swift lays a struct out in declaration order, and this order packs it in
    // 48 bytes where kind-first took 56. `analyze` hands about one transition per event from the
    // replaying thread to the detector thread: its size is memory traffic.)
    public var eventIndex: Int
    public var timeNs: Int64
    public var value: Int64
    public var aux: Int64
    public var cpu: Int32
    public var irq: Int32
    public var vector: Int16
    public var kind: Kind

    public init(_ kind: Kind, event: Int, time: Int64, cpu: Int32 = -1, vector: Int16 = -1, irq: Int32 = -1, value: Int64 = 0, aux: Int64 = 0) {
        self.kind = kind
        self.eventIndex = event
        self.timeNs = time
        self.cpu = cpu
        self.vector = vector
        self.irq = irq
        self.value = value
        self.aux = aux
    }
}
