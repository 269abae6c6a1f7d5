/* The hypercall page: Xen fills it (through the MSR that CPUID leaf
 * base+2 names) with one 32-byte stub per hypercall.  It lives in .text
 * so it is executable and, to us, read-only. */
        .section .text.hypercall_page, "ax", @progbits
        .balign 4096
        .globl hypercall_page
hypercall_page:
        .fill 4096, 1, 0xcc             /* int3 until Xen writes it */
