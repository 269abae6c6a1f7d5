/*
 * Grace periods for the event-channel read side.  The upcall looks up
 * evtchn_to_irq and the descriptor with plain atomic loads and no lock
 * (a reader/writer lock there deadlocked Linux: CVE-2023-34324).  So a
 * descriptor or irq_info that was reachable may still be in use by an
 * upcall loop on another vCPU after its mapping is cleared; it is freed
 * only after grace_wait(): every vCPU has been seen outside the
 * loop, or between two of its rounds, since the mapping was cleared.
 *
 * Each vCPU's upcall_seq is odd while it is inside the loop; only that
 * vCPU writes it.  grace_wait() waits, for each vCPU seen inside, until
 * its sequence moves on.  The loop itself need not end for that: between
 * two rounds, holding nothing it looked up, it passes a quiescent state
 * (quiesce_pass: even, then odd again), so one round bounds the wait even
 * while an event storm keeps the loop going.
 *
 * Other lock-free readers of per-vCPU event state use the same sequence
 * through quiesce_read_begin/end, with interrupts off so that no upcall
 * nests inside and flips it: a sender of a vCPU's call IPI reads the
 * published port and sends in one section, and DEAD clears the port and
 * waits a grace period before it closes it (events_dead_cpu).
 */
#include <xenith/quiesce.h>
#include <xenith/cpu.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/x86.h>

void quiesce_enter(void)
{
    /* A locked add: the store is ordered before the loop's loads. */
    __atomic_fetch_add(&this_cpu()->upcall_seq, 1, __ATOMIC_SEQ_CST);
}

void quiesce_exit(void)
{
    __atomic_fetch_add(&this_cpu()->upcall_seq, 1, __ATOMIC_RELEASE);
}

struct read_section quiesce_read_begin(void)
{
    struct read_section rs = { .flags = irq_save() };

    /* Odd: we interrupted our own upcall loop's section; it covers us. */
    rs.entered = !(__atomic_load_n(&this_cpu()->upcall_seq,
                                   __ATOMIC_RELAXED) & 1);
    if (rs.entered)
        quiesce_enter();
    return rs;
}

void quiesce_read_end(struct read_section rs)
{
    if (rs.entered)
        quiesce_exit();
    irq_restore(rs.flags);
}

/*
 * Leave and re-enter the read side.  The release orders the round's
 * loads of the tables before the even value a grace_wait may see; the
 * locked add of quiesce_enter orders the odd value before the next
 * round's loads, against grace_wait's clear-store, full barrier, sample.
 */
void quiesce_pass(void)
{
    quiesce_exit();
    quiesce_enter();
}

void grace_wait(void)
{
    unsigned int cpu, me = smp_processor_id();

    /* The caller's clearing store must be visible before we sample. */
    smp_mb();
    /* Every vCPU, not only the online ones: a dying vCPU still takes
     * upcalls until it parks (and a parked one's sequence is even). */
    for (cpu = 0; cpu < smp_domain_vcpus(); cpu++) {
        uint64_t *seq = &percpu_area[cpu].upcall_seq;
        uint64_t s = __atomic_load_n(seq, __ATOMIC_ACQUIRE);

        if (cpu == me || !(s & 1))
            continue;
        while (__atomic_load_n(seq, __ATOMIC_ACQUIRE) == s)
            cpu_relax();
    }
}
