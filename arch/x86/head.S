/*
 * PVH entry.  Xen (or any PVH loader) enters pvh_start32 in 32-bit
 * protected mode, paging off, flat segments, %ebx = physical address of
 * struct hvm_start_info.  We check the magic, zero .bss, build a 4 GiB
 * identity map with 2 MiB pages (replaced by kernel/paging once memory is
 * known), switch to long mode and call kernel_main(start_info).
 */
#include <xen/elfnote.h>
#include <xenith/asm.h>

#define XEN_HVM_START_MAGIC_VALUE 0x336ec578
#define BOOT_STACK_TOP (boot_stacks + 4096 + BOOT_STACK_SIZE)
#ifdef CONFIG_TEST_BAD_MAGIC
/* configs/badmagic.mk: expect another magic, to exercise the refusal. */
#define EXPECTED_MAGIC (XEN_HVM_START_MAGIC_VALUE ^ 1)
#else
#define EXPECTED_MAGIC XEN_HVM_START_MAGIC_VALUE
#endif

/* The note that tells the loader where to enter (PVH, not PV). */
        .section .note.Xen, "a", @note
        .balign 4
        .long 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .balign 4
        .long pvh_start32

        .section .text.head, "ax", @progbits
        .code32
        .globl pvh_start32
pvh_start32:
        cli
        cld
        /* First thing: the TSC, for the boot-time figure (make bench). */
        rdtsc
        mov     %eax, %esi
        mov     %edx, %edi

        /* A wrong magic means a loader we do not understand: say so on
         * the debug port and stop, rather than fault on garbage. */
        cmpl    $EXPECTED_MAGIC, (%ebx)
        jne     .Lbad_magic

        /* Zero .bss (the boot stack and page tables live there). */
        mov     $__bss_start, %edx
        mov     %edi, %ebp              /* keep TSC high across rep stos */
        mov     %edx, %edi
        mov     $__bss_end, %ecx
        sub     %edx, %ecx
        shr     $2, %ecx
        xor     %eax, %eax
        rep stosl
        mov     %esi, boot_tsc
        mov     %ebp, boot_tsc + 4
        rdtsc
        mov     %eax, boot_tsc_steps
        mov     %edx, boot_tsc_steps + 4
        mov     %ebx, boot_start_info_pa

        mov     $BOOT_STACK_TOP, %esp

        /* Long mode needs NX for our W^X page tables: refuse without it
         * (and without the extended leaf that reports it). */
        mov     $0x80000000, %eax
        cpuid
        cmp     $0x80000001, %eax
        jb      .Lno_nx
        mov     $0x80000001, %eax
        cpuid
        bt      $20, %edx
        jnc     .Lno_nx

        /* pml4[0] -> pdpt; pdpt[0..3] -> pd[0..3]; pd: 2048 x 2 MiB. */
        mov     $boot_pdpt, %eax
        or      $(PTE_P | PTE_W), %eax
        mov     %eax, boot_pml4
        mov     $boot_pd, %eax
        or      $(PTE_P | PTE_W), %eax
        mov     $boot_pdpt, %edi
        mov     $4, %ecx
1:      mov     %eax, (%edi)
        add     $4096, %eax
        add     $8, %edi
        loop    1b
        mov     $boot_pd, %edi
        mov     $(PTE_P | PTE_W | PTE_PS), %eax
        xor     %edx, %edx
        mov     $2048, %ecx
1:      mov     %eax, (%edi)
        mov     %edx, 4(%edi)
        add     $0x200000, %eax
        adc     $0, %edx
        add     $8, %edi
        loop    1b

        mov     %cr4, %eax
        or      $(CR4_PAE), %eax
        mov     %eax, %cr4
        mov     $boot_pml4, %eax
        mov     %eax, %cr3
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $(EFER_LME | EFER_NXE), %eax
        wrmsr
        mov     %cr0, %eax
        or      $(CR0_PG | CR0_WP | CR0_PE), %eax
        mov     %eax, %cr0
        rdtsc
        mov     %eax, boot_tsc_steps + 8
        mov     %edx, boot_tsc_steps + 12

        lgdt    boot_gdt_ptr
        ljmp    $GDT_KCODE, $start64

.Lbad_magic:
        mov     $msg_bad_magic, %esi
        jmp     .Lfatal32
.Lno_nx:
        mov     $msg_no_nx, %esi
.Lfatal32:
        lodsb
        test    %al, %al
        jz      2f
        outb    %al, $0xe9
        jmp     .Lfatal32
        /* The fail verdict for QEMU's isa-debug-exit, so a harness need not
         * wait for a timeout (port 0xf4 is otherwise unassigned on PCs; the
         * command line that could say exit= is not ours to read yet), then
         * stop for good. */
2:      mov     $1, %al
        outb    %al, $0xf4
3:      hlt
        jmp     3b

        .code64
start64:
        mov     $GDT_KDATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        xor     %eax, %eax
        mov     %eax, %fs
        mov     %eax, %gs
        mov     $BOOT_STACK_TOP, %rsp
        xor     %ebp, %ebp              /* terminates backtraces */
        mov     boot_start_info_pa, %edi
        call    kernel_main
        ud2

        .section .rodata
msg_bad_magic:
        .asciz  "xenith: bad hvm_start_info magic: not a PVH loader xenith understands; stopping\n"
msg_no_nx:
        .asciz  "xenith: CPU has no NX bit; xenith needs it for W^X; stopping\n"

        .data
        .balign 8
        .globl boot_tsc, boot_start_info_pa, boot_tsc_steps
boot_tsc:               .quad 0
boot_start_info_pa:     .quad 0
/* The TSC once .bss is zeroed and once paging is on (kernel/boot_trace.c). */
boot_tsc_steps:         .quad 0, 0

        .section .bss.page_aligned, "aw", @nobits
        .balign 4096
        .globl boot_pml4
boot_pml4:      .skip 4096
boot_pdpt:      .skip 4096
boot_pd:        .skip 4 * 4096
        /* vCPU0's stacks: the kernel stack, and the IST stacks for #DF and
         * for NMI/#MC.  The page below each is unmapped by arch/x86/paging:
         * an overflow faults instead of corrupting what lies below. */
        .globl boot_stacks
boot_stacks:
        .skip 4096
        .skip BOOT_STACK_SIZE
        .skip 4096
        .skip BOOT_IST_SIZE
        .skip 4096
        .skip BOOT_IST_SIZE
boot_stacks_end:

        /* Boot GDT: enough to enter long mode.  arch/x86/gdt.c installs the
         * per-vCPU GDT (with a TSS) once C runs. */
        .data
        .balign 16
boot_gdt:
        .quad 0
        .quad 0x00af9a000000ffff        /* GDT_KCODE: 64-bit code, DPL0 */
        .quad 0x00cf92000000ffff        /* GDT_KDATA: data, DPL0 */
boot_gdt_end:
boot_gdt_ptr:
        .word boot_gdt_end - boot_gdt - 1
        .long boot_gdt
