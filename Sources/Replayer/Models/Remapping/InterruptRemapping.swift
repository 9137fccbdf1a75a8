/// VT-d interrupt remapping as QEMU's intel_iommu.c does it (semantics.md §3.4): an MSI request in
/// remappable format selects an IRTE, which gives the real vector, destination and modes.
public struct InterruptRemapping: Hashable, Sendable, Codable {
    /// Remapping enabled (GCMD.IRE).
    public var enabled = false
    /// Extended interrupt mode (x2APIC destinations); off: the APIC ID is DST bits 15:8.
    public var extendedInterruptMode = false
    /// Number of IRTEs (from IRTA's size field).
    public var tableSize = 65536
    /// IRTEs as last read by the IOMMU (index → entry).
    public var entries: [Int: IRTE] = [:]

    public init() {}

    /// The translated message, or the fault. Compatibility-format requests pass through unchanged.
    /// - Parameter sourceID: the requester id, when known, for source validation.
    public func remap(_ request: MSIMessage, sourceID: UInt16? = nil) -> Result<MSIMessage, RemapFault> {
        guard enabled else { return .success(request) }
        if request.address >> 32 != 0 || !request.isInterruptAddress { return .failure(.requestReserved) }
        guard request.remappable else { return .success(request) }
        let index = request.remapIndex
        guard index < tableSize else { return .failure(.indexOverflow) }
        guard let irte = entries[index] else { return .failure(.rootInvalid) }
        guard irte.present else { return .failure(.notPresent) }
        if irte.reservedBitsSet { return .failure(.reservedBits) }
        if let sid = sourceID {
            switch irte.sourceValidation {
            case 0: break
            case 1:
                let mask: UInt16 = [0xFFFF, 0xFFFB, 0xFFF9, 0xFFF8][Int(irte.sourceQualifier)]
                if irte.sourceID & mask != sid & mask { return .failure(.sourceIDMismatch) }
            case 2:
                let bus = UInt8(sid >> 8)
                if bus < UInt8(truncatingIfNeeded: irte.sourceID) || bus > UInt8(irte.sourceID >> 8) { return .failure(.sourceIDMismatch) }
            default:
                return .failure(.sourceIDMismatch)
            }
        }
        if request.subhandleValid && request.data & 0xFFFF_0000 != 0 { return .failure(.requestReserved) }
        var dest = irte.destination
        if !extendedInterruptMode { dest = (dest & 0xFF00) >> 8 }
        // x86_iommu_irq_to_msi_message.
        let address: UInt64 = 0xFEE0_0000 | (UInt64(dest & 0xFF) << 12) | (irte.redirectionHint ? 8 : 0)
            | (irte.logical ? 4 : 0) | (request.address & 3) | (UInt64(dest & 0xFFFF_FF00) << 32)
        let data = UInt32(irte.vector) | UInt32(irte.deliveryMode.rawValue) << 8 | 1 << 14 | (irte.levelTriggered ? 1 << 15 : 0)
        return .success(MSIMessage(address: address, data: data))
    }
}
