/*
 * pv-spinlock slow path (lock/pvlock.c): per-vCPU kickers and the knobs
 * tests and benchmarks use.  The lock itself is include/xenith/spinlock.h.
 */
#ifndef XENITH_PVLOCK_H
#define XENITH_PVLOCK_H

#include <xenith/types.h>

#define PVLOCK_SPIN_DEFAULT 2048u

extern unsigned int pvlock_spin_threshold;
extern bool pvlock_enabled;

/* PREPARE / DEAD steps of a vCPU (kernel/cpu.c, kernel/cpu_hotplug.c). */
int pvlock_prepare_cpu(unsigned int cpu);
void pvlock_dead_cpu(unsigned int cpu);

/* vCPUs in the slow path right now (bit n = vCPU n). */
uint64_t pvlock_waiting_mask(void);

#endif
