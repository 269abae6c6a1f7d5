/* Helpers shared by the pv-spinlock self-tests and benchmarks. */
#include "spin_util.h"
#include <xenith/events.h>
#include <xenith/selftest.h>
#include <xenith/pvlock.h>
#include <xenith/smp.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/x86.h>

void contend_init(struct contend *c, unsigned int rounds,
                  unsigned long total_per_cpu)
{
    memset(c, 0, sizeof(*c));
    c->lock = (spinlock_t)SPINLOCK_INIT;
    c->rounds = rounds;
    c->total = total_per_cpu * smp_nr_vcpus();
    c->threshold = pvlock_spin_default;
}

static bool done(struct contend *c)
{
    if (c->run_ns)
        return __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE);
    return c->rounds == 0 && c->counter >= c->total;
}

static void sum_stats(unsigned long *polls, unsigned long *kicks,
                      unsigned long *skipped);

/* queue_first, holding the lock: until the others queue and one sleeps. */
static void hold_until_queued(struct contend *c)
{
    uint64_t until = time_now_ns() + c->queue_bound_ns;
    unsigned long polls, kicks, skipped;
    uint16_t queued;

    for (;;) {
        queued = (uint16_t)(__atomic_load_n(&c->lock.tail, __ATOMIC_RELAXED) -
                            c->lock.head - 1);
        sum_stats(&polls, &kicks, &skipped);
        if (queued + 1u >= c->nr_cpus && polls != c->polls0)
            break;
        if (time_now_ns() > until)
            break;
        cpu_relax();
    }
    c->queued_first = queued;
}

/* timed: read the clock before the ticket and again once it is ours.
 * A clock read can cost tens of microseconds (Xen emulates rdtsc under
 * TCG), and the second is made holding the lock: callers time only a
 * sample of the acquisitions. */
static bool take(struct contend *c, bool timed)
{
    unsigned int me = smp_processor_id();
    uint64_t t0 = timed ? rdtsc_ordered() : 0;
    bool more = true;

    spin_lock(&c->lock);
    if (timed) {
        uint64_t t1 = rdtsc_ordered();
        uint64_t w = t1 > t0 ? tsc_delta_to_ns(t1 - t0) : 0;

        c->waits_timed++;
        c->wait_sum_ns += w;
        if (w > c->wait_worst_ns)
            c->wait_worst_ns = w;
    }
    if (done(c)) {
        more = false;
    } else {
        if (c->queue_first && c->counter == 0)
            hold_until_queued(c);
        if (__atomic_fetch_add(&c->inside, 1, __ATOMIC_ACQ_REL) != 0)
            __atomic_store_n(&c->overlap, 1, __ATOMIC_RELAXED);
        uint16_t queued = (uint16_t)(__atomic_load_n(&c->lock.tail,
                                                     __ATOMIC_RELAXED) -
                                     c->lock.head - 1);

        if (c->counter && c->last_queued && c->last_cpu == me)
            c->fifo_violations++;       /* jumped a queued waiter */
        c->last_cpu = me;
        c->last_queued = queued != 0;
        c->contended += queued != 0;
        c->counter++;
        c->per_cpu[me]++;
        for (unsigned int i = 0; i < c->hold_relax; i++)
            cpu_relax();
        __atomic_fetch_sub(&c->inside, 1, __ATOMIC_ACQ_REL);
    }
    spin_unlock(&c->lock);
    return more;
}

static void contend_body(void *arg)
{
    struct contend *c = arg;

    __atomic_fetch_add(&c->ready, 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(&c->go, __ATOMIC_ACQUIRE))
        cpu_relax();
    if (c->rounds) {
        for (unsigned int i = 0; i < c->rounds; i++)
            take(c, c->sample_every && i % c->sample_every == 0);
    } else {
        for (unsigned int i = 0;
             take(c, c->sample_every && i % c->sample_every == 0); i++)
            ;
    }
}

/*
 * One vCPU's runstate times as of now (Xen system time, as
 * state_entry_time): Xen writes the area only when the vCPU changes
 * state, so the time in its current state is added here (a vCPU that
 * runs the whole window, as with one vCPU per pCPU, has an area that
 * never moves).  Read until two reads of the entry time agree: Xen may
 * be rewriting the area from another pCPU.
 */
static void runstate_now(const struct vcpu_runstate_info *a, uint64_t now,
                         uint64_t t[RUNSTATE_offline + 1])
{
    uint64_t entry;
    int state;

    do {
        entry = __atomic_load_n(&a->state_entry_time, __ATOMIC_ACQUIRE);
        state = __atomic_load_n(&a->state, __ATOMIC_RELAXED);
        for (unsigned int s = 0; s <= RUNSTATE_offline; s++)
            t[s] = __atomic_load_n(&a->time[s], __ATOMIC_RELAXED);
        smp_rmb();
    } while (entry != __atomic_load_n(&a->state_entry_time, __ATOMIC_RELAXED));
    if (state >= 0 && state <= RUNSTATE_offline && now > entry)
        t[state] += now - entry;
}

/* The runstate times of c's vCPUs, summed; false if one has no area. */
static bool runstate_sum(const struct contend *c,
                         uint64_t t[RUNSTATE_offline + 1])
{
    uint64_t now = time_now_ns();

    for (unsigned int s = 0; s <= RUNSTATE_offline; s++)
        t[s] = 0;
    for (unsigned int i = 0; i < c->nr_cpus; i++) {
        const struct percpu *pc = &percpu_area[c->cpus[i]];
        uint64_t one[RUNSTATE_offline + 1];

        if (!pc->runstate_ok)
            return false;
        runstate_now(&pc->runstate, now, one);
        for (unsigned int s = 0; s <= RUNSTATE_offline; s++)
            t[s] += one[s];
    }
    return true;
}

/* Timed mode, in the calling vCPU's timer interrupt: the window ends. */
static void contend_stop(struct timer *t)
{
    struct contend *c = t->data;
    uint64_t end[RUNSTATE_offline + 1];

    c->t_stop = time_now_ns();
    c->rs_ok = c->rs_ok && runstate_sum(c, end);
    for (unsigned int s = 0; s <= RUNSTATE_offline; s++)
        c->rs_window[s] = c->rs_ok ? end[s] - c->rs_start[s] : 0;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
}

static void sum_stats(unsigned long *polls, unsigned long *kicks,
                      unsigned long *skipped)
{
    *polls = *kicks = *skipped = 0;
    for (unsigned int i = 0; i < MAX_VCPUS; i++) {
        *polls += __atomic_load_n(&percpu_area[i].pv_polls, __ATOMIC_RELAXED);
        *kicks += __atomic_load_n(&percpu_area[i].pv_kicks_sent,
                                  __ATOMIC_RELAXED);
        *skipped += __atomic_load_n(&percpu_area[i].pv_kicks_skipped,
                                    __ATOMIC_RELAXED);
    }
}

bool contend_run(struct contend *c, uint64_t bound_ns)
{
    static struct cpu_work w[MAX_VCPUS];
    static struct timer stop_timer;
    unsigned long p0, k0, s0, p1, k1, s1;
    unsigned int cpu, me = smp_processor_id();
    uint64_t t0;
    bool ok = true;

    spin_threshold_set(c->threshold);
    sum_stats(&p0, &k0, &s0);
    c->polls0 = p0;
    if (!c->queue_bound_ns)
        c->queue_bound_ns = test_bound_ns(5 * NSEC_PER_SEC);
    c->lost_kicks = spin_lost_kicks();
    c->nr_cpus = 0;
    for_each_online_cpu(cpu) {
        c->cpus[c->nr_cpus++] = cpu;
        if (cpu != me && test_work_queue(cpu, &w[cpu], contend_body, c))
            ok = false;
    }
    /* Everyone at the start line first: a vCPU that starts late would
     * find the work done and measure nothing. */
    t0 = time_now_ns();
    while (__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE) < (int)c->nr_cpus - 1 &&
           time_now_ns() - t0 < bound_ns)
        cpu_relax();
    t0 = time_now_ns();
    c->rs_ok = runstate_sum(c, c->rs_start);
    __atomic_store_n(&c->go, 1, __ATOMIC_RELEASE);
    /* Timed mode: the stop comes by interrupt, so it comes even while this
     * vCPU waits on the lock (a spin with interrupts on).  Armed after the
     * start: a vCPU preempted between the two (a busy host) must not see
     * its stop fire before the others start. */
    if (c->run_ns) {
        stop_timer = (struct timer){ .fn = contend_stop, .data = c };
        timer_arm(&stop_timer, c->run_ns);
    }
    contend_body(c);
    if (c->run_ns) {
        (void)timer_cancel(&stop_timer);        /* it ran: we saw stop */
        c->window_ns = c->t_stop > t0 ? c->t_stop - t0 : 0;
    }
    for_each_online_cpu(cpu) {
        if (cpu == me)
            continue;
        if (!smp_work_wait(&w[cpu], bound_ns)) {
            ok = false;
            spin_kick(cpu);
            (void)smp_work_wait(&w[cpu], test_bound_ns(NSEC_PER_SEC));
        }
    }
    c->ns = time_now_ns() - t0;
    sum_stats(&p1, &k1, &s1);
    c->polls = p1 - p0;
    c->kicks = k1 - k0;
    c->kicks_skipped = s1 - s0;
    c->lost_kicks = spin_lost_kicks() - c->lost_kicks;
    if (c->lost_kicks)
        test_diag("%lu kicks lost: a waiter's poll timed out on a lock "
                  "already its own", c->lost_kicks);
    spin_threshold_set(pvlock_spin_default);
    return ok;
}

void spin_threshold_set(unsigned int n)
{
    __atomic_store_n(&pvlock_spin_threshold, n, __ATOMIC_RELAXED);
}

void spin_threshold_restore(void *unused)
{
    spin_threshold_set(pvlock_spin_default);
}

bool wait_until_waiting(unsigned int cpu, void *l, uint64_t timeout_ns)
{
    uint64_t until = time_now_ns() + timeout_ns;

    while (__atomic_load_n(&percpu_area[cpu].wait_lock, __ATOMIC_ACQUIRE) != l ||
           !pvlock_waiting(cpu)) {
        if (time_now_ns() > until)
            return false;
        cpu_relax();
    }
    return true;
}

void spin_kick(unsigned int cpu)
{
    evtchn_port_t port = __atomic_load_n(&percpu_area[cpu].kicker_port,
                                         __ATOMIC_ACQUIRE);

    if (port)
        (void)evtchn_send(port);
}

static void tick_quiet_call(void *arg)
{
    timer_quiet_self(true);
}

static void tick_loud_call(void *arg)
{
    timer_quiet_self(false);
}

void tick_quiet(unsigned int cpu, bool quiet)
{
    (void)smp_call_on(cpu, quiet ? tick_quiet_call : tick_loud_call, NULL,
                      true);
}

void tick_restore(void *cpu)
{
    tick_quiet((unsigned int)(uintptr_t)cpu, false);
}

uint64_t spin_lost_kicks(void)
{
    uint64_t n = 0;

    for (unsigned int i = 0; i < MAX_VCPUS; i++)
        n += __atomic_load_n(&percpu_area[i].pv_lost_kicks, __ATOMIC_RELAXED);
    return n;
}

uint64_t spin_kick_errors(void)
{
    uint64_t n = 0;

    for (unsigned int i = 0; i < MAX_VCPUS; i++)
        n += __atomic_load_n(&percpu_area[i].pv_kick_errors, __ATOMIC_RELAXED);
    return n;
}

uint64_t spin_kicks_given(unsigned int cpu)
{
    return __atomic_load_n(&percpu_area[cpu].pv_kicks_sent,
                           __ATOMIC_RELAXED) +
           __atomic_load_n(&percpu_area[cpu].pv_kicks_skipped,
                           __ATOMIC_RELAXED);
}
