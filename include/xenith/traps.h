#ifndef XENITH_TRAPS_H
#define XENITH_TRAPS_H

#include <xenith/types.h>

/* Saved by arch/x86/entry.S, in this order (lowest address first). */
struct cpu_regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    /* pushed by the CPU */
    uint64_t rip, cs, rflags, rsp, ss;
};

#define VEC_EVTCHN_UPCALL 0xf3
#define VEC_SPURIOUS    0xff

typedef void (*irq_vector_handler_t)(struct cpu_regs *r);

void traps_init(void);
void traps_load(void);          /* this vCPU: IDT */
void set_vector_handler(unsigned int vec, irq_vector_handler_t h);

#endif
