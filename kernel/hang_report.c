/*
 * A hung self-test's report: where every vCPU that is not offline
 * stands, so that a hang seen once (a lost IPI, a vCPU parked with work
 * queued, a waiter nobody kicks) can be told apart afterwards from the
 * log alone.  Printed by the selftest watchdog after its timeout line, as
 * KTAP diagnostics.
 *
 * One look cannot tell a vCPU that is blocked and deaf (halted with its
 * upcall pending, nothing taken) from one that is busy, or starved by
 * the host: so the counters are read twice, a second apart, and each
 * vCPU is classed by what moved (issue 13's lost call).
 *
 * Last words: the hung test may still run on other vCPUs and may hold any
 * lock, so nothing here takes one; each value is one atomic load and may
 * be mid-change.  Queues are only said to be empty or not, never walked
 * (their entries live on other vCPUs' stacks).
 */
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/hang_report.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/time.h>
#include <xenith/timer.h>

#define SECOND_LOOK_MS 1000

struct sample {
    uint64_t upcalls, events, ticks, halted_since;
    uint64_t state_ns;          /* time in its runstate, 0 = unknown */
    int runstate;               /* RUNSTATE_*, -1 = no runstate area */
    bool pending;               /* its upcall_pending */
};

/* Only the watchdog's one report writes it. */
static struct sample first[MAX_VCPUS];

static const char *const runstate_names[] = {
    [RUNSTATE_running] = "running", [RUNSTATE_runnable] = "runnable",
    [RUNSTATE_blocked] = "blocked", [RUNSTATE_offline] = "offline",
};

static void take_sample(unsigned int cpu, struct sample *s, uint64_t now)
{
    struct percpu *pc = &percpu_area[cpu];
    struct vcpu_info *vi = __atomic_load_n(&pc->vcpu_info, __ATOMIC_ACQUIRE);
    uint64_t entry;

    s->upcalls = __atomic_load_n(&pc->upcalls, __ATOMIC_RELAXED);
    s->events = __atomic_load_n(&pc->events, __ATOMIC_RELAXED);
    s->ticks = timer_ticks(cpu);
    s->halted_since = __atomic_load_n(&pc->halted_since, __ATOMIC_RELAXED);
    s->pending = vi && __atomic_load_n(&vi->evtchn_upcall_pending,
                                       __ATOMIC_RELAXED);
    s->runstate = -1;
    s->state_ns = 0;
    if (pc->runstate_ok) {
        s->runstate = __atomic_load_n(&pc->runstate.state, __ATOMIC_RELAXED);
        entry = __atomic_load_n(&pc->runstate.state_entry_time,
                                __ATOMIC_RELAXED) & ~XEN_RUNSTATE_UPDATE;
        s->state_ns = now > entry ? now - entry : 0;
    }
}

static const char *runstate_name(int rs)
{
    return rs >= 0 && rs <= RUNSTATE_offline ? runstate_names[rs] : "unknown";
}

static const char *empty_or_not(void *head)
{
    return head ? "queued" : "empty";
}

static void report_cpu(unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];
    void *wait_lock = __atomic_load_n(&pc->wait_lock, __ATOMIC_ACQUIRE);

    ktap("    # vCPU%u: %s%s, irq nesting %u; calls %s, work %s%s\n", cpu,
         cpu_state_name(cpu_state(cpu)),
         __atomic_load_n(&pc->die_request, __ATOMIC_ACQUIRE)
             ? " (down requested)" : "",
         __atomic_load_n(&pc->irq_nesting, __ATOMIC_RELAXED),
         empty_or_not(__atomic_load_n(&pc->calls, __ATOMIC_ACQUIRE)),
         empty_or_not(__atomic_load_n(&pc->work, __ATOMIC_ACQUIRE)),
         __atomic_load_n(&pc->calls_closed, __ATOMIC_ACQUIRE)
             ? " (closed)" : "");
    if (wait_lock)
        ktap("    #   sleeps on lock %p for ticket %u\n", wait_lock,
             __atomic_load_n(&pc->wait_want, __ATOMIC_ACQUIRE));
    if (__atomic_load_n(&pc->pv_lost_kicks, __ATOMIC_RELAXED))
        ktap("    #   %lu lock kicks lost (its poll timed out on a lock "
             "already its own)\n", (unsigned long)__atomic_load_n(
                 &pc->pv_lost_kicks, __ATOMIC_RELAXED));
    evtchn_report_cpu(cpu);
    take_sample(cpu, &first[cpu], time_now_ns());
    ktap("    #   runstate %s for %lu ms, %lu ticks, %s\n",
         runstate_name(first[cpu].runstate),
         (unsigned long)(first[cpu].state_ns / NSEC_PER_MSEC),
         (unsigned long)first[cpu].ticks,
         first[cpu].halted_since ? "halted" : "not halted");
}

/* What a second's change of its counters says about a vCPU. */
static const char *verdict(unsigned int cpu, const struct sample *a,
                           const struct sample *b)
{
    bool took = b->upcalls != a->upcalls || b->ticks != a->ticks;

    if (b->runstate == RUNSTATE_runnable && b->state_ns >
        SECOND_LOOK_MS * NSEC_PER_MSEC)
        return "runnable and not run for over a second: starved below "
               "the guest";
    if (b->halted_since && a->halted_since && b->pending && a->pending &&
        b->upcalls == a->upcalls)
        return "blocked and deaf: halted with its upcall pending, none "
               "taken";
    if (__atomic_load_n(&percpu_area[cpu].wait_lock, __ATOMIC_ACQUIRE))
        return took ? "sleeps on a lock, takes interrupts"
                    : "sleeps on a lock, took no interrupt";
    if (b->halted_since && !b->pending)
        return "idle, nothing pending for it";
    if (!took && b->runstate == RUNSTATE_running)
        return "busy with interrupts off (running, none taken)";
    return took ? "alive: takes interrupts" : "took no interrupt";
}

static void second_look(unsigned int cpu, uint64_t now)
{
    struct sample b, *a = &first[cpu];

    take_sample(cpu, &b, now);
    ktap("    # vCPU%u 1 s later: upcalls +%lu, events +%lu, ticks +%lu, "
         "runstate %s for %lu ms: %s\n", cpu,
         (unsigned long)(b.upcalls - a->upcalls),
         (unsigned long)(b.events - a->events),
         (unsigned long)(b.ticks - a->ticks), runstate_name(b.runstate),
         (unsigned long)(b.state_ns / NSEC_PER_MSEC), verdict(cpu, a, &b));
}

void hang_report(void)
{
    struct upcall_watch_stats w;

    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (cpu_state(c) != CPU_OFFLINE)
            report_cpu(c);
    evtchn_report_pending();
    upcall_watch_stats(&w);
    ktap("    # upcall watch so far: lost interrupts %lu (recovered %lu, "
         "not %lu)\n", (unsigned long)w.lost.deaf,
         (unsigned long)w.lost.recovered, (unsigned long)w.lost.unanswered);
    /* Busy-waits with this vCPU's interrupts off: these are the run's
     * last words, and the others' counters are what we watch. */
    mdelay(SECOND_LOOK_MS);
    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (cpu_state(c) != CPU_OFFLINE)
            second_look(c, time_now_ns());
    evtchn_report_pending();
}
