/*
 * The upcall watch: every vCPU's tick looks at the other vCPUs for one
 * that is deaf to its own events, and raises its upcall vector again.
 *
 * Deaf: halted with interrupts on (cpu_halt) while its upcall_pending is
 * set, and no upcall taken, for over DEAF_NS.  Nothing in xenith holds
 * an upcall back from a halted vCPU: the upcall clears upcall_pending
 * first thing, and a halted vCPU has interrupts on.  So a deaf vCPU
 * means the interrupt was lost below us (the edge never reached its
 * LAPIC), or its in-service bit is stuck (an EOI of ours that never
 * happened).  The re-raise tells them apart: Xen sets the vector in the
 * IRR again, which delivers after a lost edge and does nothing while the
 * vector is still in service.
 *
 * Issue 13: twice in the nested xl rig a cross-vCPU call never returned,
 * the target idle with its call port pending.  A recovery keeps the run
 * going, so it must never be silent: each one is printed when it
 * happens, counted (upcall_watch_stats), and the self-test runner puts
 * the counts in the KTAP of the case and of the run.
 *
 * No lock: the per-target state is claimed with compare-and-swap, so
 * two vCPUs' ticks looking at the same target act once.  A value read
 * mid-change only delays the verdict by a tick.
 */
#include "internal.h"
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/x86.h>

/* Long enough that no working path comes near it (an upcall follows its
 * event in microseconds; a tick every 100 ms), short enough to keep a
 * test inside its bound. */
#define DEAF_NS (1000 * NSEC_PER_MSEC)

struct watch {
    uint64_t seen_upcalls;      /* its upcall count when last not deaf */
    uint64_t deaf_since;        /* first seen deaf, 0 = not */
    uint64_t raised_at;         /* vector re-raised, 0 = not */
    uint64_t raised_upcalls;    /* its upcall count then */
    bool induced;               /* made deaf by a self-test, on purpose */
    bool raised_induced;        /* the re-raise out is for such a one */
};

static struct watch watch[MAX_VCPUS];
/* [0]: deaf of itself (an interrupt lost below us); [1]: made deaf by a
 * self-test (upcall_watch_induce). */
static struct upcall_watch_counts counts[2];

/*
 * What a lost edge leaves behind, made on purpose (the watch's self-test):
 * upcall_pending set with no interrupt raised.  Xen raises the vector
 * only when it sets upcall_pending itself, so from here on every event
 * for cpu is as deaf as after a real loss, until the watch steps in.
 */
void upcall_watch_induce(unsigned int cpu)
{
    struct vcpu_info *vi = percpu_area[cpu].vcpu_info;

    __atomic_store_n(&watch[cpu].induced, true, __ATOMIC_RELEASE);
    __atomic_store_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
}

void cpu_halt(void)
{
    struct percpu *pc = this_cpu();

    __atomic_store_n(&pc->halted_since, time_now_ns(), __ATOMIC_RELEASE);
    safe_halt();                        /* sti; hlt: no lost wake-up */
    __atomic_store_n(&pc->halted_since, 0, __ATOMIC_RELEASE);
}

/*
 * Take the outstanding re-raise stamped @raised for judging.  Every vCPU's
 * tick may run the watch for every other: only the one whose exchange wins
 * counts the outcome, so no recovery is counted twice.
 */
static bool claim_raise(struct watch *w, uint64_t raised)
{
    return __atomic_compare_exchange_n(&w->raised_at, &raised, 0, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/*
 * The same, from Xen's own current record, before a verdict: the runstate
 * area is written only when the vCPU is switched in or out, so it still
 * says blocked while the vCPU, woken by its event, waits for a pCPU.
 */
static bool blocked_now(unsigned int cpu)
{
    struct vcpu_runstate_info rs;
    long rc = hyp_vcpu_op(VCPUOP_get_runstate_info, cpu, &rs);

    if (rc) {
        pr_warn("upcall watch: VCPUOP_get_runstate_info(vCPU%u): %ld\n",
                cpu, rc);
        return true;                    /* trust the rest */
    }
    return rs.state == RUNSTATE_blocked;
}

/* A re-raise is out: did its upcall come? */
static void judge_raise(unsigned int cpu, struct watch *w, uint64_t ups,
                        uint64_t raised, uint64_t now)
{
    if (ups != __atomic_load_n(&w->raised_upcalls, __ATOMIC_ACQUIRE)) {
        if (!claim_raise(w, raised))
            return;
        __atomic_fetch_add(&counts[w->raised_induced].recovered, 1,
                           __ATOMIC_RELAXED);
        pr_warn("upcall watch: vCPU%u took its upcall %lu ms after the "
                "re-raise: %s, recovered\n", cpu,
                (unsigned long)(now > raised ? (now - raised) / NSEC_PER_MSEC
                                             : 0),
                __atomic_load_n(&w->raised_induced, __ATOMIC_ACQUIRE)
                    ? "a lost interrupt made by a self-test"
                    : "an interrupt lost below the guest");
    } else if ((int64_t)(now - raised) > (int64_t)DEAF_NS) {
        /* Woken by the re-raise but still waiting for a pCPU is not
         * deaf (seen with 64 vCPUs on 2 loaded pCPUs): judge later. */
        if (!blocked_now(cpu) || !claim_raise(w, raised))
            return;
        __atomic_fetch_add(&counts[w->raised_induced].unanswered, 1,
                           __ATOMIC_RELAXED);
        pr_warn("upcall watch: vCPU%u still deaf %lu ms after the "
                "re-raise: its vector stays in service (a missing EOI?)\n",
                cpu, (unsigned long)((now - raised) / NSEC_PER_MSEC));
    }
}

static void reraise(unsigned int cpu, struct watch *w, uint64_t ups,
                    uint64_t since, uint64_t now)
{
    bool induced;
    long rc;

    __atomic_store_n(&w->raised_upcalls, ups, __ATOMIC_RELAXED);
    __atomic_store_n(&w->raised_at, now, __ATOMIC_RELEASE);
    induced = __atomic_exchange_n(&w->induced, false, __ATOMIC_ACQ_REL);
    __atomic_store_n(&w->raised_induced, induced, __ATOMIC_RELEASE);
    __atomic_fetch_add(&counts[induced].deaf, 1, __ATOMIC_RELAXED);
    rc = events_reraise_upcall(cpu);
    pr_warn("upcall watch: vCPU%u halted %lu ms with its upcall pending "
            "and none taken: deaf; re-raising its vector: %s (%ld)\n", cpu,
            (unsigned long)((now - since) / NSEC_PER_MSEC),
            rc ? "not possible" : "done", rc);
}

/*
 * Xen has it blocked.  A vCPU Xen woke for its event but has no pCPU for
 * yet is runnable, not deaf: with many vCPUs per pCPU that wait can pass
 * a second (64 vCPUs on 2 pCPUs).  Without a runstate area we cannot
 * tell, and trust the rest.
 */
static bool blocked_in_xen(struct percpu *pc)
{
    return !pc->runstate_ok ||
           __atomic_load_n(&pc->runstate.state, __ATOMIC_ACQUIRE) ==
               RUNSTATE_blocked;
}

void upcall_watch_cpu(unsigned int cpu, uint64_t now)
{
    struct percpu *pc = &percpu_area[cpu];
    struct watch *w = &watch[cpu];
    struct vcpu_info *vi = __atomic_load_n(&pc->vcpu_info, __ATOMIC_ACQUIRE);
    uint64_t ups = __atomic_load_n(&pc->upcalls, __ATOMIC_ACQUIRE);
    uint64_t halted = __atomic_load_n(&pc->halted_since, __ATOMIC_ACQUIRE);
    uint64_t raised = __atomic_load_n(&w->raised_at, __ATOMIC_ACQUIRE);
    uint64_t since;

    if (raised && cpu_state(cpu) != CPU_ONLINE) {
        /* Went down meanwhile: nothing left to judge. */
        (void)claim_raise(w, raised);
        return;
    }
    if (raised) {
        judge_raise(cpu, w, ups, raised, now);
        return;
    }
    if (!vi || cpu_state(cpu) != CPU_ONLINE || !halted ||
        !__atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_ACQUIRE) ||
        ups != __atomic_load_n(&w->seen_upcalls, __ATOMIC_RELAXED) ||
        !blocked_in_xen(pc)) {
        __atomic_store_n(&w->seen_upcalls, ups, __ATOMIC_RELAXED);
        __atomic_store_n(&w->deaf_since, 0, __ATOMIC_RELAXED);
        return;
    }
    since = __atomic_load_n(&w->deaf_since, __ATOMIC_ACQUIRE);
    if (!since) {
        __atomic_compare_exchange_n(&w->deaf_since, &since, now, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
        return;
    }
    /* Signed: another vCPU may have stamped since after our now. */
    if ((int64_t)(now - since) < (int64_t)DEAF_NS ||
        !__atomic_compare_exchange_n(&w->deaf_since, &since, 0, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    if (!blocked_now(cpu))
        return;                         /* woken, waiting for a pCPU */
    reraise(cpu, w, ups, since, now);
}

/* Offline vCPUs too: looking at one forgets what was seen before it
 * went down, so it starts afresh when it comes back. */
void upcall_watch_tick(uint64_t now)
{
    unsigned int me = smp_processor_id(), n = smp_domain_vcpus();

    for (unsigned int c = 0; c < n; c++)
        if (c != me)
            upcall_watch_cpu(c, now);
}

void upcall_watch_stats(struct upcall_watch_stats *s)
{
    struct upcall_watch_counts *out[2] = { &s->lost, &s->induced };

    for (unsigned int i = 0; i < 2; i++) {
        out[i]->deaf = __atomic_load_n(&counts[i].deaf, __ATOMIC_RELAXED);
        out[i]->recovered = __atomic_load_n(&counts[i].recovered,
                                            __ATOMIC_RELAXED);
        out[i]->unanswered = __atomic_load_n(&counts[i].unanswered,
                                             __ATOMIC_RELAXED);
    }
}
