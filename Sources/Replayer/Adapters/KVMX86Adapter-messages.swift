import TraceFormat

/// What the KVM x86 adapter knows of one thread's interrupt messages. KVM sends a message and
/// traces its acceptances on the thread that sent it, within the same KVM call
/// (kvm_irq_delivery_to_apic runs synchronously in the ioctl, the MMIO/MSR write or the EOI).
struct MessageThread: Codable {
    /// Messages whose acceptances must follow on the thread, oldest first.
    var pending: [X86Machine.Message] = []
    /// The event that sent the last of them.
    var lastSend: KVMX86Adapter.Send?
    /// The thread's last acceptance (kvm_apicv_accept_irq repeats it).
    var lastAccept: KVMX86Adapter.Acceptance?
    /// Its messages still wait for their acceptances: the KVM call that sent them is not over.
    var open = false
    /// Some APIC already accepted the first pending message (a multi-destination message: the other
    /// destinations may decline it).
    var headAccepted = false

    /// Ends the thread's KVM call (nothing more will be accepted for it); true when it was open.
    mutating func close() -> Bool {
        headAccepted = false
        guard open else { return false }
        open = false
        return true
    }
}

extension KVMX86Adapter {
    struct Acceptance: Codable, Equatable { var apicID: UInt32; var vector: UInt8 }

    /// A message sent on `thread`: its acceptances follow on the same thread, within the same KVM call.
    mutating func send(_ m: X86Machine.Message, _ b: EventBatch, _ i: Int, thread: Int32, from source: MessageSource, pin: Int = -1) {
        let t = messageThreads.slot(of: thread, orInsert: MessageThread())
        messageThreads[slot: t].pending.append(m)
        if !messageThreads[slot: t].open { messageThreads[slot: t].open = true; openThreadCount += 1 }
        messageThreads[slot: t].lastSend = Send(event: b.eventIndex(i), time: b.time(i), source: source, pin: Int32(pin))
    }

    /// Marks `thread` closed (its KVM call over, nothing pending).
    @inline(__always)
    mutating func close(slot t: Int) {
        if messageThreads[slot: t].close() { openThreadCount -= 1 }
    }

    mutating func closeIfDone(_ thread: Int32) {
        guard let t = messageThreads.slot(of: thread) else { return }
        if messageThreads[slot: t].pending.isEmpty { close(slot: t) }
    }

    /// Whether `thread`'s messages still wait for their acceptances.
    @inline(__always)
    func isOpen(_ thread: Int32) -> Bool {
        guard let t = messageThreads.slot(of: thread) else { return false }
        return messageThreads[slot: t].open
    }

    /// The open threads, in ascending order.
    func openThreads() -> [Int32] {
        guard openThreadCount > 0 else { return [] }
        return messageThreads.filter { $0.value.open }.map(\.key).sorted()
    }

    func lastSend(_ thread: Int32) -> Send? {
        guard let t = messageThreads.slot(of: thread) else { return nil }
        return messageThreads[slot: t].lastSend
    }

    /// The KVM call that sent `thread`'s pending messages is over (another kind of event came on that
    /// thread, or the trace ended): those no APIC accepted reached nobody.
    mutating func closeSends(at now: (event: Int, time: Int64), thread: Int32, observed: String) {
        guard let t = messageThreads.slot(of: thread) else { return }
        let list = messageThreads[slot: t].pending, headAccepted = messageThreads[slot: t].headAccepted
        let origin = messageThreads[slot: t].lastSend
        messageThreads[slot: t].pending = []
        close(slot: t)
        for (idx, m) in list.enumerated() where !(idx == 0 && headAccepted) {
            dropped(m, at: now, origin: origin, observed: observed)
        }
    }
}
