/// A PCI function's MSI-X table and Pending Bit Array (PBA), as the PCI Local Bus Specification 3.0
/// §6.8.2 defines them and QEMU's MSI-X core (hw/pci/msix.c, 7.2) implements them:
///
/// - each table entry (16 bytes, §6.8.2.6–9) holds a Message Address, Message Data and Vector
///   Control, whose bit 0 is the per-vector Mask Bit (set at reset);
/// - the Message Control word of the capability (§6.8.2.3) holds MSI-X Enable (bit 15) and
///   Function Mask (bit 14);
/// - a vector is masked when its Mask Bit or the Function Mask is set. QEMU also counts a vector
///   of a function with MSI-X disabled as masked (`msix_function_masked = !enabled || maskall`,
///   `msix_update_function_masked`), so an event while disabled latches the pending bit too;
/// - an interrupt on a masked vector is not sent: the function sets the vector's pending bit in
///   the PBA (§6.8.2.10; QEMU `msix_notify` → `msix_set_pending`);
/// - when a vector becomes unmasked with its pending bit set, the function clears the bit and
///   sends the message (§6.8.2.9 "if a masked vector has its Pending Bit set, and the associated
///   underlying interrupt events are somehow satisfied (usually by software)… the function must
///   clear the Pending Bit"; otherwise it sends the message once unmasked: QEMU
///   `msix_handle_mask_update` → `msix_clr_pending` + `msix_notify`);
/// - a change of the effective mask calls the device's vector notifiers (QEMU
///   `msix_fire_vector_notifier`: *use* on unmask, *release* on mask), which is what VFIO traces
///   (`vfio_msix_vector_do_use`, `vfio_msix_vector_release`).
///
/// Not modelled: a device clearing a pending bit because its cause went away while masked (the
/// spec allows it; QEMU's core does it only when a vector is un-used), and Message Address/Data
/// writes while unmasked (the spec leaves the result undefined; QEMU sends with the new values).
public struct MSIXTable: Sendable, Equatable {
    /// One table entry.
    public struct Entry: Sendable, Equatable {
        /// Message Address (upper and lower) and Message Data.
        public var message: MSIMessage
        /// Vector Control bit 0, the per-vector Mask Bit (1 after reset, §6.8.2.9).
        public var masked: Bool

        public init(message: MSIMessage = MSIMessage(address: 0, data: 0), masked: Bool = true) {
            self.message = message
            self.masked = masked
        }
    }

    /// Which vector notifier QEMU's MSI-X core calls for an effective mask change.
    public enum Notifier: Sendable, Equatable {
        /// The vector became unmasked (`msix_vector_use_notifier`: VFIO's `vfio_msix_vector_do_use`).
        case use
        /// The vector became masked (`msix_vector_release_notifier`: VFIO's `vfio_msix_vector_release`).
        case release
    }

    /// What a mask change did to one vector.
    public struct MaskUpdate: Sendable, Equatable {
        public var vector: Int
        /// nil: the effective mask did not change (no notifier, nothing sent).
        public var notifier: Notifier?
        /// The message sent because the vector was unmasked with its pending bit set.
        public var sent: MSIMessage?
    }

    public private(set) var entries: [Entry]
    /// The Pending Bit Array, one bit per vector.
    public private(set) var pending: [Bool]
    /// Message Control bit 15: MSI-X Enable (0 after reset).
    public private(set) var enabled: Bool
    /// Message Control bit 14: Function Mask (0 after reset).
    public private(set) var functionMasked: Bool

    /// A table of `vectors` entries (Table Size + 1, at most 2048) in its reset state: every vector
    /// masked, nothing pending, MSI-X disabled.
    public init(vectors: Int, enabled: Bool = false, functionMasked: Bool = false) {
        precondition(vectors > 0 && vectors <= 2048, "MSI-X tables have 1–2048 entries")
        entries = Array(repeating: Entry(), count: vectors)
        pending = Array(repeating: false, count: vectors)
        self.enabled = enabled
        self.functionMasked = functionMasked
    }

    public var count: Int { entries.count }

    /// QEMU `msix_is_masked`: the vector's Mask Bit, the Function Mask, or MSI-X disabled.
    public func isMasked(_ vector: Int) -> Bool { !enabled || functionMasked || entries[vector].masked }

    public func isPending(_ vector: Int) -> Bool { pending[vector] }

    /// The guest writes an entry's Message Address/Data (QEMU sends later messages with them).
    public mutating func writeMessage(_ vector: Int, _ message: MSIMessage) {
        entries[vector].message = message
    }

    /// The function signals `vector` (QEMU `msix_notify`): the message to send, or nil when the
    /// vector is masked and its pending bit was latched instead.
    public mutating func signal(_ vector: Int) -> MSIMessage? {
        if isMasked(vector) {
            pending[vector] = true
            return nil
        }
        return entries[vector].message
    }

    /// The guest writes the Mask Bit of an entry's Vector Control (QEMU `msix_table_mmio_write` →
    /// `msix_handle_mask_update`).
    public mutating func setMask(_ vector: Int, masked: Bool) -> MaskUpdate {
        let was = isMasked(vector)
        entries[vector].masked = masked
        return maskChanged(vector, wasMasked: was)
    }

    /// QEMU `msix_handle_mask_update`: on an effective mask change, the notifier; on unmask with the
    /// pending bit set, clear it and send the message.
    mutating func maskChanged(_ vector: Int, wasMasked: Bool) -> MaskUpdate {
        let now = isMasked(vector)
        guard now != wasMasked else { return MaskUpdate(vector: vector, notifier: nil, sent: nil) }
        var update = MaskUpdate(vector: vector, notifier: now ? .release : .use, sent: nil)
        if !now && pending[vector] {
            pending[vector] = false
            update.sent = entries[vector].message
        }
        return update
    }

    /// The guest writes the Message Control word (QEMU `msix_write_config`). Enabling MSI-X or
    /// clearing the Function Mask unmasks every vector whose Mask Bit is clear, each with its
    /// notifier and its pending message; setting the Function Mask masks them. Disabling MSI-X
    /// changes no vector (QEMU returns before the per-vector updates: the notifiers were
    /// unregistered by the device, e.g. `vfio_msix_disable`) and keeps the PBA.
    /// - Returns: the vectors whose effective mask changed, in vector order.
    public mutating func writeControl(enabled: Bool, functionMasked: Bool) -> [MaskUpdate] {
        let wasMasked = (0..<count).map(isMasked)
        let wasFunctionMasked = !self.enabled || self.functionMasked
        self.enabled = enabled
        self.functionMasked = functionMasked
        guard enabled, wasFunctionMasked != (!enabled || functionMasked) else { return [] }
        var updates: [MaskUpdate] = []
        for v in 0..<count {
            let u = maskChanged(v, wasMasked: wasMasked[v])
            if u.notifier != nil { updates.append(u) }
        }
        return updates
    }
}
