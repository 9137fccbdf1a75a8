/// What a device's interrupt clock needs of its scenario entry, as plain numbers: read at every
/// device interrupt, where copying the `Scenario.Device` (names, kinds and lists as Strings and
/// arrays) would cost reference counting per event.
struct DeviceClock: Sendable {
    /// Poisson rate of each queue's interrupts (0: the device is silent).
    var rateHz: Double
    /// The mean gap between a queue's interrupts, `1e9 / rateHz` ns: divided once, not per interrupt.
    var meanGapNs: Double
    /// Mean burst length (geometric; 1: single interrupts).
    var burst: Double
    /// Rate of affinity changes (0: none).
    var affinityChangeHz: Double
    /// An emulated MSI-X device whose queues keep their vCPU: the msi-flood fault's candidates.
    var floodable: Bool

    init(_ d: Scenario.Device) {
        rateHz = d.rateHz
        meanGapNs = 1e9 / d.rateHz
        burst = d.burst ?? 1
        affinityChangeHz = d.affinityChangeHz ?? 0
        floodable = d.kind == "msix" && affinityChangeHz == 0
    }

    static func table(_ scenario: Scenario) -> [DeviceClock] { scenario.devices.map(DeviceClock.init) }
}
