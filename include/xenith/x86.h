/* Thin wrappers around x86 instructions. */
#ifndef XENITH_X86_H
#define XENITH_X86_H

#include <xenith/types.h>

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ __volatile__("outb %0, %1" :: "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void cpuid_count(uint32_t leaf, uint32_t sub, uint32_t *a,
                               uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ __volatile__("cpuid"
                         : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
                         : "0"(leaf), "2"(sub));
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b,
                         uint32_t *c, uint32_t *d)
{
    cpuid_count(leaf, 0, a, b, c, d);
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ __volatile__("wrmsr" :: "c"(msr), "a"((uint32_t)v),
                         "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* rdtsc ordered after earlier loads (lfence is dispatch-serialising on
 * the CPUs Xen supports), for intervals measured around short code. */
static inline uint64_t rdtsc_ordered(void)
{
    __asm__ __volatile__("lfence" ::: "memory");
    return rdtsc();
}

static inline unsigned long read_cr0(void)
{
    unsigned long v;
    __asm__ __volatile__("mov %%cr0, %0" : "=r"(v));
    return v;
}

static inline unsigned long read_cr2(void)
{
    unsigned long v;
    __asm__ __volatile__("mov %%cr2, %0" : "=r"(v));
    return v;
}

static inline unsigned long read_cr3(void)
{
    unsigned long v;
    __asm__ __volatile__("mov %%cr3, %0" : "=r"(v));
    return v;
}

static inline void write_cr3(unsigned long v)
{
    __asm__ __volatile__("mov %0, %%cr3" :: "r"(v) : "memory");
}

static inline unsigned long read_cr4(void)
{
    unsigned long v;
    __asm__ __volatile__("mov %%cr4, %0" : "=r"(v));
    return v;
}

static inline unsigned long read_flags(void)
{
    unsigned long f;
    __asm__ __volatile__("pushf; pop %0" : "=r"(f) :: "memory");
    return f;
}

#define X86_EFLAGS_IF 0x200

static inline void irq_disable(void) { __asm__ __volatile__("cli" ::: "memory"); }
static inline void irq_enable(void)  { __asm__ __volatile__("sti" ::: "memory"); }

static inline unsigned long irq_save(void)
{
    unsigned long f = read_flags();
    irq_disable();
    return f;
}

static inline void irq_restore(unsigned long f)
{
    if (f & X86_EFLAGS_IF)
        irq_enable();
}

static inline void halt(void) { __asm__ __volatile__("hlt" ::: "memory"); }

/* Enable interrupts and halt as one step: sti takes effect after the next
 * instruction, so an interrupt cannot slip in between and be slept on. */
static inline void safe_halt(void)
{
    __asm__ __volatile__("sti; hlt" ::: "memory");
}

static inline void invlpg(vaddr_t va)
{
    __asm__ __volatile__("invlpg (%0)" :: "r"(va) : "memory");
}

#endif
