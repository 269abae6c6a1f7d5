/*
 * A sleeping-style lock for the bind/unbind and hotplug paths.  xenith
 * has no scheduler, so "sleeping" means: taken and held with interrupts
 * ON, never from an interrupt handler, and a waiter gives its pCPU back
 * to Xen (SCHEDOP_yield) instead of spinning hot.  Because interrupts
 * stay on, a holder may wait for handlers on other vCPUs (disable_irq,
 * grace periods) without deadlocking against an upcall on its own vCPU.
 */
#ifndef XENITH_MUTEX_H
#define XENITH_MUTEX_H

#include <xenith/spinlock.h>

struct mutex {
    spinlock_t lock;
    int owner;                  /* vCPU holding it, -1 = none (asserts) */
    const char *name;
    unsigned int rank;          /* include/xenith/lockorder.h */
};

#define MUTEX_INIT_RANKED(r, n)                                             \
    { .lock = SPINLOCK_INIT, .owner = -1, .name = (n), .rank = (r) }
#define MUTEX_INIT(n) MUTEX_INIT_RANKED(0, n)

void mutex_lock(struct mutex *m);
void mutex_unlock(struct mutex *m);
/* Held by this vCPU (for assertions). */
bool mutex_held(const struct mutex *m);

#endif
