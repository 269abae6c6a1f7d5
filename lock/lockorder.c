/*
 * The lock-order checker (CONFIG_LOCK_ORDER; include/xenith/lockorder.h).
 * Each vCPU keeps the ranked locks it holds, interrupt handlers' locks
 * stacked on top of the interrupted code's: a handler that takes a lock
 * of lower rank than one its vCPU already holds could deadlock against
 * that vCPU's own holder, so it is a violation too.  The check costs a
 * few loads and stores per ranked lock (make bench measures it); the
 * default build compiles it out.
 */
#include <xenith/spinlock.h>
#include <xenith/lockorder.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>

#ifdef CONFIG_LOCK_ORDER

/* Before percpu_init the vCPU has no per-vCPU area to record in. */
bool lockorder_live;

void lockorder_acquire(uint16_t rank, const char *name, const void *lock)
{
    struct percpu *pc;

    if (!lockorder_live)
        return;
    pc = this_cpu();
    for (unsigned int i = 0; i < pc->nheld; i++) {
        if (pc->held[i].rank >= rank)
            panic("lock order: taking %s (rank %u) while holding %s "
                  "(rank %u) on vCPU%u", name, rank, pc->held[i].name,
                  pc->held[i].rank, pc->cpu_id);
    }
    if (pc->nheld == LOCKORDER_MAX_HELD)
        panic("lock order: more than %u locks held on vCPU%u",
              LOCKORDER_MAX_HELD, pc->cpu_id);
    pc->held[pc->nheld++] = (struct held_lock){ lock, name, rank };
}

void lockorder_release(uint16_t rank, const void *lock)
{
    struct percpu *pc;

    if (!lockorder_live)
        return;
    pc = this_cpu();
    for (unsigned int i = pc->nheld; i-- > 0;) {
        if (pc->held[i].lock == lock) {
            for (; i + 1 < pc->nheld; i++)
                pc->held[i] = pc->held[i + 1];
            pc->nheld--;
            return;
        }
    }
    panic("lock order: releasing a lock (rank %u) vCPU%u does not hold",
          rank, pc->cpu_id);
}

#endif
