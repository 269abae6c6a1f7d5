/*
 * The floor: the least a 64-bit PVH kernel must do before it can say a
 * result, as a yardstick for boot time (tests/boot_time.py).
 *
 * PVH entry, one 2 MiB identity page, long mode (the CR4, CR3, EFER and
 * CR0 writes Xen intercepts), the hypercall page from Xen's CPUID leaves,
 * one console write ("Test result: SUCCESS") and a poweroff.  This is
 * what XTF's smallest 64-bit test does too; nothing xenith does at boot
 * is left out of it that xenith could also leave out.  Under QEMU TCG
 * most of the time below goes to Xen running an intercept path for the
 * first time, so this figure, not a wish, is what a boot can get close
 * to on such a machine.
 */
#include <xen/elfnote.h>

#define CR0_PE (1 << 0)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80
#define HYPERVISOR_console_io 18        /* xen/xen.h's numbers */
#define HYPERVISOR_sched_op 29
#define CONSOLEIO_write 0
#define SCHEDOP_shutdown 2
#define SHUTDOWN_poweroff 0

        .section .note.Xen, "a", @note
        .balign 4
        .long 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .balign 4
        .long floor_start32

        .text
        .code32
        .globl floor_start32
floor_start32:
        cli
        mov     $stack_top, %esp
        /* pml4[0] -> pdpt[0] -> pd[0]: the first 2 MiB, which hold us. */
        movl    $(pdpt + PTE_P + PTE_W), pml4
        movl    $(pd + PTE_P + PTE_W), pdpt
        movl    $(PTE_P + PTE_W + PTE_PS), pd
        mov     %cr4, %eax
        or      $CR4_PAE, %eax
        mov     %eax, %cr4
        mov     $pml4, %eax
        mov     %eax, %cr3
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr
        mov     %cr0, %eax
        or      $(CR0_PG | CR0_PE), %eax
        mov     %eax, %cr0
        lgdt    gdt_ptr
        ljmp    $8, $floor_start64

        .code64
floor_start64:
        /* Xen's leaves: "XenVMMXenVMM" at 0x40000000 + k * 0x100. */
        mov     $0x40000000, %esi
1:      mov     %esi, %eax
        cpuid
        cmp     $0x566e6558, %ebx       /* "XenV" */
        je      2f
        add     $0x100, %esi
        cmp     $0x40010000, %esi
        jb      1b
        jmp     halt                    /* not Xen: nobody to tell */
2:      lea     2(%rsi), %eax           /* base + 2: the hypercall MSR */
        cpuid
        mov     %ebx, %ecx
        mov     $hypercall_page, %eax
        xor     %edx, %edx
        wrmsr

        mov     $CONSOLEIO_write, %edi
        mov     $(msg_end - msg), %esi
        mov     $msg, %edx
        call    hypercall_page + 32 * HYPERVISOR_console_io
        mov     $SCHEDOP_shutdown, %edi
        mov     $shutdown_reason, %esi
        call    hypercall_page + 32 * HYPERVISOR_sched_op
halt:   hlt
        jmp     halt

        .section .rodata
msg:    .ascii  "Test result: SUCCESS\n"
msg_end:
        .balign 8
gdt:    .quad   0
        .quad   0x00af9a000000ffff      /* 64-bit code, ring 0 */
gdt_ptr:
        .word   gdt_ptr - gdt - 1
        .long   gdt
shutdown_reason:
        .long   SHUTDOWN_poweroff

        .section .bss
        .balign 4096
hypercall_page: .skip 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4096
        .skip 4096
stack_top:
