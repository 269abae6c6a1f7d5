/*
 * Sets of vCPUs.  MAX_VCPUS is the most an HVM/PVH domain can have
 * (Xen's HVM_MAX_VCPUS, 128; a dom0 gets at most 64), so every set of
 * vCPUs is a bitmap of that many bits, never a single 64-bit word.
 * Pure C with no kernel dependencies: the command-line parser uses it on
 * the host too (tests/host).
 */
#ifndef XENITH_CPUMASK_H
#define XENITH_CPUMASK_H

#include <xenith/types.h>

#define MAX_VCPUS 128
#define CPUMASK_WORDS ((MAX_VCPUS + 63) / 64)

struct cpumask {
    uint64_t w[CPUMASK_WORDS];
};

static inline bool cpumask_test(const struct cpumask *m, unsigned int cpu)
{
    return cpu < MAX_VCPUS && (m->w[cpu / 64] >> (cpu % 64)) & 1;
}

static inline void cpumask_set(struct cpumask *m, unsigned int cpu)
{
    m->w[cpu / 64] |= 1ull << (cpu % 64);
}

static inline void cpumask_clear(struct cpumask *m, unsigned int cpu)
{
    m->w[cpu / 64] &= ~(1ull << (cpu % 64));
}

static inline unsigned int cpumask_weight(const struct cpumask *m)
{
    unsigned int n = 0;

    for (unsigned int cpu = 0; cpu < MAX_VCPUS; cpu++)
        n += cpumask_test(m, cpu);
    return n;
}

static inline bool cpumask_empty(const struct cpumask *m)
{
    for (unsigned int i = 0; i < CPUMASK_WORDS; i++)
        if (m->w[i])
            return false;
    return true;
}

/* The atomic forms, for sets that other vCPUs read while one changes. */
static inline void cpumask_set_atomic(struct cpumask *m, unsigned int cpu)
{
    __atomic_fetch_or(&m->w[cpu / 64], 1ull << (cpu % 64), __ATOMIC_SEQ_CST);
}

static inline void cpumask_clear_atomic(struct cpumask *m, unsigned int cpu)
{
    __atomic_fetch_and(&m->w[cpu / 64], ~(1ull << (cpu % 64)),
                       __ATOMIC_SEQ_CST);
}

static inline bool cpumask_test_atomic(const struct cpumask *m,
                                       unsigned int cpu)
{
    return cpu < MAX_VCPUS &&
           (__atomic_load_n(&m->w[cpu / 64], __ATOMIC_ACQUIRE) >> (cpu % 64)) & 1;
}

#endif
