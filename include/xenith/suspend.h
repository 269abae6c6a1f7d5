/*
 * Suspend and resume of the whole domain (kernel/suspend.c): what
 * `xl save`, `xl restore` and `xl migrate` ask of a guest through
 * control/shutdown = "suspend".
 */
#ifndef XENITH_SUSPEND_H
#define XENITH_SUSPEND_H

#include <xenith/types.h>

/* From the control/shutdown watch (thread context): suspend now.  Parks
 * the other vCPUs, suspends, resumes; 0 once the domain runs again (in a
 * new domain or, cancelled, in the same one), or -errno if it never
 * suspended (a vCPU did not reach a safe point in time). */
int suspend_domain(void);

/*
 * A safe point: thread context, interrupts on, no lock held, nothing of
 * the event or xenstore layers half done.  The idle loop passes one on
 * every turn; code that keeps a vCPU busy for long (a self-test's load)
 * must pass one often, or a suspend cannot park that vCPU and gives up.
 */
void suspend_park_slow(void);
extern int suspend_parking;             /* atomic: a suspend parks vCPUs */
static inline void suspend_point(void)
{
    if (__builtin_expect(__atomic_load_n(&suspend_parking, __ATOMIC_ACQUIRE),
                         0))
        suspend_park_slow();
}

/* Resumes into a new domain, and suspends cancelled (the same domain
 * goes on), so far. */
unsigned int suspend_resumes(void);
unsigned int suspend_cancels(void);

#endif
