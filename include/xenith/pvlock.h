/*
 * pv-spinlock slow path (lock/pvlock.c): per-vCPU kickers and the knobs
 * tests and benchmarks use.  The lock itself is include/xenith/spinlock.h.
 */
#ifndef XENITH_PVLOCK_H
#define XENITH_PVLOCK_H

#include <xenith/types.h>

/* Pauses when the clock cannot calibrate; the bounds of any threshold
 * (lock/pvlock.c: pvlock_set_default says how the default is found). */
#define PVLOCK_SPIN_FALLBACK 2048u
#define PVLOCK_SPIN_MIN 4u
#define PVLOCK_SPIN_MAX (1u << 16)

/* Pauses the next waiter in line spins before it sleeps (the others an
 * eighth): the boot default (calibrated, or pvspin=) and the value in
 * force (tests lower it for a while, then restore the default). */
extern unsigned int pvlock_spin_default;
extern unsigned int pvlock_spin_threshold;

/* vCPU0 at boot, before other vCPUs run: set the default from what a
 * pause and a hypercall cost, or to pauses if not 0 (pvspin=). */
void pvlock_set_default(unsigned int pauses);
extern bool pvlock_enabled;

/* PREPARE / DEAD steps of a vCPU (kernel/cpu.c, kernel/cpu_hotplug.c). */
int pvlock_prepare_cpu(unsigned int cpu);
void pvlock_resume_cpu(unsigned int cpu);       /* after a resume */
void pvlock_dead_cpu(unsigned int cpu);

/* vCPU cpu is in the slow path right now. */
bool pvlock_waiting(unsigned int cpu);

#endif
