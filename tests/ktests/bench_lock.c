/*
 * Suite `bench`, continued: pv-spinlock and vCPU hotplug figures for
 * `make bench` (tests/bench.sh part 3).  explicit_only like the rest of
 * the suite, and the same rule as tests/ktests/bench.c: a benchmark fails
 * when something is broken (two holders at once, a ticket served out of
 * turn, a failed kick, a hypercall on the uncontended path, a vCPU that
 * does not come back), never on a figure.  Besides bench.c's time, hc and
 * skip lines:
 *
 *   bench: lock | MODE | VCPUS | ACQ_PER_S | WORST_NS | POLLS | KICKS | ACQS
 *               | HYPERCALLS | SKIPPED | LOST | WINDOW_NS | RUNNING_NS
 *               | RUNNABLE_NS | BLOCKED_NS
 *   bench: pair | LABEL | NS | PAIRS
 *   bench: ranked | STATE | NS | PAIRS
 *   bench: note | TEXT
 *
 * lock: hand-off under contention; MODE pv (the slow path sleeps in
 * SCHEDOP_poll and is kicked) or plain (pvlock_enabled false: ticket
 * spinning only, the baseline); POLLS and KICKS are the slow path's
 * SCHEDOP_poll calls and kicks (sends to a kicker) over the ACQS
 * acquisitions of the window; HYPERCALLS all the lock's hypercalls (an
 * unlock sends its kicks in one multicall); SKIPPED kicks not sent, the
 * kicker still pending from an earlier one; LOST kicks that never came (a
 * poll timed out on a lock already the waiter's, lock/pvlock.c: want 0).
 * WORST_NS "-": no wait was timed.
 * RUNNING_NS .. BLOCKED_NS: the vCPUs' runstate times over the WINDOW_NS
 * window, summed ("-" without runstate areas): running / window is how
 * many pCPUs the lock's users kept busy, runnable / window how many vCPUs
 * waited for a pCPU on average, running / ACQS what one acquisition
 * cost in pCPU time; they say whether a mode is bound by the pCPUs or by
 * waiting.
 * pair: one uncontended lock+unlock, ns with one decimal.  ranked: the
 * same for a lock with a rank, STATE compiled-out (no CONFIG_LOCK_ORDER)
 * or on / off (CONFIG_LOCK_ORDER, lockorder_live true / false), and
 * unranked: a lock without a rank, measured alongside, in both builds:
 * boots differ in speed (the host's load), so comparing two builds'
 * figures needs one that should not differ.  note: a caveat for the
 * figures above it, printed under the tables.
 *
 * The clock: under TCG, Xen's clocks on its pCPUs can disagree by a
 * millisecond or more, and Xen keeps the domain's clock from going back:
 * a vCPU moved to a pCPU whose clock is behind reads a clock that stands
 * still (1 ns a read) until that pCPU catches up.  An interval can then
 * read as nothing, and the next one carries the difference.  The figures
 * below are chosen to survive that: a window of seconds, quartiles,
 * means over many operations; where one cannot be, the case says so.
 */
#include <xenith/selftest.h>
#include <xenith/cpu.h>
#include <xenith/hypercall.h>
#include <xenith/lockorder.h>
#include <xenith/percpu.h>
#include <xenith/pvlock.h>
#include <xenith/smp.h>
#include <xenith/spinlock.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/x86.h>

#include "bench_util.h"
#include "smp_util.h"
#include "spin_util.h"

/* The first quartile of n <= QUARTILE_MAX values, v left as it was. */
#define QUARTILE_MAX 64

static uint64_t quartile1_u64(const uint64_t *v, unsigned int n)
{
    uint64_t c[QUARTILE_MAX];

    n = MIN(n, QUARTILE_MAX);
    memcpy(c, v, n * sizeof(*c));
    (void)median_u64(c, n);             /* sorts c */
    return c[n / 4];
}

static uint64_t hc_of(unsigned int op)
{
    return __atomic_load_n(&hypercall_count[op], __ATOMIC_RELAXED);
}

/* What the lock itself may call: SCHEDOP_poll, EVTCHNOP_send and the
 * multicall that carries an unlock's sends. */
static uint64_t lock_hypercalls(void)
{
    return hc_of(__HYPERVISOR_sched_op) +
           hc_of(__HYPERVISOR_event_channel_op) +
           hc_of(__HYPERVISOR_multicall);
}

/* Per-operation samples (ns), sorted here. */
static void report_time(const char *label, uint64_t *v, unsigned int n)
{
    uint64_t med;

    if (!n) {
        report_skip(label, "no sample: an earlier step failed");
        return;
    }
    med = median_u64(v, n);
    test_diag("bench: time | %s | %lu | %lu | - | %u", label,
              (unsigned long)med, (unsigned long)v[n - 1], n);
}

/* ---- lock_handoff ------------------------------------------------------ */

/*
 * Every online vCPU takes one lock in a loop for HANDOFF_NS, with the pv
 * slow path and then with plain spinning; a fixed time, not a fixed count,
 * because plain spinning with more vCPUs than pCPUs can crawl (the next
 * ticket's vCPU, or the holder, is preempted while the others spin out
 * their time slices).  spin_lock() with interrupts on, as every
 * struct contend user does: the timer that ends the window then fires
 * on vCPU0 even while it waits.  The critical section is HANDOFF_HOLD
 * pauses, a few microseconds under TCG (QEMU leaves its translated code
 * on every pause: about 0.4 us each).  One acquisition in HANDOFF_SAMPLE
 * per vCPU is timed for the worst wait; its clock reads cost tens of
 * microseconds under TCG, the second inside the lock, so the sample is
 * sparse: that adds a few microseconds per acquisition on average, which
 * shows only where hand-offs are that fast (no overcommit).  A worst wait
 * may also carry a clock standstill's catch-up (see the top): worst waits
 * that differ by a millisecond or two do not differ.
 */
#define HANDOFF_NS (2 * NSEC_PER_SEC)
#define HANDOFF_DRAIN_NS (20 * NSEC_PER_SEC)
#define HANDOFF_HOLD 10
#define HANDOFF_SAMPLE 16

/* false: a vCPU is still in the loop (the run is over for this case). */
static bool handoff(bool pv)
{
    static struct contend c;
    const char *mode = pv ? "pv" : "plain";
    uint64_t e0 = spin_kick_errors(), h0 = lock_hypercalls(), rate = 0, hc;
    unsigned int fewest = ~0u, most = 0;
    char worst[24] = "-", rs[80] = "- | - | -";
    bool ok;

    contend_init(&c, 0, 0);
    c.run_ns = HANDOFF_NS;
    c.hold_relax = HANDOFF_HOLD;
    c.sample_every = HANDOFF_SAMPLE;
    __atomic_store_n(&pvlock_enabled, pv, __ATOMIC_SEQ_CST);
    ok = contend_run(&c, HANDOFF_DRAIN_NS);
    /* Whatever happened: the rest of the run needs the slow path. */
    __atomic_store_n(&pvlock_enabled, true, __ATOMIC_SEQ_CST);
    if (!ok) {
        test_diag("lock hand-off, %s: a vCPU was still in the loop %lu s "
                  "after the stop (%lu acquisitions in the window)", mode,
                  HANDOFF_DRAIN_NS / NSEC_PER_SEC, c.counter);
        /* It still uses c and may still hold or wait for the lock. */
        test_abort_run("a vCPU never left the lock hand-off loop");
        return false;
    }
    for (unsigned int i = 0; i < c.nr_cpus; i++) {
        fewest = MIN(fewest, c.per_cpu[c.cpus[i]]);
        most = MAX(most, c.per_cpu[c.cpus[i]]);
    }
    if (c.window_ns)
        rate = (uint64_t)c.counter * NSEC_PER_SEC / c.window_ns;
    if (c.waits_timed)
        snprintf(worst, sizeof(worst), "%lu",
                 (unsigned long)c.wait_worst_ns);
    if (c.rs_ok)
        snprintf(rs, sizeof(rs), "%lu | %lu | %lu",
                 (unsigned long)c.rs_window[RUNSTATE_running],
                 (unsigned long)c.rs_window[RUNSTATE_runnable],
                 (unsigned long)c.rs_window[RUNSTATE_blocked]);
    hc = lock_hypercalls() - h0;
    test_diag("bench: lock | %s | %u | %lu | %s | %lu | %lu | %lu | %lu | %lu "
              "| %lu | %lu | %s", mode, c.nr_cpus, (unsigned long)rate, worst,
              c.polls, c.kicks, c.counter, (unsigned long)hc, c.kicks_skipped,
              c.lost_kicks, (unsigned long)c.window_ns, rs);
    test_diag("lock hand-off, %s: %lu acquisitions in %lu ms (per vCPU "
              "%u..%u), %lu waits timed, mean %lu ns; %lu sched_op + "
              "event_channel_op + multicall", mode, c.counter,
              (unsigned long)(c.window_ns / NSEC_PER_MSEC), fewest, most,
              c.waits_timed, (unsigned long)(c.waits_timed ?
                                             c.wait_sum_ns / c.waits_timed
                                             : 0),
              (unsigned long)hc);
    CHECK(c.window_ns > 0);
    CHECK(!c.overlap);
    if (c.fifo_violations)
        test_diag("lock hand-off, %s: %lu acquisitions out of turn", mode,
                  c.fifo_violations);
    CHECK(c.fifo_violations == 0);
    CHECK(spin_kick_errors() == e0);
    /* The baseline must really be one: nobody slept, nobody was kicked. */
    if (!pv)
        CHECK(c.polls == 0 && c.kicks == 0);
    return true;
}

SELFTEST(bench, lock_handoff, .explicit_only = true, .timeout_ms = 60000)
{
    REQUIRE(smp_processor_id() == 0);
    if (smp_nr_vcpus() < 2) {
        report_skip("lock hand-off", "1 vCPU online");
        return TEST_PASS;
    }
    if (handoff(true))
        (void)handoff(false);
    return TEST_RESULT();
}

/* ---- lock_uncontended -------------------------------------------------- */

/*
 * PAIR_CHUNKS chunks of PAIR_CHUNK lock+unlock pairs, each chunk timed as
 * one, less the cost of the two clock reads around it (tens of
 * microseconds under TCG, measured first); the first quartile of the
 * chunk means, in tenths of a ns.  Not the median: what slows a chunk (a
 * tick, the host preempting QEMU's vCPU thread) is common on a busy host.
 * Not the fastest either: a chunk across a clock standstill reads too
 * fast, down to nothing.  The ranked-lock figures come from a
 * quiet window, in both builds alike: the other vCPUs parked with
 * interrupts off, this one with interrupts off too.  lockorder_live is
 * switched there between chunks, and a switch is safe only while no vCPU
 * can take or release a ranked lock (one taken unrecorded and released
 * recorded panics).
 */
#define PAIR_CHUNKS 31
#define PAIR_CHUNK 20000
#define FLOOR_READS 63
BUILD_BUG_ON(PAIR_CHUNKS > QUARTILE_MAX || FLOOR_READS > QUARTILE_MAX);
#ifdef CONFIG_LOCK_ORDER
#define PAIR_KINDS 5    /* plain, irqsave, unranked, ranked on, ranked off */
#else
#define PAIR_KINDS 4
#endif
#define PAIRS_TOTAL ((uint64_t)PAIR_KINDS * PAIR_CHUNKS * PAIR_CHUNK)

static spinlock_t pair_lock = SPINLOCK_INIT;
static spinlock_t ranked_lock = SPINLOCK_INIT_RANKED(RANK_CONSOLE, "bench");

static __noinline void pairs_plain(spinlock_t *l, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++) {
        spin_lock(l);
        barrier();
        spin_unlock(l);
    }
}

static __noinline void pairs_irqsave(spinlock_t *l, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++) {
        unsigned long f = spin_lock_irqsave(l);

        barrier();
        spin_unlock_irqrestore(l, f);
    }
}

/* Two clock reads back to back: what every chunk carries.  The first
 * quartile, as for the chunks. */
static uint64_t clock_floor(void)
{
    static uint64_t v[FLOOR_READS];

    for (unsigned int i = 0; i < FLOOR_READS; i++) {
        uint64_t t0 = rdtsc_ordered();

        v[i] = tsc_ns(t0, rdtsc_ordered());
    }
    return quartile1_u64(v, FLOOR_READS);
}

/* One chunk: mean tenths of a ns per pair. */
static uint64_t chunk(void (*loop)(spinlock_t *, unsigned int),
                      spinlock_t *l, uint64_t floor)
{
    uint64_t t0 = rdtsc_ordered(), ns;

    loop(l, PAIR_CHUNK);
    ns = tsc_ns(t0, rdtsc_ordered());
    return ns > floor ? (ns - floor) * 10 / PAIR_CHUNK : 0;
}

static void report_pair(const char *kind, const char *label, uint64_t tenths)
{
    test_diag("bench: %s | %s | %lu.%lu | %u", kind, label,
              (unsigned long)(tenths / 10), (unsigned long)(tenths % 10),
              PAIR_CHUNKS * PAIR_CHUNK);
}

/* The quiet window: every other online vCPU spins in its idle loop with
 * interrupts off until released. */
struct park {
    int parked, release;        /* atomic */
    struct cpu_work w[MAX_VCPUS];
};

static void park_body(void *arg)
{
    struct park *p = arg;
    unsigned long f = irq_save();

    __atomic_fetch_add(&p->parked, 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(&p->release, __ATOMIC_ACQUIRE))
        cpu_relax();
    irq_restore(f);
}

/* false if one did not park within 5 s (the others are released then). */
static bool park_others(struct park *p)
{
    unsigned int cpu, me = smp_processor_id();
    uint64_t until = time_now_ns() + 5 * NSEC_PER_SEC;
    int asked = 0;

    memset(p, 0, sizeof(*p));
    for_each_online_cpu(cpu) {
        if (cpu == me)
            continue;
        if (test_work_queue(cpu, &p->w[cpu], park_body, p) == 0)
            asked++;
        else
            p->w[cpu].done = 1;
    }
    while (__atomic_load_n(&p->parked, __ATOMIC_ACQUIRE) < asked) {
        if (time_now_ns() > until) {
            __atomic_store_n(&p->release, 1, __ATOMIC_RELEASE);
            return false;
        }
        cpu_relax();
    }
    return true;
}

static void unpark_others(struct park *p)
{
    unsigned int cpu, me = smp_processor_id();

    __atomic_store_n(&p->release, 1, __ATOMIC_RELEASE);
    for_each_online_cpu(cpu)
        if (cpu != me)
            CHECK(smp_work_wait(&p->w[cpu], test_bound_ns(NSEC_PER_SEC)));
}

SELFTEST(bench, lock_uncontended, .explicit_only = true, .timeout_ms = 30000)
{
    static struct park park;
    uint64_t plain[PAIR_CHUNKS], irqs[PAIR_CHUNKS], ranked[PAIR_CHUNKS],
             unranked[PAIR_CHUNKS];
#ifdef CONFIG_LOCK_ORDER
    uint64_t off[PAIR_CHUNKS];
#endif
    uint64_t floor, h0, hc;
    unsigned long f;

    REQUIRE(smp_processor_id() == 0);
    floor = clock_floor();
    test_diag("two clock reads: %lu ns (taken off every chunk of %u pairs)",
              (unsigned long)floor, PAIR_CHUNK);

    /* The locks as callers use them, interrupts on: a tick that lands in
     * a chunk spoils that chunk only.  The hypercalls are counted across
     * the chunks only: parking the others sends IPIs. */
    h0 = lock_hypercalls();
    for (unsigned int i = 0; i < PAIR_CHUNKS; i++) {
        plain[i] = chunk(pairs_plain, &pair_lock, floor);
        irqs[i] = chunk(pairs_irqsave, &pair_lock, floor);
    }
    hc = lock_hypercalls() - h0;

    REQUIRE(park_others(&park));
    f = irq_save();
    h0 = lock_hypercalls();
    for (unsigned int i = 0; i < PAIR_CHUNKS; i++) {
        unranked[i] = chunk(pairs_plain, &pair_lock, floor);
        ranked[i] = chunk(pairs_plain, &ranked_lock, floor);
#ifdef CONFIG_LOCK_ORDER
        __atomic_store_n(&lockorder_live, false, __ATOMIC_SEQ_CST);
        off[i] = chunk(pairs_plain, &ranked_lock, floor);
        __atomic_store_n(&lockorder_live, true, __ATOMIC_SEQ_CST);
#endif
    }
    hc += lock_hypercalls() - h0;
    irq_restore(f);
    unpark_others(&park);

    report_pair("pair", "spin_lock + spin_unlock",
                quartile1_u64(plain, PAIR_CHUNKS));
    report_pair("pair", "spin_lock_irqsave + spin_unlock_irqrestore",
                quartile1_u64(irqs, PAIR_CHUNKS));
#ifdef CONFIG_LOCK_ORDER
    report_pair("ranked", "on", quartile1_u64(ranked, PAIR_CHUNKS));
    report_pair("ranked", "off", quartile1_u64(off, PAIR_CHUNKS));
#else
    report_pair("ranked", "compiled-out",
                quartile1_u64(ranked, PAIR_CHUNKS));
#endif
    report_pair("ranked", "unranked", quartile1_u64(unranked, PAIR_CHUNKS));
    /* The uncontended path is one locked add and one xchg: any poll or
     * kick here is a bug. */
    report_hc("lock+unlock, uncontended (sched+evtchn ops)",
              PAIRS_TOTAL, hc, 0);
    CHECK(hc == 0);
    return TEST_RESULT();
}

/* ---- hotplug_cycle ----------------------------------------------------- */

/*
 * cpu_down then cpu_online_again of the highest online vCPU, from vCPU0,
 * HOTPLUG_CYCLES times; each half timed on its own, and the whole run as
 * one (the mean: a clock standstill only moves time between cycles).
 * vCPU0 tends to change pCPU while the other vCPU goes down, so a half
 * can read as nothing: such halves are counted, and said.  Hypercalls:
 * every op (vcpu_op above all: VCPUOP_down, VCPUOP_is_up polled until
 * Xen says down, VCPUOP_initialise and VCPUOP_up, the timers), so the
 * other vCPUs' ticks (one per 100 ms each) are in the count too.
 */
#define HOTPLUG_CYCLES 20

SELFTEST(bench, hotplug_cycle, .explicit_only = true, .timeout_ms = 60000)
{
    static uint64_t down[HOTPLUG_CYCLES], up[HOTPLUG_CYCLES],
                    cycle[HOTPLUG_CYCLES];
    static const unsigned int ops[] = {
        __HYPERVISOR_vcpu_op, __HYPERVISOR_event_channel_op,
        __HYPERVISOR_sched_op,
    };
    uint64_t by_op[ARRAY_SIZE(ops)], total, start, mean;
    unsigned int cpu = 0, n, stood = 0;
    char label[48], note[160];

    REQUIRE(smp_processor_id() == 0);
    for (unsigned int c = smp_domain_vcpus(); c-- > 1;)
        if (cpu_online(c)) {
            cpu = c;
            break;
        }
    if (!cpu) {
        report_skip("vCPU offline+online cycle", "1 vCPU online");
        return TEST_PASS;
    }
    for (unsigned int i = 0; i < ARRAY_SIZE(ops); i++)
        by_op[i] = hc_of(ops[i]);
    total = hypercall_total();
    start = rdtsc_ordered();
    for (n = 0; n < HOTPLUG_CYCLES; n++) {
        uint64_t t0 = rdtsc_ordered(), t1, t2;
        int rc = cpu_down(cpu);

        t1 = rdtsc_ordered();
        if (rc) {
            test_diag("cycle %u: cpu_down(%u) = %d", n, cpu, rc);
            CHECK(rc == 0);
            break;
        }
        rc = cpu_online_again(cpu);
        t2 = rdtsc_ordered();
        if (rc) {
            test_diag("cycle %u: cpu_online_again(%u) = %d", n, cpu, rc);
            CHECK(rc == 0);
            break;
        }
        down[n] = tsc_ns(t0, t1);
        up[n] = tsc_ns(t1, t2);
        cycle[n] = tsc_ns(t0, t2);
        /* Each half makes hypercalls of tens of microseconds. */
        stood += (down[n] < NSEC_PER_USEC) + (up[n] < NSEC_PER_USEC);
    }
    mean = n ? tsc_ns(start, rdtsc_ordered()) / n : 0;
    total = hypercall_total() - total;
    for (unsigned int i = 0; i < ARRAY_SIZE(ops); i++)
        by_op[i] = hc_of(ops[i]) - by_op[i];
    CHECK(vcpu_answers(cpu));

    test_diag("hotplug: %u cycles of vCPU%u; per cycle %lu.%02lu "
              "hypercalls: vcpu_op %lu, event_channel_op %lu, sched_op %lu "
              "(totals)", n, cpu, (unsigned long)(n ? total / n : 0),
              (unsigned long)(n ? total * 100 / n % 100 : 0),
              (unsigned long)by_op[0], (unsigned long)by_op[1],
              (unsigned long)by_op[2]);
    if (n) {
        /* As bench.c's time line, BATCH the mean over the run. */
        median_u64(cycle, n);
        test_diag("bench: time | vCPU offline+online cycle, last vCPU | %lu "
                  "| %lu | %lu | %u", (unsigned long)cycle[n / 2],
                  (unsigned long)cycle[n - 1], (unsigned long)mean, n);
    } else {
        report_skip("vCPU offline+online cycle, last vCPU",
                    "no sample: an earlier step failed");
    }
    report_time("vCPU offline (cpu_down), last vCPU", down, n);
    report_time("vCPU online (cpu_online_again), last vCPU", up, n);
    report_hc("vCPU offline+online cycle (all hypercalls)", n, total, -1);
    if (stood) {
        snprintf(label, sizeof(label), "%u vCPUs", smp_nr_vcpus());
        snprintf(note, sizeof(note), "hotplug, %s: the clock stood still "
                 "across %u of %u offline/online halves: the split, and any "
                 "one cycle, are unreliable; the mean is not", label, stood,
                 2 * n);
        test_diag("bench: note | %s", note);
    }
    return TEST_RESULT();
}
