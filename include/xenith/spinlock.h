/*
 * Ticket spinlock.  FIFO fair; spin_lock_irqsave() for data an interrupt
 * handler also touches.  The uncontended path is inline (one locked add,
 * no hypercall); a waiter goes to lock/spinlock.c's slow path, where the
 * pv slow path (poll on a kicker port instead of spinning) will live.
 */
#ifndef XENITH_SPINLOCK_H
#define XENITH_SPINLOCK_H

#include <xenith/types.h>
#include <xenith/compiler.h>
#include <xenith/x86.h>

typedef union spinlock {
    uint32_t word;
    struct {
        uint16_t head;          /* ticket now served */
        uint16_t tail;          /* next ticket to hand out */
    };
} spinlock_t;

#define SPINLOCK_INIT { .word = 0 }

void spin_lock_slow(spinlock_t *l, uint16_t ticket);

static inline void spin_lock(spinlock_t *l)
{
    uint16_t me = __atomic_fetch_add(&l->tail, 1, __ATOMIC_ACQUIRE);

    if (unlikely(__atomic_load_n(&l->head, __ATOMIC_ACQUIRE) != me))
        spin_lock_slow(l, me);
}

static inline void spin_unlock(spinlock_t *l)
{
    __atomic_store_n(&l->head, l->head + 1, __ATOMIC_RELEASE);
}

static inline unsigned long spin_lock_irqsave(spinlock_t *l)
{
    unsigned long f = irq_save();
    spin_lock(l);
    return f;
}

static inline void spin_unlock_irqrestore(spinlock_t *l, unsigned long f)
{
    spin_unlock(l);
    irq_restore(f);
}

#endif
