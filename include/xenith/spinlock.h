/*
 * Ticket spinlock with a paravirtual slow path (lock/pvlock.c).
 *
 * FIFO fair.  The uncontended path is inline: one locked add to take a
 * ticket, one full-barrier store to release, no hypercall.  A waiter that
 * has spun for a while publishes a wait record and sleeps in SCHEDOP_poll
 * on its vCPU's kicker port instead of burning a pCPU its lock holder may
 * need (vCPUs are overcommitted); the unlocker kicks EVERY vCPU whose
 * record names the lock (bug C: kicking only the first left a waiter
 * asleep on a free lock when the first was busy in a nested interrupt).
 *
 * Interrupts: the slow path never changes them.  spin_lock() callers with
 * interrupts on wait interruptibly (a handler may nest a wait on another
 * lock: lock/pvlock.c handles that); spin_lock_irqsave() waits with them
 * off, so no handler ever runs on a vCPU waiting for a lock handlers take.
 *
 * With CONFIG_LOCK_ORDER a lock may carry a rank (include/xenith/lockorder.h)
 * and taking it while holding a lock of a later rank panics.
 */
#ifndef XENITH_SPINLOCK_H
#define XENITH_SPINLOCK_H

#include <xenith/types.h>
#include <xenith/compiler.h>
#include <xenith/x86.h>

typedef struct spinlock {
    union {
        uint32_t word;
        struct {
            uint16_t head;      /* ticket now served */
            uint16_t tail;      /* next ticket to hand out */
        };
    };
#ifdef CONFIG_LOCK_ORDER
    uint16_t rank;              /* 0 = not checked */
    const char *name;
#endif
} spinlock_t;

#ifdef CONFIG_LOCK_ORDER
#define SPINLOCK_INIT_RANKED(r, n) { .word = 0, .rank = (r), .name = (n) }
extern bool lockorder_live;
void lockorder_acquire(uint16_t rank, const char *name, const void *lock);
void lockorder_release(uint16_t rank, const void *lock);
#define LOCKORDER_ACQUIRE(l) do { if ((l)->rank)                            \
    lockorder_acquire((l)->rank, (l)->name, (l)); } while (0)
#define LOCKORDER_RELEASE(l) do { if ((l)->rank)                            \
    lockorder_release((l)->rank, (l)); } while (0)
#else
#define SPINLOCK_INIT_RANKED(r, n) { .word = 0 }
#define LOCKORDER_ACQUIRE(l) do { } while (0)
#define LOCKORDER_RELEASE(l) do { } while (0)
#endif
#define SPINLOCK_INIT SPINLOCK_INIT_RANKED(0, NULL)

void spin_lock_slow(spinlock_t *l, uint16_t ticket);
void spin_unlock_kick(spinlock_t *l);

static inline void spin_lock(spinlock_t *l)
{
    uint16_t me;

    LOCKORDER_ACQUIRE(l);
    me = __atomic_fetch_add(&l->tail, 1, __ATOMIC_ACQUIRE);
    if (unlikely(__atomic_load_n(&l->head, __ATOMIC_ACQUIRE) != me))
        spin_lock_slow(l, me);
}

/*
 * Release, then look for waiters.  The release is a full barrier (xchg):
 * the read of the tail below must not pass it, or a waiter that has just
 * published itself and re-checked the (old) head would sleep unkicked
 * (the store-buffer case, concurrency.md scenario 8).  Tickets still
 * queued past ours mean someone may be asleep.
 */
static inline void spin_unlock(spinlock_t *l)
{
    uint16_t next = (uint16_t)(l->head + 1);

    LOCKORDER_RELEASE(l);
    __atomic_store_n(&l->head, next, __ATOMIC_SEQ_CST);
    if (unlikely(__atomic_load_n(&l->tail, __ATOMIC_SEQ_CST) != next))
        spin_unlock_kick(l);
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
