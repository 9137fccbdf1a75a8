/*
 * tinyvmm.c: a tiny two-vCPU VMM on raw KVM ioctls that makes the in-kernel
 * LAPIC/IOAPIC/PIC emit real kvm_* interrupt trace events, for irqtrace's
 * sample recordings (scripts/kvm-guest/record-kvm-traces.sh).
 *
 *   tinyvmm [--marker /sys/kernel/tracing/instances/NAME/trace_marker] SCENARIO
 *   tinyvmm --list | --dump-guest
 *
 * Scenarios (each under a second): msi, ioapic-edge, ioapic-level,
 * ioapic-level-held, ipi, tpr, coalesce; and seven that make KVM show a real
 * fault (docs/ANALYZERS.md): idt-fault, misroute, resend-pending, masked-edge,
 * level-storm, halt-cli, halt-tpr.
 *
 * VM: KVM_CREATE_VM, KVM_CREATE_IRQCHIP (in-kernel LAPIC + IOAPIC + PIC),
 * KVM_SET_GSI_ROUTING (GSI 0-15 -> PIC + IOAPIC pin, 16-23 -> IOAPIC pin,
 * 24/25 -> MSI to vCPU 0/1), 2 MiB of RAM at 0 (KVM_SET_USER_MEMORY_REGION),
 * two vCPUs (KVM_CREATE_VCPU, KVM_SET_CPUID2, KVM_SET_SREGS/REGS, vCPU 1 made
 * runnable with KVM_SET_MP_STATE), one thread each in KVM_RUN.
 *
 * Guest (guest_image[] below, source in guest.S): 32-bit protected mode, flat.
 * vCPU 0 builds an IDT whose 256 gates go to 8-byte stubs "call common"; the
 * common handler finds the vector from the return address, logs it, optionally
 * tells the VMM (DEVACK port, "the device deasserts its line"), writes the
 * LAPIC EOI and irets. #NP and #GP (a vector whose IDT gate the guest cleared
 * faults on delivery) are counted and return to the interrupted code; other
 * exceptions stop the VMM. Each vCPU reads its APIC ID, enables its LAPIC
 * (SVR = 0x1ff), masks LINT0 and sets TPR 0, reports READY, then loops on
 * commands read with IN from port 0x501 (arguments in a per-vCPU mailbox in
 * guest memory):
 *   IDLE n     cli; while handled < n: sti; hlt   (the "sti; hlt" loop)
 *   SPIN n     sti; loop n times; cli             (delivery without HLT)
 *   WRITE a,v  mov [a], v   (LAPIC TPR/ICR/EOI/LDR, IOAPIC IOREGSEL/IOWIN, IDT)
 *   READ a     mov result, [a]
 *   HALT_CLI   cli; hlt     (only an NMI or a signal to its thread ends it)
 *   EXIT
 * The VMM's main thread drives a scenario: it hands commands to the vCPUs and
 * injects interrupts with KVM_SIGNAL_MSI and KVM_IRQ_LINE_STATUS (KVM_IRQ_LINE
 * with the delivery status returned) while they sit in HLT.
 *
 * Output (stdout): one line per VMM action (injections are followed by a
 * "  -> ..." line with the ioctl's return value), then the guest's own log
 * (vCPU, vector, in handling order) and per-vCPU counts: ground truth for the
 * trace. With --marker, every action line except the "  -> " results is also
 * written to that trace_marker (before the ioctl), so it shows up in the trace
 * as a tracing_mark_write just ahead of the events it causes.
 *
 * At the end every vCPU waiting for a command gets EXIT; one still in the guest
 * (halted for good) is kicked out of KVM_RUN with SIGUSR1, as a VMM does at
 * shutdown: KVM_RUN returns EINTR, and KVM traces the end of its halt
 * (kvm_vcpu_wakeup with the time it blocked).
 *
 * Exit status: 0 if every wait finished, 1 on a timeout or guest fault, 2 on
 * a setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* ---- guest memory map and ports (must match guest.S) ---- */
#define MEM_SIZE      (2u << 20)
#define IMAGE_ADDR    0x1000u
#define VFLAGS_ADDR   0x4000u   /* u8[256]: per-vector handler flags */
#define VF_DEVACK     0x01u     /*   OUT vector to PORT_DEVACK before the EOI */
#define VF_NOEOI      0x02u     /*   no EOI (the spurious vector) */
#define COUNT_ADDR    0x4100u   /* u32[cpu]: interrupts handled */
#define ABORT_ADDR    0x4180u   /* u32: break IDLE waits */
#define EXCOUNT_ADDR  0x4190u   /* u32[cpu]: #NP/#GP taken (delivery through a cleared IDT gate) */
#define IDT_ADDR      0x2000u   /* 256 interrupt gates, 8 bytes each */
#define STUBS_ADDR    0x3000u   /* the gates' handlers, 8 bytes each */
#define LOGIDX_ADDR   0x4200u   /* u32: next guest log slot */
#define MBOX_ADDR     0x4400u   /* 16 bytes per vCPU: op, arg1, arg2, result */
#define LOG_ADDR      0x5000u   /* u32[2048]: 0x80000000 | cpu<<8 | vector */
#define LOG_SLOTS     2048u
#define STACK_TOP(c)  (0x9000u + 0x1000u * (c))

#define PORT_READY    0x500
#define PORT_CMD      0x501
#define PORT_DEVACK   0x502
#define PORT_EXIT     0x503
#define PORT_FAULT    0x504

enum { OP_IDLE = 1, OP_SPIN = 2, OP_WRITE = 3, OP_READ = 4, OP_HALT_CLI = 5, OP_EXIT = 0xff };

/* LAPIC (xAPIC MMIO) and IOAPIC registers */
#define LAPIC_BASE    0xfee00000u
#define APIC_TPR      0x080
#define APIC_PPR      0x0a0
#define APIC_EOI      0x0b0
#define APIC_LDR      0x0d0
#define APIC_DFR      0x0e0
#define APIC_ISR(n)   (0x100 + 0x10 * (n))   /* vectors 32n..32n+31 */
#define APIC_IRR(n)   (0x200 + 0x10 * (n))
#define APIC_ICR_LO   0x300
#define APIC_ICR_HI   0x310
#define ICR_SELF      (1u << 18)             /* destination shorthand 01 */
#define ICR_ALL_BUT_SELF (3u << 18)          /* destination shorthand 11 */
#define IOAPIC_BASE   0xfec00000u
#define IOAPIC_REGSEL (IOAPIC_BASE + 0x00)
#define IOAPIC_WIN    (IOAPIC_BASE + 0x10)
#define RTE_LEVEL     (1u << 15)
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_MASKED    (1u << 16)

#define NCPU 2

/*
 * The guest, assembled from guest.S (as --32; ld -Ttext=0x1000; objcopy -O binary).
 * Address, bytes, source line. Loaded at IMAGE_ADDR.
 */
static const uint8_t guest_image[] = {
    /* start: */
    /* 1000 */ 0x0f,0x01,0x15,0xb0,0x11,0x00,0x00,        /* lgdt [gdtr] */
    /* 1007 */ 0x85,0xf6,                                 /* test esi, esi */
    /* 1009 */ 0x75,0x4b,                                 /* jnz percpu -- only vCPU 0 builds the shared tables */
    /* 100b */ 0xbf,0x00,0x30,0x00,0x00,                  /* mov edi, STUBS */
    /* 1010 */ 0xbb,0x00,0x20,0x00,0x00,                  /* mov ebx, IDT */
    /* build: */
    /* 1015 */ 0xc6,0x07,0xe8,                            /* mov byte [edi], 0xe8 -- call rel32 */
    /* 1018 */ 0xb8,0xe9,0x10,0x00,0x00,                  /* mov eax, offset common */
    /* 101d */ 0x8d,0x57,0x05,                            /* lea edx, [edi+5] */
    /* 1020 */ 0x29,0xd0,                                 /* sub eax, edx */
    /* 1022 */ 0x89,0x47,0x01,                            /* mov [edi+1], eax */
    /* 1025 */ 0x89,0xf8,                                 /* mov eax, edi -- gate low: selector 0x08, offset 15:0 */
    /* 1027 */ 0x25,0xff,0xff,0x00,0x00,                  /* and eax, 0xffff */
    /* 102c */ 0x0d,0x00,0x00,0x08,0x00,                  /* or eax, 0x00080000 */
    /* 1031 */ 0x89,0x03,                                 /* mov [ebx], eax */
    /* 1033 */ 0x89,0xf8,                                 /* mov eax, edi -- gate high: offset 31:16, P=1 DPL=0 type 0xE */
    /* 1035 */ 0x25,0x00,0x00,0xff,0xff,                  /* and eax, 0xffff0000 */
    /* 103a */ 0x0d,0x00,0x8e,0x00,0x00,                  /* or eax, 0x8e00 */
    /* 103f */ 0x89,0x43,0x04,                            /* mov [ebx+4], eax */
    /* 1042 */ 0x83,0xc7,0x08,                            /* add edi, 8 */
    /* 1045 */ 0x83,0xc3,0x08,                            /* add ebx, 8 */
    /* 1048 */ 0x81,0xfb,0x00,0x28,0x00,0x00,             /* cmp ebx, IDT + 256*8 */
    /* 104e */ 0x72,0xc5,                                 /* jb build */
    /* 1050 */ 0xb0,0xff,                                 /* mov al, 0xff -- mask both 8259 PICs */
    /* 1052 */ 0xe6,0x21,                                 /* out 0x21, al */
    /* 1054 */ 0xe6,0xa1,                                 /* out 0xa1, al */
    /* percpu: */
    /* 1056 */ 0x0f,0x01,0x1d,0xb6,0x11,0x00,0x00,        /* lidt [idtr] */
    /* 105d */ 0xa1,0x20,0x00,0xe0,0xfe,                  /* mov eax, [LAPIC+0x20] -- APIC ID (read, as an OS does at bring-up) */
    /* 1062 */ 0xc7,0x05,0xf0,0x00,0xe0,0xfe,0xff,0x01,0x00,0x00, /* mov dword [LAPIC+0xf0], 0x1ff -- SVR: APIC enable, spurious vector 0xff */
    /* 106c */ 0xc7,0x05,0x50,0x03,0xe0,0xfe,0x00,0x00,0x01,0x00, /* mov dword [LAPIC+0x350], 0x10000 -- LVT LINT0 masked (no ExtINT from the PIC) */
    /* 1076 */ 0xc7,0x05,0x80,0x00,0xe0,0xfe,0x00,0x00,0x00,0x00, /* mov dword [LAPIC+0x80], 0 -- TPR 0 */
    /* 1080 */ 0x89,0xf0,                                 /* mov eax, esi */
    /* 1082 */ 0x66,0xba,0x00,0x05,                       /* mov dx, 0x500 */
    /* 1086 */ 0xef,                                      /* out dx, eax -- READY */
    /* 1087 */ 0x89,0xf3,                                 /* mov ebx, esi -- ebx = this vCPU's mailbox */
    /* 1089 */ 0xc1,0xe3,0x04,                            /* shl ebx, 4 */
    /* 108c */ 0x81,0xc3,0x00,0x44,0x00,0x00,             /* add ebx, MBOX */
    /* cmd_loop: */
    /* 1092 */ 0x66,0xba,0x01,0x05,                       /* mov dx, 0x501 */
    /* 1096 */ 0xed,                                      /* in eax, dx */
    /* 1097 */ 0x8b,0x4b,0x04,                            /* mov ecx, [ebx+4] */
    /* 109a */ 0x8b,0x7b,0x08,                            /* mov edi, [ebx+8] */
    /* 109d */ 0x83,0xf8,0x01,                            /* cmp eax, 1 */
    /* 10a0 */ 0x74,0x30,                                 /* je op_idle */
    /* 10a2 */ 0x83,0xf8,0x02,                            /* cmp eax, 2 */
    /* 10a5 */ 0x74,0x21,                                 /* je op_spin */
    /* 10a7 */ 0x83,0xf8,0x03,                            /* cmp eax, 3 */
    /* 10aa */ 0x74,0x11,                                 /* je op_write */
    /* 10ac */ 0x83,0xf8,0x04,                            /* cmp eax, 4 */
    /* 10af */ 0x74,0x10,                                 /* je op_read */
    /* 10b1 */ 0x83,0xf8,0x05,                            /* cmp eax, 5 */
    /* 10b4 */ 0x74,0x18,                                 /* je op_halt_cli */
    /* 10b6 */ 0x66,0xba,0x03,0x05,                       /* mov dx, 0x503 -- anything else: EXIT */
    /* 10ba */ 0xef,                                      /* out dx, eax */
    /* 10bb */ 0xeb,0xd5,                                 /* jmp cmd_loop */
    /* op_write: WRITE32 [arg1] = arg2 (LAPIC, IOAPIC, ...) */
    /* 10bd */ 0x89,0x39,                                 /* mov [ecx], edi */
    /* 10bf */ 0xeb,0xd1,                                 /* jmp cmd_loop */
    /* op_read: READ32 result = [arg1] */
    /* 10c1 */ 0x8b,0x01,                                 /* mov eax, [ecx] */
    /* 10c3 */ 0x89,0x43,0x0c,                            /* mov [ebx+12], eax */
    /* 10c6 */ 0xeb,0xca,                                 /* jmp cmd_loop */
    /* op_spin: SPIN: arg1 iterations of `loop` with IF=1 */
    /* 10c8 */ 0xfb,                                      /* sti */
    /* spin: */
    /* 10c9 */ 0xe2,0xfe,                                 /* loop spin */
    /* 10cb */ 0xfa,                                      /* cli */
    /* 10cc */ 0xeb,0xc4,                                 /* jmp cmd_loop */
    /* op_halt_cli: HALT_CLI: hlt with IF=0 (only an NMI ends it) */
    /* 10ce */ 0xfa,                                      /* cli */
    /* 10cf */ 0xf4,                                      /* hlt */
    /* 10d0 */ 0xeb,0xc0,                                 /* jmp cmd_loop */
    /* op_idle: IDLE: sti; hlt until COUNT[cpu] >= arg1 or ABORT */
    /* 10d2 */ 0xfa,                                      /* cli */
    /* 10d3 */ 0x39,0x0c,0xb5,0x00,0x41,0x00,0x00,        /* cmp [esi*4 + COUNT], ecx */
    /* 10da */ 0x73,0xb6,                                 /* jae cmd_loop */
    /* 10dc */ 0x83,0x3d,0x80,0x41,0x00,0x00,0x00,        /* cmp dword [ABORT], 0 */
    /* 10e3 */ 0x75,0xad,                                 /* jne cmd_loop */
    /* 10e5 */ 0xfb,                                      /* sti */
    /* 10e6 */ 0xf4,                                      /* hlt */
    /* 10e7 */ 0xeb,0xe9,                                 /* jmp op_idle */
    /* common: */
    /* 10e9 */ 0x87,0x04,0x24,                            /* xchg eax, [esp] -- save eax, take the stub's return address */
    /* 10ec */ 0x53,                                      /* push ebx */
    /* 10ed */ 0x51,                                      /* push ecx */
    /* 10ee */ 0x52,                                      /* push edx */
    /* 10ef */ 0x2d,0x05,0x30,0x00,0x00,                  /* sub eax, STUBS + 5 */
    /* 10f4 */ 0xc1,0xe8,0x03,                            /* shr eax, 3 -- eax = vector */
    /* 10f7 */ 0x89,0xe3,                                 /* mov ebx, esp */
    /* 10f9 */ 0x81,0xeb,0x00,0x80,0x00,0x00,             /* sub ebx, 0x8000 */
    /* 10ff */ 0xc1,0xeb,0x0c,                            /* shr ebx, 12 -- ebx = vCPU index from the stack page */
    /* 1102 */ 0xb9,0x01,0x00,0x00,0x00,                  /* mov ecx, 1 -- LOG[lock xadd LOGIDX] = valid | cpu<<8 | vector */
    /* 1107 */ 0xf0,0x0f,0xc1,0x0d,0x00,0x42,0x00,0x00,   /* lock xadd [LOGIDX], ecx */
    /* 110f */ 0x81,0xe1,0xff,0x07,0x00,0x00,             /* and ecx, 0x7ff */
    /* 1115 */ 0x89,0xda,                                 /* mov edx, ebx */
    /* 1117 */ 0xc1,0xe2,0x08,                            /* shl edx, 8 */
    /* 111a */ 0x09,0xc2,                                 /* or edx, eax */
    /* 111c */ 0x81,0xca,0x00,0x00,0x00,0x80,             /* or edx, 0x80000000 */
    /* 1122 */ 0x89,0x14,0x8d,0x00,0x50,0x00,0x00,        /* mov [ecx*4 + LOG], edx */
    /* 1129 */ 0x83,0xf8,0x20,                            /* cmp eax, 32 */
    /* 112c */ 0x72,0x33,                                 /* jb exception */
    /* 112e */ 0x0f,0xb6,0x88,0x00,0x40,0x00,0x00,        /* movzx ecx, byte [eax + VFLAGS] */
    /* 1135 */ 0xf6,0xc1,0x01,                            /* test cl, 1 */
    /* 1138 */ 0x74,0x05,                                 /* jz 1f */
    /* 113a */ 0x66,0xba,0x02,0x05,                       /* mov dx, 0x502 -- DEVACK: the VMM may deassert the line now */
    /* 113e */ 0xef,                                      /* out dx, eax */
    /* 1: */
    /* 113f */ 0xf6,0xc1,0x02,                            /* test cl, 2 */
    /* 1142 */ 0x75,0x0a,                                 /* jnz 2f */
    /* 1144 */ 0xc7,0x05,0xb0,0x00,0xe0,0xfe,0x00,0x00,0x00,0x00, /* mov dword [LAPIC+0xb0], 0 -- EOI */
    /* 2: */
    /* 114e */ 0xff,0x04,0x9d,0x00,0x41,0x00,0x00,        /* inc dword [ebx*4 + COUNT] */
    /* iret_out: */
    /* 1155 */ 0x5a,                                      /* pop edx */
    /* 1156 */ 0x59,                                      /* pop ecx */
    /* 1157 */ 0x5b,                                      /* pop ebx */
    /* 1158 */ 0x58,                                      /* pop eax */
    /* 1159 */ 0xff,0x74,0x24,0x08,                       /* push dword [esp+8] */
    /* 115d */ 0x9d,                                      /* popfd */
    /* 115e */ 0xc2,0x08,0x00,                            /* ret 8 */
    /* exception: */
    /* 1161 */ 0x83,0xf8,0x02,                            /* cmp eax, 2 -- NMI: the VMM's ABORT kick, just return */
    /* 1164 */ 0x74,0xef,                                 /* je iret_out */
    /* 1166 */ 0x83,0xf8,0x0b,                            /* cmp eax, 11 -- #NP (gate not present) and #GP: count, drop the error */
    /* 1169 */ 0x74,0x11,                                 /* je 4f -- code, return to the interrupted instruction */
    /* 116b */ 0x83,0xf8,0x0d,                            /* cmp eax, 13 */
    /* 116e */ 0x74,0x0c,                                 /* je 4f */
    /* 1170 */ 0xc1,0xe3,0x08,                            /* shl ebx, 8 -- FAULT: report cpu<<8 | vector, VMM stops */
    /* 1173 */ 0x09,0xd8,                                 /* or eax, ebx */
    /* 1175 */ 0x66,0xba,0x04,0x05,                       /* mov dx, 0x504 */
    /* 3: */
    /* 1179 */ 0xef,                                      /* out dx, eax */
    /* 117a */ 0xeb,0xfd,                                 /* jmp 3b */
    /* 4: */
    /* 117c */ 0xff,0x04,0x9d,0x90,0x41,0x00,0x00,        /* inc dword [ebx*4 + EXCOUNT] */
    /* 1183 */ 0x5a,                                      /* pop edx */
    /* 1184 */ 0x59,                                      /* pop ecx */
    /* 1185 */ 0x5b,                                      /* pop ebx */
    /* 1186 */ 0x58,                                      /* pop eax */
    /* 1187 */ 0x83,0xc4,0x04,                            /* add esp, 4 -- the error code */
    /* 118a */ 0xff,0x74,0x24,0x08,                       /* push dword [esp+8] */
    /* 118e */ 0x9d,                                      /* popfd */
    /* 118f */ 0xc2,0x08,0x00,                            /* ret 8 */
    /* 1192 */ 0x8d,0xb6,0x00,0x00,0x00,0x00,             /* (padding to 8 bytes: lea esi,[esi+0]) */
    /* gdt: */
    /* 1198 */ 0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,   /* .quad 0 -- null */
    /* 11a0 */ 0xff,0xff,0x00,0x00,0x00,0x9a,0xcf,0x00,   /* .quad 0x00cf9a000000ffff -- 0x08: code, base 0, limit 4G, 32-bit */
    /* 11a8 */ 0xff,0xff,0x00,0x00,0x00,0x92,0xcf,0x00,   /* .quad 0x00cf92000000ffff -- 0x10: data, base 0, limit 4G */
    /* gdtr: */
    /* 11b0 */ 0x17,0x00,                                 /* .word 3*8 - 1 */
    /* 11b2 */ 0x98,0x11,0x00,0x00,                       /* .long gdt */
    /* idtr: */
    /* 11b6 */ 0xff,0x07,                                 /* .word 256*8 - 1 */
    /* 11b8 */ 0x00,0x20,0x00,0x00,                       /* .long IDT */
};

/* ------------------------------------------------------------------ state */
static int kvm_fd = -1, vm_fd = -1, marker_fd = -1;
static uint8_t *mem;
static struct timespec t0;
static int failed;

enum vstate { V_RUNNING, V_WAIT_CMD, V_EXITED, V_FAILED };
static struct vcpu {
    int fd, index;
    struct kvm_run *run;
    pthread_t thread;
    int ready;
    enum vstate state;
    unsigned wait_gen;      /* incremented each time the guest asks for a command */
    uint32_t pending_op;    /* 0 = none */
    volatile int stop;      /* set before a kick (SIGUSR1): leave KVM_RUN's thread loop */
} vcpus[NCPU];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

/* scenario hook: called on the vCPU thread when the guest handler OUTs to DEVACK */
static void (*devack_hook)(int cpu, int vector);

static volatile uint32_t *gmem32(uint32_t gpa) { return (volatile uint32_t *)(mem + gpa); }
static uint32_t handled(int cpu) { return __atomic_load_n(gmem32(COUNT_ADDR + 4 * cpu), __ATOMIC_SEQ_CST); }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
}

/* One action line on stdout (with a timestamp) and, if to_marker and enabled, in the trace. */
static void vnote(int to_marker, const char *fmt, va_list ap)
{
    char buf[256];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (to_marker && marker_fd >= 0) {
        char m[300];
        int n = snprintf(m, sizeof m, "tinyvmm: %s", buf);
        if (write(marker_fd, m, (size_t)n) < 0) { /* marker is best effort */ }
    }
    printf("%10.6f %s\n", now(), buf);
    fflush(stdout);
}

static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(1, fmt, ap);
    va_end(ap);
}

/* stdout only: the result of an ioctl whose marker was written before it */
static void result(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(0, fmt, ap);
    va_end(ap);
}

static void die(const char *what)
{
    fprintf(stderr, "tinyvmm: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void sleep_ms(double ms)
{
    struct timespec t = { (time_t)(ms / 1000), (long)((ms - 1000 * (long)(ms / 1000)) * 1e6) };
    while (nanosleep(&t, &t) < 0 && errno == EINTR) {}
}

/* ------------------------------------------------------------ vCPU threads */
static void *vcpu_main(void *arg)
{
    struct vcpu *v = arg;
    struct kvm_run *run = v->run;
    for (;;) {
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR && v->stop) {   /* kicked out of KVM_RUN at shutdown */
                pthread_mutex_lock(&lock);
                v->state = V_EXITED;
                pthread_cond_broadcast(&cond);
                pthread_mutex_unlock(&lock);
                return NULL;
            }
            if (errno == EINTR || errno == EAGAIN) continue;
            fprintf(stderr, "tinyvmm: vcpu%d KVM_RUN: %s\n", v->index, strerror(errno));
            goto fail;
        }
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            uint8_t *data = (uint8_t *)run + run->io.data_offset;
            uint32_t val = 0;
            memcpy(&val, data, run->io.size < 4 ? run->io.size : 4);
            if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == PORT_READY) {
                pthread_mutex_lock(&lock);
                v->ready = 1;
                pthread_cond_broadcast(&cond);
                pthread_mutex_unlock(&lock);
            } else if (run->io.direction == KVM_EXIT_IO_IN && run->io.port == PORT_CMD) {
                pthread_mutex_lock(&lock);
                v->state = V_WAIT_CMD;
                v->wait_gen++;
                pthread_cond_broadcast(&cond);
                while (!v->pending_op) pthread_cond_wait(&cond, &lock);
                uint32_t op = v->pending_op;
                v->pending_op = 0;
                v->state = V_RUNNING;
                pthread_mutex_unlock(&lock);
                memcpy(data, &op, run->io.size < 4 ? run->io.size : 4);
            } else if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == PORT_DEVACK) {
                if (devack_hook) devack_hook(v->index, (int)(val & 0xff));
            } else if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == PORT_EXIT) {
                pthread_mutex_lock(&lock);
                v->state = V_EXITED;
                pthread_cond_broadcast(&cond);
                pthread_mutex_unlock(&lock);
                return NULL;
            } else if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == PORT_FAULT) {
                struct kvm_regs r;
                ioctl(v->fd, KVM_GET_REGS, &r);
                volatile uint32_t *sp = gmem32((uint32_t)r.rsp & (MEM_SIZE - 1) & ~3u);
                fprintf(stderr, "tinyvmm: vcpu%d guest exception %u; stack: %08x %08x %08x %08x %08x %08x\n",
                        v->index, val & 0xff, sp[0], sp[1], sp[2], sp[3], sp[4], sp[5]);
                goto fail;
            } else {
                fprintf(stderr, "tinyvmm: vcpu%d unexpected %s port 0x%x size %d\n", v->index,
                        run->io.direction == KVM_EXIT_IO_OUT ? "OUT" : "IN", run->io.port, run->io.size);
                if (run->io.direction == KVM_EXIT_IO_IN) memset(data, 0xff, run->io.size);
            }
            break;
        }
        case KVM_EXIT_MMIO:
            fprintf(stderr, "tinyvmm: vcpu%d unexpected MMIO %s 0x%llx\n", v->index,
                    run->mmio.is_write ? "write" : "read", (unsigned long long)run->mmio.phys_addr);
            if (!run->mmio.is_write) memset(run->mmio.data, 0xff, sizeof run->mmio.data);
            break;
        case KVM_EXIT_INTR:
        case KVM_EXIT_HLT:
            break;
        case KVM_EXIT_INTERNAL_ERROR:
        {
            struct kvm_regs r;
            ioctl(v->fd, KVM_GET_REGS, &r);
            fprintf(stderr, "tinyvmm: vcpu%d internal error, suberror %u at eip 0x%llx esp 0x%llx; data:", v->index,
                    run->internal.suberror, (unsigned long long)r.rip, (unsigned long long)r.rsp);
            for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
                fprintf(stderr, " %llx", (unsigned long long)run->internal.data[i]);
            fprintf(stderr, "\n");
            goto fail;
        }
        default:
            fprintf(stderr, "tinyvmm: vcpu%d exit reason %u\n", v->index, run->exit_reason);
            goto fail;
        }
    }
fail:
    pthread_mutex_lock(&lock);
    v->state = V_FAILED;
    failed = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Wait (with the lock held) until pred() or the timeout; returns pred(). */
static int wait_for(int (*pred)(struct vcpu *, unsigned), struct vcpu *v, unsigned arg, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }
    while (!pred(v, arg) && v->state != V_FAILED && v->state != V_EXITED)
        if (pthread_cond_timedwait(&cond, &lock, &dl) == ETIMEDOUT) break;
    return pred(v, arg);
}
static int p_ready(struct vcpu *v, unsigned a) { (void)a; return v->ready; }
static int p_waiting(struct vcpu *v, unsigned a) { (void)a; return v->state == V_WAIT_CMD && !v->pending_op; }
static int p_back(struct vcpu *v, unsigned gen) { return v->state == V_WAIT_CMD && !v->pending_op && v->wait_gen != gen; }
static int p_exited(struct vcpu *v, unsigned a) { (void)a; return v->state == V_EXITED; }

/* Kick a vCPU thread out of KVM_RUN for good, as a VMM does at shutdown (QEMU's SIG_IPI): with
 * SIGUSR1 pending, KVM_RUN returns EINTR; a vCPU blocked in HLT ends its halt (kvm_vcpu_wakeup). */
static void sig_noop(int sig) { (void)sig; }

static void kick_stop(int cpu)
{
    struct vcpu *v = &vcpus[cpu];
    note("vcpu%d is still in the guest (handled %u): shutdown kick (SIGUSR1, KVM_RUN returns EINTR)", cpu, handled(cpu));
    v->stop = 1;
    int ok = 0;
    for (int k = 0; k < 200 && !ok; k++) {   /* again if the signal came between two KVM_RUNs */
        pthread_kill(v->thread, SIGUSR1);
        pthread_mutex_lock(&lock);
        ok = wait_for(p_exited, v, 0, 10);
        pthread_mutex_unlock(&lock);
    }
    if (!ok) { fprintf(stderr, "tinyvmm: vcpu%d did not leave KVM_RUN\n", cpu); failed = 1; }
}

/* ------------------------------------------------------- guest commands */
/* Hand a command to vCPU cpu (it must be waiting); returns the wait generation. */
static unsigned post(int cpu, uint32_t op, uint32_t a1, uint32_t a2)
{
    struct vcpu *v = &vcpus[cpu];
    pthread_mutex_lock(&lock);
    if (!wait_for(p_waiting, v, 0, 2000)) {
        pthread_mutex_unlock(&lock);
        fprintf(stderr, "tinyvmm: vcpu%d not waiting for a command (op %u)\n", cpu, op);
        failed = 1;
        return ~0u;
    }
    volatile uint32_t *mb = gmem32(MBOX_ADDR + 16 * cpu);
    mb[0] = op; mb[1] = a1; mb[2] = a2;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    unsigned gen = v->wait_gen;
    v->pending_op = op;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return gen;
}

/* Wait until the command posted at generation gen is done. On timeout, break an
 * IDLE with ABORT + an NMI (KVM_SIGNAL_MSI, delivery mode NMI). */
static int finish(int cpu, unsigned gen, int timeout_ms)
{
    struct vcpu *v = &vcpus[cpu];
    pthread_mutex_lock(&lock);
    int ok = wait_for(p_back, v, gen, timeout_ms);
    pthread_mutex_unlock(&lock);
    if (ok) return 1;
    failed = 1;
    if (v->state == V_FAILED || v->state == V_EXITED || gen == ~0u) return 0;
    note("timeout: vcpu%d still busy after %d ms (handled %u); ABORT + NMI", cpu, timeout_ms, handled(cpu));
    *gmem32(ABORT_ADDR) = 1;
    struct kvm_msi nmi = { .address_lo = LAPIC_BASE | (uint32_t)cpu << 12, .data = 0x400 };
    ioctl(vm_fd, KVM_SIGNAL_MSI, &nmi);
    pthread_mutex_lock(&lock);
    ok = wait_for(p_back, v, gen, 1000);
    pthread_mutex_unlock(&lock);
    *gmem32(ABORT_ADDR) = 0;
    return ok;
}

static void write32(int cpu, uint32_t addr, uint32_t val)
{
    note("vcpu%d write [0x%08x] = 0x%x", cpu, addr, val);
    finish(cpu, post(cpu, OP_WRITE, addr, val), 2000);
}

static uint32_t read32(int cpu, uint32_t addr)
{
    note("vcpu%d read [0x%08x]", cpu, addr);
    finish(cpu, post(cpu, OP_READ, addr, 0), 2000);
    uint32_t r = gmem32(MBOX_ADDR + 16 * cpu)[3];
    result("  -> 0x%x", r);
    return r;
}

static void lapic_write(int cpu, uint32_t reg, uint32_t val) { write32(cpu, LAPIC_BASE + reg, val); }
static uint32_t lapic_read(int cpu, uint32_t reg) { return read32(cpu, LAPIC_BASE + reg); }

/* IOAPIC redirection table entry `pin`, written by the guest (high dword first). */
static void ioapic_rte(int cpu, int pin, uint32_t low, uint8_t dest)
{
    note("vcpu%d programs IOAPIC pin %d: vector 0x%02x %s %s dest %u", cpu, pin, low & 0xff,
         low & RTE_LEVEL ? "level" : "edge", low & RTE_MASKED ? "masked" : "unmasked", dest);
    write32(cpu, IOAPIC_REGSEL, 0x11 + 2 * pin);
    write32(cpu, IOAPIC_WIN, (uint32_t)dest << 24);
    write32(cpu, IOAPIC_REGSEL, 0x10 + 2 * pin);
    write32(cpu, IOAPIC_WIN, low);
}

static uint32_t ioapic_rte_low(int cpu, int pin)
{
    write32(cpu, IOAPIC_REGSEL, 0x10 + 2 * pin);
    uint32_t low = read32(cpu, IOAPIC_WIN);
    note("IOAPIC pin %d RTE low 0x%x: remote IRR %d, delivery status %d", pin, low,
         !!(low & RTE_REMOTE_IRR), !!(low & (1u << 12)));
    return low;
}

/* IDLE: sti; hlt until `more` further interrupts were handled. Returns the generation. */
static unsigned idle(int cpu, unsigned more)
{
    unsigned target = handled(cpu) + more;
    note("vcpu%d idle (sti; hlt) until %u handled (now %u)", cpu, target, handled(cpu));
    return post(cpu, OP_IDLE, target, 0);
}

static void idle_done(int cpu, unsigned gen)
{
    finish(cpu, gen, 2000);
    note("vcpu%d back from idle, handled %u", cpu, handled(cpu));
}

static unsigned spin(int cpu, uint32_t n)
{
    note("vcpu%d spin %u iterations with IF=1 (handled %u)", cpu, n, handled(cpu));
    return post(cpu, OP_SPIN, n, 0);
}

static void spin_done(int cpu, unsigned gen)
{
    finish(cpu, gen, 3000);
    note("vcpu%d back from spin, handled %u", cpu, handled(cpu));
}

/* Let a vCPU that was just told to IDLE reach its HLT (~a dozen emulated instructions). */
static void settle(void) { sleep_ms(2); }

/* ------------------------------------------------------- injection ioctls */
/* MSI: address 0xfee00000 | dest << 12 (bit 2 = logical), data = delivery mode << 8 | vector. */
static void msi_raw(uint32_t address, uint32_t data, const char *what)
{
    struct kvm_msi m = { .address_lo = address, .data = data };
    note("KVM_SIGNAL_MSI %s address 0x%08x data 0x%04x", what, address, data);
    int r = ioctl(vm_fd, KVM_SIGNAL_MSI, &m);
    result("  -> %d%s", r, r < 0 ? strerror(errno) : r == 0 ? " (not delivered)" : "");
}

static void msi(int dest, int vector)
{
    char what[48];
    snprintf(what, sizeof what, "dest %d vector 0x%02x", dest, vector);
    msi_raw(LAPIC_BASE | (uint32_t)dest << 12, (uint32_t)vector, what);
}

/* KVM_IRQ_LINE_STATUS is KVM_IRQ_LINE that also returns the delivery status
 * (>0 delivered, 0 coalesced/masked, -1 ignored). */
static void irq_line(int gsi, int level)
{
    struct kvm_irq_level l = { .irq = (uint32_t)gsi, .level = (uint32_t)level };
    note("KVM_IRQ_LINE gsi %d level %d", gsi, level);
    int r = ioctl(vm_fd, KVM_IRQ_LINE_STATUS, &l);
    result("  -> %d, status %d", r, r < 0 ? -errno : (int)l.status);
}

static void pulse(int gsi)
{
    irq_line(gsi, 1);
    irq_line(gsi, 0);
}

/* --------------------------------------------------------------- scenarios */
static void vflags(int vector, uint8_t f) { mem[VFLAGS_ADDR + vector] = f; }

/* (a) MSIs to both vCPUs: several vectors one at a time while halted, a burst to a
 * vCPU that is not running, MSI routes through KVM_IRQ_LINE, logical/lowest-priority. */
static void sc_msi(void)
{
    unsigned g0 = idle(0, 3), g1 = idle(1, 3);
    settle();
    static const int v0[] = { 0x31, 0x42, 0x53 }, v1[] = { 0x34, 0x45, 0x56 };
    for (int i = 0; i < 3; i++) {
        msi(0, v0[i]);
        sleep_ms(1);
        msi(1, v1[i]);
        sleep_ms(1);
    }
    idle_done(0, g0);
    idle_done(1, g1);

    note("burst: three MSIs to vcpu0 while it waits in the VMM, then idle");
    msi(0, 0x33);
    msi(0, 0x93);
    msi(0, 0x63);
    idle_done(0, idle(0, 3));

    note("MSI routes: KVM_IRQ_LINE on GSI 24 (-> vcpu0 vector 0x38) and 25 (-> vcpu1 vector 0x39)");
    g0 = idle(0, 1); g1 = idle(1, 1);
    settle();
    pulse(24);
    sleep_ms(1);
    pulse(25);
    idle_done(0, g0);
    idle_done(1, g1);

    note("logical destination: flat model, LDR vcpu0 = 0x01, vcpu1 = 0x02");
    for (int c = 0; c < NCPU; c++) {
        lapic_write(c, APIC_DFR, 0xffffffffu);
        lapic_write(c, APIC_LDR, 1u << (24 + c));
    }
    g1 = idle(1, 1);
    settle();
    msi_raw(LAPIC_BASE | 0x02u << 12 | 0x4, 0x49, "logical dest 0x02 fixed vector 0x49");
    idle_done(1, g1);
    note("lowest priority to logical 0x03 while both wait in the VMM, then both spin");
    msi_raw(LAPIC_BASE | 0x03u << 12 | 0x4, 0x100 | 0x4a, "logical dest 0x03 lowest-priority vector 0x4a");
    g0 = spin(0, 2000); g1 = spin(1, 2000);
    spin_done(0, g0);
    spin_done(1, g1);
}

/* (b) IOAPIC edge pins, programmed by the guest, pulsed with KVM_IRQ_LINE. */
static void sc_ioapic_edge(void)
{
    ioapic_rte(0, 3, 0x63, 0);
    ioapic_rte(0, 5, 0x65, 1);
    ioapic_rte(0, 17, 0x71, 0);
    ioapic_rte(0, 18, 0x72, 1);
    ioapic_rte(0, 6, RTE_MASKED | 0x66, 0);
    unsigned g0 = idle(0, 2), g1 = idle(1, 2);
    settle();
    pulse(3);
    sleep_ms(1);
    pulse(5);
    sleep_ms(1);
    pulse(6);   /* masked: no delivery */
    sleep_ms(1);
    pulse(17);
    sleep_ms(1);
    pulse(18);
    idle_done(0, g0);
    idle_done(1, g1);
    ioapic_rte_low(0, 3);
    ioapic_rte_low(0, 6);
    note("unmask pin 6 while its line is low, then pulse it");
    ioapic_rte(0, 6, 0x66, 0);
    g0 = idle(0, 1);
    settle();
    pulse(6);
    idle_done(0, g0);
}

/* (c) Level-triggered pins, the Remote IRR cycle. Pin 10 (vCPU 0), three times:
 * assert; the guest's handler has the "device" deassert the line (DEVACK) and
 * then EOIs. Pin 19 (vCPU 1): assert; the handler EOIs; the VMM deasserts the
 * line only after that. */
static void level_devack(int cpu, int vector)
{
    if (vector == 0x7a) {
        note("vcpu%d handler acks the device for vector 0x%02x: deassert GSI 10", cpu, vector);
        irq_line(10, 0);
    }
}

static void sc_ioapic_level(void)
{
    devack_hook = level_devack;
    vflags(0x7a, VF_DEVACK);
    ioapic_rte(0, 10, RTE_LEVEL | 0x7a, 0);
    ioapic_rte(0, 19, RTE_LEVEL | 0x83, 1);
    for (int i = 0; i < 3; i++) {
        unsigned g = idle(0, 1);
        settle();
        irq_line(10, 1);
        idle_done(0, g);
        spin_done(0, spin(0, 2000));    /* take any re-delivery */
        ioapic_rte_low(0, 10);
    }
    note("GSI 19: the handler EOIs with the line still high, the VMM deasserts afterwards");
    unsigned g = idle(1, 1);
    settle();
    irq_line(19, 1);
    idle_done(1, g);
    ioapic_rte_low(1, 19);
    irq_line(19, 0);
    spin_done(1, spin(1, 2000));
    ioapic_rte_low(1, 19);
}

/* (c') Level-triggered pin held asserted while the guest keeps EOIing: re-delivery. */
static void sc_ioapic_level_held(void)
{
    ioapic_rte(0, 11, RTE_LEVEL | 0x7b, 1);
    unsigned g = idle(1, 30);
    settle();
    note("assert GSI 11 and hold it until vcpu1 handled 30 interrupts");
    irq_line(11, 1);
    idle_done(1, g);
    ioapic_rte_low(0, 11);
    irq_line(11, 0);
    spin_done(1, spin(1, 2000));
    ioapic_rte_low(0, 11);
}

/* (d) Fixed IPIs written to the ICR by the guest. */
static void sc_ipi(void)
{
    unsigned g1 = idle(1, 3);
    settle();
    static const int vec[] = { 0x51, 0x62, 0x73 };
    for (int i = 0; i < 3; i++) {
        lapic_write(0, APIC_ICR_HI, 1u << 24);
        lapic_write(0, APIC_ICR_LO, (uint32_t)vec[i]);   /* fixed, physical, edge */
        sleep_ms(1);
    }
    idle_done(1, g1);

    note("self IPI (shorthand self) on vcpu0, taken when it idles");
    lapic_write(0, APIC_ICR_LO, ICR_SELF | 0x44);
    idle_done(0, idle(0, 1));

    note("all-excluding-self from vcpu0");
    g1 = idle(1, 1);
    settle();
    lapic_write(0, APIC_ICR_LO, ICR_ALL_BUT_SELF | 0x55);
    idle_done(1, g1);

    note("vcpu1 -> vcpu0");
    unsigned g0 = idle(0, 1);
    settle();
    lapic_write(1, APIC_ICR_HI, 0);
    lapic_write(1, APIC_ICR_LO, 0x66);
    idle_done(0, g0);
}

/* (e) TPR: an MSI whose class is not above the TPR class stays pending until
 * the TPR is lowered. */
static void sc_tpr(void)
{
    lapic_write(0, APIC_TPR, 0x50);
    lapic_read(0, APIC_PPR);
    unsigned g = idle(0, 1);
    settle();
    msi(0, 0x41);           /* class 4 <= TPR class 5: stays in IRR */
    sleep_ms(2);
    msi(0, 0x61);           /* class 6: delivered, ends the idle */
    idle_done(0, g);
    lapic_read(0, APIC_IRR(2));
    lapic_read(0, APIC_PPR);
    note("TPR 0x40: class 4 still masked (equal class)");
    lapic_write(0, APIC_TPR, 0x40);
    spin_done(0, spin(0, 2000));
    lapic_read(0, APIC_IRR(2));
    note("TPR 0x30: vector 0x41 becomes deliverable");
    lapic_write(0, APIC_TPR, 0x30);
    idle_done(0, idle(0, 1));
    lapic_write(0, APIC_TPR, 0);
    lapic_read(0, APIC_PPR);
}

/* (f) Coalescing: the same vector twice before the guest can take it. */
static void coalesce_devack(int cpu, int vector)
{
    if (vector == 0x37) {
        note("vcpu%d is in the handler for vector 0x37 (before its EOI): send 0x37 again", cpu);
        msi(cpu, 0x37);
    }
}

static void sc_coalesce(void)
{
    note("vcpu0 waits in the VMM (not running): MSI 0x36 twice");
    msi(0, 0x36);
    msi(0, 0x36);
    idle_done(0, idle(0, 1));
    spin_done(0, spin(0, 2000));

    note("IOAPIC edge pin 4 pulsed twice while vcpu0 is not running");
    ioapic_rte(0, 4, 0x64, 0);
    pulse(4);
    pulse(4);
    idle_done(0, idle(0, 1));
    spin_done(0, spin(0, 2000));

    note("MSI 0x35 twice to a halted vcpu1, back to back");
    unsigned g = idle(1, 1);
    settle();
    msi(1, 0x35);
    msi(1, 0x35);
    idle_done(1, g);
    spin_done(1, spin(1, 2000));

    note("MSI 0x37 again while its handler runs (before the EOI)");
    devack_hook = coalesce_devack;
    vflags(0x37, VF_DEVACK);
    msi(0, 0x37);
    idle_done(0, idle(0, 1));
    vflags(0x37, 0);
    spin_done(0, spin(0, 2000));

    note("IOAPIC pin 7 and an MSI to APIC ID 15: no such LAPIC, the interrupt reaches nobody");
    ioapic_rte(0, 7, 0x67, 15);
    pulse(7);
    msi(15, 0x68);
    spin_done(0, spin(0, 2000));
}

/* ---- scenarios with real faults (the analyzer's expected findings, docs/ANALYZERS.md) ---- */
static uint32_t excount(int cpu) { return __atomic_load_n(gmem32(EXCOUNT_ADDR + 4 * cpu), __ATOMIC_SEQ_CST); }

/* The guest clears the present bit of vector's IDT gate (its own write): it has no handler for it. */
static void idt_gate_absent(int cpu, int vector)
{
    uint32_t stub = STUBS_ADDR + 8u * (uint32_t)vector;
    note("vcpu%d clears the IDT gate of vector 0x%02x (P=0): the guest has no handler for it", cpu, vector);
    write32(cpu, IDT_ADDR + 8u * (uint32_t)vector + 4, (stub & 0xffff0000u) | 0x0e00u);
}

static void wait_ms(double ms)
{
    note("wait %.0f ms", ms);
    sleep_ms(ms);
}

/* (g) A vector whose delivery faults (no IDT gate): it stays in ISR and blocks its class. */
static void sc_idt_fault(void)
{
    idt_gate_absent(0, 0x58);
    note("MSI 0x58 to vcpu0, then it spins with IF=1: the delivery faults (#NP through the absent gate)");
    msi(0, 0x58);
    spin_done(0, spin(0, 3000));
    note("vcpu0 took %u #NP/#GP exceptions, handled %u interrupts", excount(0), handled(0));
    lapic_read(0, APIC_ISR(2));
    lapic_read(0, APIC_PPR);
    note("MSIs 0x43 (lower class) and 0x51 (same class) to vcpu0, then it spins: both stay pending");
    msi(0, 0x43);
    msi(0, 0x51);
    spin_done(0, spin(0, 3000));
    lapic_read(0, APIC_IRR(2));
    note("contrast: MSI 0x44 to vcpu1 is delivered");
    unsigned g = idle(1, 1);
    settle();
    msi(1, 0x44);
    idle_done(1, g);
    wait_ms(20);
    lapic_read(0, APIC_ISR(2));
    lapic_read(0, APIC_IRR(2));
}

/* (h) Messages to APIC IDs no vCPU has: MSIs, fixed IPIs, an IOAPIC pin. */
static void sc_misroute(void)
{
    note("MSIs to APIC IDs 15 and 2 (the VM has APIC IDs 0 and 1)");
    msi(15, 0x68);
    msi(2, 0x69);
    note("fixed IPIs from vcpu0 to APIC IDs 15 and 2");
    lapic_write(0, APIC_ICR_HI, 15u << 24);
    lapic_write(0, APIC_ICR_LO, 0x6a);
    lapic_write(0, APIC_ICR_HI, 2u << 24);
    lapic_write(0, APIC_ICR_LO, 0x6b);
    note("IOAPIC pin 7 routed to APIC ID 15: its edge reaches nobody");
    ioapic_rte(0, 7, 0x67, 15);
    pulse(7);
    note("contrast: an MSI and an IPI to vcpu1 are delivered");
    unsigned g = idle(1, 2);
    settle();
    msi(1, 0x6c);
    lapic_write(0, APIC_ICR_HI, 1u << 24);
    lapic_write(0, APIC_ICR_LO, 0x6d);
    idle_done(1, g);
}

/* (i) A vector sent again while it is still pending (IRR): merged, the guest takes it once. */
static void sc_resend_pending(void)
{
    note("vcpu0 waits in the VMM (not in KVM_RUN, IF=0 in its command loop): MSI 0x36 three times");
    msi(0, 0x36);
    msi(0, 0x36);
    msi(0, 0x36);
    note("IOAPIC edge pin 4 (vector 0x64 to vcpu0) pulsed twice");
    ioapic_rte(1, 4, 0x64, 0);
    pulse(4);
    pulse(4);
    note("vcpu1 sends fixed IPI 0x46 to vcpu0 twice");
    lapic_write(1, APIC_ICR_HI, 0);
    lapic_write(1, APIC_ICR_LO, 0x46);
    lapic_write(1, APIC_ICR_LO, 0x46);
    lapic_read(0, APIC_IRR(1));
    lapic_read(0, APIC_IRR(2));
    lapic_read(0, APIC_IRR(3));
    note("vcpu0 idles: it takes each vector once");
    idle_done(0, idle(0, 3));
    spin_done(0, spin(0, 3000));
}

/* (j) An edge on an IOAPIC pin the guest had unmasked, arriving while it is masked. */
static void sc_masked_edge(void)
{
    ioapic_rte(0, 6, 0x66, 0);
    unsigned g = idle(0, 1);
    settle();
    pulse(6);
    idle_done(0, g);
    note("the guest masks pin 6, an edge arrives, the guest unmasks pin 6");
    ioapic_rte(0, 6, RTE_MASKED | 0x66, 0);
    pulse(6);
    ioapic_rte(0, 6, 0x66, 0);
    spin_done(0, spin(0, 3000));
    note("vcpu0 handled %u: the masked edge was dropped", handled(0));
    ioapic_rte_low(0, 6);
}

/* (k) A level line never deasserted: the handler does not clear the device. */
#define STORM_HANDLED 10100u
static void sc_level_storm(void)
{
    vflags(0x7b, VF_NOEOI);
    ioapic_rte(0, 11, RTE_LEVEL | 0x7b, 1);
    unsigned g = idle(1, STORM_HANDLED);
    settle();
    note("assert GSI 11 and never deassert it; vcpu1's handler for 0x7b neither clears the device nor EOIs");
    irq_line(11, 1);
    finish(1, g, 20000);
    note("vcpu1 back from idle, handled %u", handled(1));
    ioapic_rte_low(0, 11);
    note("GSI 11 is still asserted at exit");
}

/* Before a halt scenario: each vCPU takes an interrupt the ordinary way (sti; hlt). */
static void halt_prelude(void)
{
    note("contrast: vcpu1 idles (sti; hlt) and takes MSI 0x44, vcpu0 idles and takes IPI 0x54 from vcpu1");
    unsigned g = idle(1, 1);
    settle();
    msi(1, 0x44);
    idle_done(1, g);
    g = idle(0, 1);
    settle();
    lapic_write(1, APIC_ICR_HI, 0);
    lapic_write(1, APIC_ICR_LO, 0x54);
    idle_done(0, g);
}

/* (l) A vCPU halted with IF=0 (cli; hlt): interrupts arrive, it never wakes. */
static void sc_halt_cli(void)
{
    halt_prelude();
    note("vcpu1 halts with interrupts disabled (cli; hlt)");
    post(1, OP_HALT_CLI, 0, 0);
    settle();
    msi(1, 0x45);
    note("vcpu0 sends fixed IPI 0x56 to vcpu1");
    lapic_write(0, APIC_ICR_HI, 1u << 24);
    lapic_write(0, APIC_ICR_LO, 0x56);
    wait_ms(20);
    note("vcpu1 handled %u", handled(1));
}

/* (m) A vCPU halted (sti; hlt) behind TPR 0xf0: no maskable interrupt can wake it. */
static void sc_halt_tpr(void)
{
    halt_prelude();
    lapic_write(1, APIC_TPR, 0xf0);
    lapic_read(1, APIC_PPR);
    note("MSI 0x45 to vcpu1 while it waits in the VMM, then it idles (sti; hlt)");
    msi(1, 0x45);
    idle(1, 1);
    settle();
    msi(1, 0xe5);
    note("vcpu0 sends fixed IPI 0x56 to vcpu1");
    lapic_write(0, APIC_ICR_HI, 1u << 24);
    lapic_write(0, APIC_ICR_LO, 0x56);
    wait_ms(20);
    note("vcpu1 handled %u", handled(1));
}

static const struct scenario {
    const char *name, *what;
    void (*run)(void);
} scenarios[] = {
    { "msi", "KVM_SIGNAL_MSI to vCPU 0 and 1 (several vectors, a burst, MSI routes via KVM_IRQ_LINE, logical and lowest-priority)", sc_msi },
    { "ioapic-edge", "IOAPIC edge pins programmed by the guest, KVM_IRQ_LINE pulses (one pin masked)", sc_ioapic_edge },
    { "ioapic-level", "IOAPIC level pins, Remote IRR cycle: handler deasserts (via the VMM) then EOIs; or EOIs, then the VMM deasserts", sc_ioapic_level },
    { "ioapic-level-held", "IOAPIC level pin held asserted for 30 deliveries (re-delivery after each EOI)", sc_ioapic_level_held },
    { "ipi", "fixed IPIs through the ICR: vCPU 0 -> 1, self, all-but-self, 1 -> 0", sc_ipi },
    { "tpr", "TPR above an MSI's class keeps it pending until TPR is lowered", sc_tpr },
    { "coalesce", "same vector twice before the guest takes it (MSI, IOAPIC edge, during the handler); a destination with no LAPIC", sc_coalesce },
    { "idt-fault", "fault: MSI 0x58 whose IDT gate the guest cleared: delivery faults (#NP), 0x58 stays in ISR and blocks 0x43, 0x51", sc_idt_fault },
    { "misroute", "fault: MSIs, IPIs and an IOAPIC pin to APIC IDs 15 and 2, which no vCPU has", sc_misroute },
    { "resend-pending", "fault: MSI, IOAPIC edge and IPI re-sent while still pending at vCPU 0 (coalesced)", sc_resend_pending },
    { "masked-edge", "fault: IOAPIC edge pin 6 unmasked and used, then masked, edge, unmasked (the edge is dropped)", sc_masked_edge },
    { "level-storm", "fault: IOAPIC level pin 11 never deasserted: >10,000 re-deliveries (KVM's delayed EOI injection)", sc_level_storm },
    { "halt-cli", "fault: vCPU 1 halted with IF=0 (cli; hlt), then an MSI and an IPI to it: never woken (shutdown kick)", sc_halt_cli },
    { "halt-tpr", "fault: vCPU 1 halted (sti; hlt) with TPR 0xf0 and MSIs/IPI pending: never woken (shutdown kick)", sc_halt_tpr },
};

/* ------------------------------------------------------------------ setup */
static void setup_routing(void)
{
    size_t n = 26;
    struct kvm_irq_routing *rt = calloc(1, sizeof *rt + n * 2 * sizeof(struct kvm_irq_routing_entry));
    if (!rt) die("calloc");
    struct kvm_irq_routing_entry *e = rt->entries;
    for (uint32_t gsi = 0; gsi < 24; gsi++) {
        if (gsi < 16) {
            *e++ = (struct kvm_irq_routing_entry){ .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
                .u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, .pin = gsi % 8 } };
        }
        *e++ = (struct kvm_irq_routing_entry){ .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi } };
    }
    *e++ = (struct kvm_irq_routing_entry){ .gsi = 24, .type = KVM_IRQ_ROUTING_MSI,
        .u.msi = { .address_lo = LAPIC_BASE | 0u << 12, .data = 0x38 } };
    *e++ = (struct kvm_irq_routing_entry){ .gsi = 25, .type = KVM_IRQ_ROUTING_MSI,
        .u.msi = { .address_lo = LAPIC_BASE | 1u << 12, .data = 0x39 } };
    rt->nr = (uint32_t)(e - rt->entries);
    if (ioctl(vm_fd, KVM_SET_GSI_ROUTING, rt) < 0) die("KVM_SET_GSI_ROUTING");
    free(rt);
}

static void setup_vcpu(struct vcpu *v, int index, int mmap_size, struct kvm_cpuid2 *cpuid)
{
    v->index = index;
    v->fd = ioctl(vm_fd, KVM_CREATE_VCPU, index);
    if (v->fd < 0) die("KVM_CREATE_VCPU");
    v->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
    if (v->run == MAP_FAILED) die("mmap kvm_run");
    if (cpuid) {
        for (uint32_t i = 0; i < cpuid->nent; i++)
            if (cpuid->entries[i].function == 1)   /* initial APIC ID */
                cpuid->entries[i].ebx = (cpuid->entries[i].ebx & 0x00ffffffu) | (uint32_t)index << 24;
        if (ioctl(v->fd, KVM_SET_CPUID2, cpuid) < 0)
            fprintf(stderr, "tinyvmm: KVM_SET_CPUID2: %s (continuing)\n", strerror(errno));
    }
    struct kvm_sregs s;
    if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
    struct kvm_segment code = { .base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb,
        .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1 };
    struct kvm_segment data = code;
    data.selector = 0x10;
    data.type = 0x3;
    s.cs = code;
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    /* the same GDT as the guest's own first instruction, lgdt [gdtr] (0f 01 15 addr32) */
    uint32_t gdtr;
    memcpy(&gdtr, guest_image + 3, 4);
    memcpy(&s.gdt.limit, mem + gdtr, 2);
    uint32_t gdt_base;
    memcpy(&gdt_base, mem + gdtr + 2, 4);
    s.gdt.base = gdt_base;
    s.cr0 = (s.cr0 | 0x1) & ~0x80000000ull;   /* PE, no paging */
    if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");
    struct kvm_regs r = { .rip = IMAGE_ADDR, .rsp = STACK_TOP(index), .rsi = (uint64_t)index, .rflags = 0x2 };
    if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) die("KVM_SET_REGS");
    if (index != 0) {   /* an AP waits for INIT/SIPI; start it directly */
        struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
        if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0) die("KVM_SET_MP_STATE");
    }
}

static void start_vcpu(struct vcpu *v)
{
    if (pthread_create(&v->thread, NULL, vcpu_main, v) != 0) { errno = EAGAIN; die("pthread_create"); }
    pthread_mutex_lock(&lock);
    int ok = wait_for(p_ready, v, 0, 3000);
    pthread_mutex_unlock(&lock);
    if (!ok) {
        fprintf(stderr, "tinyvmm: vcpu%d did not report READY\n", v->index);
        exit(1);
    }
    note("vcpu%d ready (IDT loaded, LAPIC enabled, TPR 0)", v->index);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tinyvmm [--marker TRACE_MARKER_PATH] SCENARIO\n       tinyvmm --list | --dump-guest\nscenarios:\n");
    for (size_t i = 0; i < sizeof scenarios / sizeof *scenarios; i++)
        fprintf(f, "  %-18s %s\n", scenarios[i].name, scenarios[i].what);
}

int main(int argc, char **argv)
{
    const char *marker = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--marker") && i + 1 < argc) marker = argv[++i];
        else if (!strcmp(argv[i], "--list")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--dump-guest")) {
            return fwrite(guest_image, 1, sizeof guest_image, stdout) == sizeof guest_image ? 0 : 2;
        } else if (argv[i][0] == '-') { usage(stderr); return 2; }
        else name = argv[i];
    }
    const struct scenario *sc = NULL;
    for (size_t i = 0; name && i < sizeof scenarios / sizeof *scenarios; i++)
        if (!strcmp(name, scenarios[i].name)) sc = &scenarios[i];
    if (!sc) { usage(stderr); return 2; }
    if (marker && (marker_fd = open(marker, O_WRONLY | O_CLOEXEC)) < 0) die(marker);
    struct sigaction sa = { .sa_handler = sig_noop };   /* no SA_RESTART: KVM_RUN returns EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) < 0) die("sigaction");
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if ((kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) die("/dev/kvm");
    if (ioctl(kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) { errno = EINVAL; die("KVM API version"); }
    if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING) <= 0 ||
        ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SIGNAL_MSI) <= 0) { errno = ENOTSUP; die("KVM_CAP_IRQ_ROUTING/SIGNAL_MSI"); }
    if ((vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0)) < 0) die("KVM_CREATE_VM");
    if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) die("KVM_CREATE_IRQCHIP");
    setup_routing();
    mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) die("mmap guest memory");
    memcpy(mem + IMAGE_ADDR, guest_image, sizeof guest_image);
    vflags(0xff, VF_NOEOI);   /* spurious vector: no EOI */
    struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0,
        .memory_size = MEM_SIZE, .userspace_addr = (uint64_t)(uintptr_t)mem };
    if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

    int mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size <= 0) die("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + 100 * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = 100;
    if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
        fprintf(stderr, "tinyvmm: KVM_GET_SUPPORTED_CPUID: %s (continuing)\n", strerror(errno));
        free(cpuid);
        cpuid = NULL;
    }
    for (int i = 0; i < NCPU; i++) setup_vcpu(&vcpus[i], i, mmap_size, cpuid);

    note("scenario %s: %s", sc->name, sc->what);
    for (int i = 0; i < NCPU; i++) start_vcpu(&vcpus[i]);   /* vCPU 0 first: it builds the IDT */
    sc->run();
    for (int i = 0; i < NCPU; i++) {
        pthread_mutex_lock(&lock);
        int waiting = wait_for(p_waiting, &vcpus[i], 0, 200), gone = vcpus[i].state == V_EXITED || vcpus[i].state == V_FAILED;
        pthread_mutex_unlock(&lock);
        if (gone) continue;
        if (!waiting) { kick_stop(i); continue; }   /* still in the guest (halted for good): shutdown kick */
        if (post(i, OP_EXIT, 0, 0) == ~0u) continue;
        pthread_mutex_lock(&lock);
        wait_for(p_exited, &vcpus[i], 0, 2000);
        pthread_mutex_unlock(&lock);
    }
    note("scenario %s done%s", sc->name, failed ? " (with failures)" : "");

    uint32_t n = *gmem32(LOGIDX_ADDR);
    printf("# guest log: %u interrupts handled (order of the guest's lock xadd)\n", n);
    /* A storm: the first entries (none once the log has wrapped) and per-vector counts. */
    uint32_t shown = n <= 256 ? n : n <= LOG_SLOTS ? 64 : 0;
    for (uint32_t i = 0; i < shown && i < LOG_SLOTS; i++) {
        uint32_t e = *gmem32(LOG_ADDR + 4 * i);
        printf("guest %4u vcpu%u vector 0x%02x\n", i, (e >> 8) & 0xff, e & 0xff);
    }
    if (shown < n) {
        static unsigned per[NCPU][256];
        for (uint32_t i = 0; i < n && i < LOG_SLOTS; i++) {
            uint32_t e = *gmem32(LOG_ADDR + 4 * i);
            per[((e >> 8) & 0xff) % NCPU][e & 0xff]++;
        }
        printf("# ... %u more not listed; the log's last %u entries (it wraps at %u) by vCPU and vector:\n",
               n - shown, n < LOG_SLOTS ? n : LOG_SLOTS, LOG_SLOTS);
        for (int c = 0; c < NCPU; c++)
            for (int v = 0; v < 256; v++)
                if (per[c][v]) printf("#   vcpu%d vector 0x%02x: %u\n", c, v, per[c][v]);
    }
    for (int i = 0; i < NCPU; i++) printf("# vcpu%d handled %u, #NP/#GP %u\n", i, handled(i), excount(i));
    return failed ? 1 : 0;
}
