/*
 * Interrupt and exception entry: one 16-byte stub per vector pushes a
 * dummy error code (where the CPU pushes none) and the vector number,
 * then isr_common saves every register as a struct cpu_regs and calls
 * trap_dispatch(regs).  xenith runs in ring 0 only: no swapgs, no iret
 * to user mode.
 */
#include <xenith/asm.h>

        .text
        .code64

        .balign 16
        .globl isr_stubs
isr_stubs:
vec = 0
.rept 256
        .balign 16
        /* The CPU pushes an error code for these; the rest get a 0. */
.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
.else
        pushq   $0
.endif
        pushq   $vec
        jmp     isr_common
vec = vec + 1
.endr

isr_common:
        /* Frame: CPU (ss..rip) + error code + vector = 7 words; 15 more
         * here makes 22, so %rsp is 16-byte aligned for the call. */
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        cld
        mov     %rsp, %rdi
        call    trap_dispatch
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $16, %rsp               /* vector, error code */
        iretq

/* A secondary vCPU starts here (arch/x86/smp.c): long mode, our page
 * tables, %rsp at the top of its kernel stack, %rdi its number. */
        .globl ap_entry
ap_entry:
        xor     %ebp, %ebp              /* terminates backtraces */
        call    ap_main
        ud2

/* Reload %cs, %ds, %es, %ss from the GDT just loaded: a vCPU Xen started
 * from a vcpu_hvm_context has cached descriptors but null selectors, and
 * the first iretq would load %cs from the selector. */
        .globl load_kernel_segments
load_kernel_segments:
        mov     $GDT_KDATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        popq    %rax
        pushq   $GDT_KCODE
        pushq   %rax
        lretq
