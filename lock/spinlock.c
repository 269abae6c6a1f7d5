/*
 * The contended path of the ticket lock: wait until our ticket is served.
 * Spinning is all it does for now; under vCPU overcommit the holder may
 * be descheduled, which is what the pv slow path (SCHEDOP_poll on a
 * kicker port, unlock kicking every waiter) will address.
 */
#include <xenith/spinlock.h>

void spin_lock_slow(spinlock_t *l, uint16_t ticket)
{
    while (__atomic_load_n(&l->head, __ATOMIC_ACQUIRE) != ticket)
        cpu_relax();
}
