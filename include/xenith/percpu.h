/*
 * Per-vCPU data.  %gs base points at this vCPU's struct percpu, whose
 * first word points at itself, so this_cpu() is one load.
 */
#ifndef XENITH_PERCPU_H
#define XENITH_PERCPU_H

#include <xenith/types.h>
#include <xenith/compiler.h>

#define MAX_VCPUS 64

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __packed;

/* A stack: [bottom, top), with an unmapped guard page below bottom. */
struct stack {
    uintptr_t bottom, top;
};

enum {
    STACK_KERNEL,
    STACK_IST_DF,               /* #DF: where a kernel stack overflow lands */
    STACK_IST_NMI,              /* NMI and #MC */
    NR_STACKS
};

struct percpu {
    struct percpu *self;        /* must stay first: this_cpu() reads it */
    unsigned int cpu_id;        /* Xen's vcpu_id */
    uint32_t apic_id;
    uint64_t gdt[5];            /* null, kcode, kdata, tss (2 slots) */
    struct tss tss;
    struct stack stacks[NR_STACKS];
    uint32_t irq_nesting;       /* > 0 inside an interrupt handler */
};

extern struct percpu percpu_area[MAX_VCPUS];

static inline struct percpu *this_cpu(void)
{
    struct percpu *p;
    __asm__ __volatile__("mov %%gs:0, %0" : "=r"(p));
    return p;
}

static inline unsigned int smp_processor_id(void)
{
    return this_cpu()->cpu_id;
}

/* Load this vCPU's GDT/TSS and %gs base. */
void percpu_init(unsigned int cpu, const struct stack stacks[NR_STACKS]);
/* The range a stack walk may read on this vCPU (exception stacks too). */
bool stack_contains(uintptr_t lo, uintptr_t hi);
/* addr is in the guard page of one of this vCPU's stacks. */
bool stack_guard_hit(uintptr_t addr);

#endif
