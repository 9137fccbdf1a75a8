# make-vmx-fixture.py — writes Tests/ReplayerTests/Fixtures/vmx-constructed.trace.txt: a CONSTRUCTED (not recorded)
# tracefs text trace of a VMX KVM host in the exact Linux 6.18 tracepoint formats (shared/reference/tracefs-6.18),
# for the VMX/SVM replay tests. No VMX or SVM host is available here (this one runs kvm_pvm), so the sequences
# follow KVM's lapic.c/vmx.c event order instead of a recording. Usage: python3 make-vmx-fixture.py > FILE
T=[100_000_000]
def line(comm,pid,cpu,flags,ev,args,dt=7):
    T[0]+=dt
    t=T[0]
    return "%16s-%-7d [%03d] %s %5d.%06d: %s: %s" % (comm,pid,cpu,flags,t//1_000_000,t%1_000_000,ev,args)
V0=("CPU 0/KVM",4242,2); V1=("CPU 1/KVM",4243,3); Q=("qemu-system-x86",4200,1)
def ev(who,e,a,dt=7,flags="....."): return line(who[0],who[1],who[2],flags,e,a,dt)
rip="rip 0xffffffff81000010"
entry=lambda v: "vcpu %d, %s intr_info 0x00000000 error_code 0x00000000" % (v, rip)
def exit_(v,r): return "vcpu %d reason %s %s info1 0x0000000000000000 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000 requests 0x0000000000000000" % (v,r,rip)
L=[]
A=L.append
A(ev(V0,"kvm_entry",entry(0))); A(ev(V1,"kvm_entry",entry(1)))
for who,v in ((V0,0),(V1,1)):
    A(ev(who,"kvm_exit",exit_(v,"APIC_ACCESS"))); A(ev(who,"kvm_mmio","mmio write len 4 gpa 0xfee000f0 val 0x1ff")); A(ev(who,"kvm_apic","apic_write APIC_SPIV = 0x1ff")); A(ev(who,"kvm_entry",entry(v)))
# vCPU 0 programs IOAPIC pin 10: vector 0x31, level, physical dest 0
for gpa,val in ((0xfec00000,0x24),(0xfec00010,0x8031),(0xfec00000,0x25),(0xfec00010,0x0)):
    A(ev(V0,"kvm_exit",exit_(0,"EPT_MISCONFIG"))); A(ev(V0,"kvm_mmio","mmio write len 4 gpa 0x%x val 0x%x" % (gpa,val))); A(ev(V0,"kvm_entry",entry(0)))
# An MSI from userspace, injected and EOI'd; an interrupted injection re-injected
A(ev(Q,"kvm_msi_set_irq","dst 0 vec 34 (Fixed|physical|edge)",50)); A(ev(Q,"kvm_apic_accept_irq","apicid 0 vec 34 (Fixed|edge)",1,"...1."))
A(ev(V0,"kvm_exit",exit_(0,"EXTERNAL_INTERRUPT"))); A(ev(V0,"kvm_inj_virq","IRQ 0x22",1,"d..1.")); A(ev(V0,"kvm_entry",entry(0)))
A(ev(V0,"kvm_exit",exit_(0,"EPT_VIOLATION"))); A(ev(V0,"kvm_inj_virq","IRQ 0x22 [reinjected]",1,"d..1.")); A(ev(V0,"kvm_entry",entry(0)))
A(ev(V0,"kvm_inj_virq","Soft/INTn 0x80",3,"d..1."))
A(ev(V0,"kvm_exit",exit_(0,"APIC_ACCESS"))); A(ev(V0,"kvm_apic","apic_write APIC_EOI = 0x0")); A(ev(V0,"kvm_eoi","apicid 0 vector 34")); A(ev(V0,"kvm_entry",entry(0)))
# vCPU 1 halts; vCPU 0 sends it an IPI; vCPU 1 wakes, takes it, PV-EOIs it
A(ev(V1,"kvm_exit",exit_(1,"HLT")))
A(ev(V0,"kvm_exit",exit_(0,"APIC_WRITE"))); A(ev(V0,"kvm_apic","apic_write APIC_ICR2 = 0x1000000")); A(ev(V0,"kvm_apic","apic_write APIC_ICR = 0xfb"))
A(ev(V0,"kvm_apic_ipi","dst 1 vec 251 (Fixed|physical|assert|edge|dst)")); A(ev(V0,"kvm_apic_accept_irq","apicid 1 vec 251 (Fixed|edge)",1,"...1.")); A(ev(V0,"kvm_entry",entry(0)))
A(ev(V1,"kvm_vcpu_wakeup","wait time 20000 ns, polling valid")); A(ev(V1,"kvm_inj_virq","IRQ 0xfb",2,"d..1.")); A(ev(V1,"kvm_entry",entry(1)))
A(ev(V1,"kvm_exit",exit_(1,"MSR_WRITE"))); A(ev(V1,"kvm_eoi","apicid 1 vector 251")); A(ev(V1,"kvm_pv_eoi","apicid 1 vector 251")); A(ev(V1,"kvm_entry",entry(1)))
# A level interrupt on IOAPIC pin 10: accepted (printed before kvm_ioapic_set_irq), injected, line dropped, EOI, IOAPIC ack
A(ev(Q,"kvm_set_irq","gsi 10 level 1 source 0",40)); A(ev(Q,"kvm_apic_accept_irq","apicid 0 vec 49 (Fixed|level)",2,"...1.")); A(ev(Q,"kvm_ioapic_set_irq","pin 10 dst 0 vec 49 (Fixed|physical|level)",1,"...1."))
A(ev(V0,"kvm_exit",exit_(0,"EXTERNAL_INTERRUPT"))); A(ev(V0,"kvm_inj_virq","IRQ 0x31",1,"d..1.")); A(ev(V0,"kvm_entry",entry(0)))
A(ev(Q,"kvm_set_irq","gsi 10 level 0 source 0")); A(ev(Q,"kvm_ioapic_set_irq","pin 10 dst 0 vec 49 (Fixed|physical|level)",1,"...1."))
A(ev(V0,"kvm_exit",exit_(0,"APIC_ACCESS"))); A(ev(V0,"kvm_apic","apic_write APIC_EOI = 0x0")); A(ev(V0,"kvm_eoi","apicid 0 vector 49")); A(ev(V0,"kvm_ack_irq","irqchip IOAPIC pin 10",1)); A(ev(V0,"kvm_entry",entry(0)))
# TPR 0x50 blocks 0x41; 0x61 is taken first; after TPR 0, 0x41
A(ev(V0,"kvm_exit",exit_(0,"APIC_ACCESS"))); A(ev(V0,"kvm_apic","apic_write APIC_TASKPRI = 0x50")); A(ev(V0,"kvm_entry",entry(0)))
A(ev(Q,"kvm_msi_set_irq","dst 0 vec 65 (Fixed|physical|edge)",30)); A(ev(Q,"kvm_apic_accept_irq","apicid 0 vec 65 (Fixed|edge)",1,"...1."))
A(ev(Q,"kvm_msi_set_irq","dst 0 vec 97 (Fixed|physical|edge)",30)); A(ev(Q,"kvm_apic_accept_irq","apicid 0 vec 97 (Fixed|edge)",1,"...1."))
A(ev(V0,"kvm_exit",exit_(0,"EXTERNAL_INTERRUPT"))); A(ev(V0,"kvm_inj_virq","IRQ 0x61",1,"d..1.")); A(ev(V0,"kvm_entry",entry(0)))
A(ev(V0,"kvm_exit",exit_(0,"APIC_ACCESS"))); A(ev(V0,"kvm_apic","apic_write APIC_EOI = 0x0")); A(ev(V0,"kvm_eoi","apicid 0 vector 97")); A(ev(V0,"kvm_entry",entry(0)))
A(ev(V0,"kvm_exit",exit_(0,"APIC_ACCESS"))); A(ev(V0,"kvm_apic","apic_write APIC_TASKPRI = 0x0")); A(ev(V0,"kvm_inj_virq","IRQ 0x41",1,"d..1.")); A(ev(V0,"kvm_entry",entry(0)))
# Nested: 0x61 preempts 0x41 in service; EOIs retire 0x61 then 0x41; a spurious EOI retires nothing
A(ev(Q,"kvm_msi_set_irq","dst 0 vec 97 (Fixed|physical|edge)",30)); A(ev(Q,"kvm_apic_accept_irq","apicid 0 vec 97 (Fixed|edge)",1,"...1."))
A(ev(V0,"kvm_exit",exit_(0,"EXTERNAL_INTERRUPT"))); A(ev(V0,"kvm_inj_virq","IRQ 0x61",1,"d..1.")); A(ev(V0,"kvm_entry",entry(0)))
for v in (97,65,-1):
    A(ev(V0,"kvm_exit",exit_(0,"APIC_ACCESS"))); A(ev(V0,"kvm_apic","apic_write APIC_EOI = 0x0")); A(ev(V0,"kvm_eoi","apicid 0 vector %d" % v)); A(ev(V0,"kvm_entry",entry(0)))
# An IPI printed by vCPU 1 on CPU 3 whose injection on CPU 2 (clock 10 us behind) prints before it
T[0]+=100; base=T[0]
A(line(V0[0],V0[1],2,"d..1.","kvm_inj_virq","IRQ 0xf0",0))
T[0]=base+10; A(ev(V1,"kvm_apic_ipi","dst 0 vec 240 (Fixed|physical|assert|edge|dst)",0)); A(ev(V1,"kvm_apic_accept_irq","apicid 0 vec 240 (Fixed|edge)",1,"...1."))
A(ev(V0,"kvm_eoi","apicid 0 vector 240",5))
print("\n".join(L))
