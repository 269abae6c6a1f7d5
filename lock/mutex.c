/*
 * The sleeping-style lock (see include/xenith/mutex.h).  A ticket lock
 * underneath keeps waiters FIFO; the waiter polls the ticket with
 * interrupts on and yields to Xen between polls.
 */
#include <xenith/mutex.h>
#include <xenith/hypercall.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>

#define SPINS_BEFORE_YIELD 128

void mutex_lock(struct mutex *m)
{
    uint16_t me;
    unsigned int spins = 0;

    BUG_ON(this_cpu()->irq_nesting);            /* never from a handler */
    BUG_ON(m->owner == (int)smp_processor_id()); /* not recursive */
#ifdef CONFIG_LOCK_ORDER
    if (m->rank)
        lockorder_acquire(m->rank, m->name, m);
#endif
    me = __atomic_fetch_add(&m->lock.tail, 1, __ATOMIC_ACQUIRE);
    while (__atomic_load_n(&m->lock.head, __ATOMIC_ACQUIRE) != me) {
        if (++spins % SPINS_BEFORE_YIELD == 0) {
            /* Only a hint: a failure just means we keep polling. */
            if (hyp_sched_op(SCHEDOP_yield, NULL))
                cpu_relax();
        } else {
            cpu_relax();
        }
    }
    __atomic_store_n(&m->owner, (int)smp_processor_id(), __ATOMIC_RELAXED);
}

void mutex_unlock(struct mutex *m)
{
    BUG_ON(m->owner != (int)smp_processor_id());
    __atomic_store_n(&m->owner, -1, __ATOMIC_RELAXED);
#ifdef CONFIG_LOCK_ORDER
    if (m->rank)
        lockorder_release(m->rank, m);
#endif
    spin_unlock(&m->lock);
}

bool mutex_held(const struct mutex *m)
{
    return __atomic_load_n(&m->owner, __ATOMIC_RELAXED) ==
           (int)smp_processor_id();
}
