# make-arm64-kvm-fixture.py — writes Tests/ReplayerTests/Fixtures/arm64-kvm-constructed.trace.txt: a CONSTRUCTED
# (not recorded) tracefs text trace of an arm64 KVM host with an in-kernel vGIC, in the tracepoint formats
# of arch/arm64/kvm/trace_arm.h and vgic/trace.h, for the arm64 KVM replay tests. No arm64 host is
# available here, so the sequences follow arm.c (kvm_vm_ioctl_irq_line), arch_timer.c
# (kvm_timer_update_irq) and vgic.c (kvm_vgic_inject_irq) instead of a recording.
# Usage: python3 make-arm64-kvm-fixture.py > FILE
T = [200_000_000]
def line(comm, pid, cpu, ev, args, dt=9, flags="....."):
    T[0] += dt
    t = T[0]
    return "%16s-%-7d [%03d] %s %5d.%06d: %s: %s" % (comm, pid, cpu, flags, t // 1_000_000, t % 1_000_000, ev, args)
V0 = ("CPU 0/KVM", 3001, 0); V1 = ("CPU 1/KVM", 3002, 1); Q = ("qemu-system-aar", 3000, 2)
def ev(who, e, a, dt=9, flags="....."): return line(who[0], who[1], who[2], e, a, dt, flags)
pc = "PC: 0xffff800008123456"
L = []
A = L.append
A(ev(V0, "kvm_entry", pc)); A(ev(V1, "kvm_entry", pc))
# The virtual timer of vCPU 0 fires: its line goes high, the vGIC makes PPI 27 pending
A(ev(V0, "kvm_exit", "IRQ: HSR_EC: 0x0000 (UNKNOWN), " + pc))
A(ev(V0, "kvm_timer_update_irq", "VCPU: 0, IRQ 27, level 1")); A(ev(V0, "vgic_update_irq_pending", "VCPU: 0, IRQ 27, level: 1", 1))
A(ev(V0, "kvm_entry", pc))
# A device model in userspace raises and lowers SPI 48 (KVM_IRQ_LINE)
A(ev(Q, "kvm_irq_line", "Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 48, level: 1", 40)); A(ev(Q, "vgic_update_irq_pending", "VCPU: 0, IRQ 48, level: 1", 1))
A(ev(V0, "kvm_exit", "TRAP: HSR_EC: 0x0024 (DABT_LOW), " + pc))
A(ev(Q, "kvm_irq_line", "Inject VGIC SPI interrupt (1), vcpu->idx: 0, num: 48, level: 0", 30)); A(ev(Q, "vgic_update_irq_pending", "VCPU: 0, IRQ 48, level: 0", 1))
A(ev(V0, "kvm_entry", pc))
# A PPI for vCPU 1 from userspace; a CPU-type line (no vGIC involved) is not injected into the vGIC
A(ev(Q, "kvm_irq_line", "Inject VGIC PPI interrupt (2), vcpu->idx: 1, num: 23, level: 1", 30)); A(ev(Q, "vgic_update_irq_pending", "VCPU: 1, IRQ 23, level: 1", 1))
A(ev(Q, "kvm_irq_line", "Inject CPU interrupt (0), vcpu->idx: 0, num: 0, level: 1", 30))
# vCPU 1 waits for an interrupt; its vPMU overflows (no traced cause); its timer line drops
A(ev(V1, "kvm_exit", "TRAP: HSR_EC: 0x0001 (WFx), " + pc))
A(ev(V1, "vgic_update_irq_pending", "VCPU: 1, IRQ 23, level: 0", 20))
A(ev(V1, "kvm_timer_update_irq", "VCPU: 1, IRQ 27, level 0")); A(ev(V1, "vgic_update_irq_pending", "VCPU: 1, IRQ 27, level: 0", 1))
A(ev(V1, "kvm_entry", pc))
A(ev(V0, "kvm_timer_update_irq", "VCPU: 0, IRQ 27, level 0", 50)); A(ev(V0, "vgic_update_irq_pending", "VCPU: 0, IRQ 27, level: 0", 1))
print("\n".join(L))
