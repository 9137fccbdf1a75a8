/*
 * guest.S: the tiny guest run by tinyvmm.c (reference source).
 *
 * tinyvmm.c carries these bytes as a commented array (guest_image[]);
 * this file is what they were assembled from:
 *   as --32 -o guest.o guest.S && ld -m elf_i386 -Ttext=0x1000 -o guest.elf guest.o
 *   objcopy -O binary guest.elf guest.bin
 * `record-kvm-traces.sh --check-guest` re-assembles it and compares.
 *
 * 32-bit protected mode, flat segments, no paging, loaded at 0x1000.
 * Handlers return with popfd + ret 8 instead of iret (see iret_out).
 * The VMM enters at `start` with ESI = vCPU index (0/1), ESP = that vCPU's
 * stack top (0x9000 / 0xa000), CS=0x08, DS=ES=SS=0x10, IF=0.
 *
 * Memory map (guest physical):
 *   0x1000 this image      0x2000 IDT (256 gates)   0x3000 vector stubs (8 bytes each)
 *   0x4000 VFLAGS[256]     per-vector flags set by the VMM: bit0 = OUT vector to DEVACK port
 *                          before the EOI (the "device" deasserts its line), bit1 = no EOI
 *   0x4100 COUNT[cpu]      interrupts handled per vCPU (dword)
 *   0x4180 ABORT           set by the VMM to break an IDLE wait (then it sends an NMI)
 *   0x4190 EXCOUNT[cpu]    #NP/#GP exceptions taken per vCPU (dword): a vector whose IDT gate the
 *                          VMM cleared faults on delivery; the handler logs it and returns
 *   0x4200 LOGIDX          next log slot (lock xadd)
 *   0x4400 MBOX[cpu]       16 bytes per vCPU: +4 arg1, +8 arg2, +12 result
 *   0x5000 LOG[2048]       one dword per handled interrupt: 0x80000000 | cpu<<8 | vector
 *   0x8000-0x9fff          stacks (vCPU n: 0x8000 + n*0x1000 .. +0x1000)
 * Ports (all go to the VMM): 0x500 READY (out), 0x501 CMD (in), 0x502 DEVACK (out),
 *   0x503 EXIT (out), 0x504 FAULT (out).
 */
        .intel_syntax noprefix
        .code32
        .set IDT,    0x2000
        .set STUBS,  0x3000
        .set VFLAGS, 0x4000
        .set COUNT,  0x4100
        .set ABORT,  0x4180
        .set EXCOUNT, 0x4190
        .set LOGIDX, 0x4200
        .set MBOX,   0x4400
        .set LOG,    0x5000
        .set LAPIC,  0xfee00000
        .globl _start
_start:
start:
        lgdt    [gdtr]
        test    esi, esi
        jnz     percpu                  /* only vCPU 0 builds the shared tables */
        /* 256 stubs "call common" at STUBS + 8*v and 256 interrupt gates to them */
        mov     edi, STUBS
        mov     ebx, IDT
build:
        mov     byte ptr [edi], 0xe8    /* call rel32 */
        mov     eax, offset common
        lea     edx, [edi+5]
        sub     eax, edx
        mov     [edi+1], eax
        mov     eax, edi                /* gate low: selector 0x08, offset 15:0 */
        and     eax, 0xffff
        or      eax, 0x00080000
        mov     [ebx], eax
        mov     eax, edi                /* gate high: offset 31:16, P=1 DPL=0 type 0xE */
        and     eax, 0xffff0000
        or      eax, 0x8e00
        mov     [ebx+4], eax
        add     edi, 8
        add     ebx, 8
        cmp     ebx, IDT + 256*8
        jb      build
        mov     al, 0xff                /* mask both 8259 PICs */
        out     0x21, al
        out     0xa1, al
percpu:
        lidt    [idtr]
        mov     eax, [LAPIC+0x20]       /* APIC ID (read, as an OS does at bring-up) */
        mov     dword ptr [LAPIC+0xf0], 0x1ff    /* SVR: APIC enable, spurious vector 0xff */
        mov     dword ptr [LAPIC+0x350], 0x10000 /* LVT LINT0 masked (no ExtINT from the PIC) */
        mov     dword ptr [LAPIC+0x80], 0        /* TPR 0 */
        mov     eax, esi
        mov     dx, 0x500
        out     dx, eax                 /* READY */
        mov     ebx, esi                /* ebx = this vCPU's mailbox */
        shl     ebx, 4
        add     ebx, MBOX
        /* ---- command loop: IN from CMD gives the op; args are in the mailbox ---- */
cmd_loop:
        mov     dx, 0x501
        in      eax, dx
        mov     ecx, [ebx+4]
        mov     edi, [ebx+8]
        cmp     eax, 1
        je      op_idle
        cmp     eax, 2
        je      op_spin
        cmp     eax, 3
        je      op_write
        cmp     eax, 4
        je      op_read
        cmp     eax, 5
        je      op_halt_cli
        mov     dx, 0x503               /* anything else: EXIT */
        out     dx, eax
        jmp     cmd_loop
op_write:                               /* WRITE32 [arg1] = arg2 (LAPIC, IOAPIC, ...) */
        mov     [ecx], edi
        jmp     cmd_loop
op_read:                                /* READ32 result = [arg1] */
        mov     eax, [ecx]
        mov     [ebx+12], eax
        jmp     cmd_loop
op_spin:                                /* SPIN: arg1 iterations of `loop` with IF=1 */
        sti
spin:   loop    spin
        cli
        jmp     cmd_loop
op_halt_cli:                            /* HALT_CLI: hlt with IF=0 (only an NMI ends it) */
        cli
        hlt
        jmp     cmd_loop
op_idle:                                /* IDLE: sti; hlt until COUNT[cpu] >= arg1 or ABORT */
        cli
        cmp     [esi*4 + COUNT], ecx
        jae     cmd_loop
        cmp     dword ptr [ABORT], 0
        jne     cmd_loop
        sti
        hlt
        jmp     op_idle
        /* ---- all vectors: stub "call common" pushed STUBS + 8*v + 5 ---- */
common:
        xchg    eax, [esp]              /* save eax, take the stub's return address */
        push    ebx
        push    ecx
        push    edx
        sub     eax, STUBS + 5
        shr     eax, 3                  /* eax = vector */
        mov     ebx, esp
        sub     ebx, 0x8000
        shr     ebx, 12                 /* ebx = vCPU index from the stack page */
        mov     ecx, 1                  /* LOG[lock xadd LOGIDX] = valid | cpu<<8 | vector */
        lock xadd [LOGIDX], ecx
        and     ecx, 0x7ff
        mov     edx, ebx
        shl     edx, 8
        or      edx, eax
        or      edx, 0x80000000
        mov     [ecx*4 + LOG], edx
        cmp     eax, 32
        jb      exception
        movzx   ecx, byte ptr [eax + VFLAGS]
        test    cl, 1
        jz      1f
        mov     dx, 0x502               /* DEVACK: the VMM may deassert the line now */
        out     dx, eax
1:      test    cl, 2
        jnz     2f
        mov     dword ptr [LAPIC+0xb0], 0       /* EOI */
2:      inc     dword ptr [ebx*4 + COUNT]
iret_out:
        pop     edx
        pop     ecx
        pop     ebx
        pop     eax
        /* No iret: KVM's instruction emulator implements IRET only in real mode
         * (a protected-mode iret stops the vCPU with an emulation error).
         * Restore EFLAGS (IF) from the frame, then return past CS and EFLAGS. */
        push    dword ptr [esp+8]
        popfd
        ret     8
exception:
        cmp     eax, 2                  /* NMI: the VMM's ABORT kick, just return */
        je      iret_out
        cmp     eax, 11                 /* #NP (gate not present) and #GP: count, drop the error */
        je      4f                      /* code, return to the interrupted instruction */
        cmp     eax, 13
        je      4f
        shl     ebx, 8                  /* FAULT: report cpu<<8 | vector, VMM stops */
        or      eax, ebx
        mov     dx, 0x504
3:      out     dx, eax
        jmp     3b
4:      inc     dword ptr [ebx*4 + EXCOUNT]
        pop     edx
        pop     ecx
        pop     ebx
        pop     eax
        add     esp, 4                  /* the error code */
        push    dword ptr [esp+8]
        popfd
        ret     8
        .p2align 3
gdt:    .quad   0                       /* null */
        .quad   0x00cf9a000000ffff      /* 0x08: code, base 0, limit 4G, 32-bit */
        .quad   0x00cf92000000ffff      /* 0x10: data, base 0, limit 4G */
gdtr:   .word   3*8 - 1
        .long   gdt
idtr:   .word   256*8 - 1
        .long   IDT
