/*
 * torture=SECONDS [seed=N]: every online vCPU runs a random mix of
 * operations (tests/torture/ops.c) while vCPU0 conducts: it takes random
 * vCPUs down and up, pauses the workers every so often to ask the
 * consistency oracle, prints progress every 10 s, and reads a worker that
 * stops finishing operations as a hang.  Each worker draws from its own
 * generator, seeded from the run's seed: the same seed makes the same
 * choices, though the vCPUs' interleaving is the host's.
 *
 * On the first failure the run stops and prints the seed and the last
 * operations of every vCPU.  At the end every slot is unbound (each of
 * its events handled first), every vCPU is online again, and the
 * self-test runner checks that no port, descriptor, page or heap byte
 * leaked (kernel/selftest.c).
 */
#include <xenith/cmdline.h>
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
#include <xenith/hang_report.h>
#include <xenith/inject.h>
#include <xenith/irq.h>
#include <xenith/selftest.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xen/errno.h>

#include "torture.h"
#include "../ktests/evtchn_util.h"
#include "../ktests/spin_util.h"

struct torture torture;

#define PROGRESS_NS     (10 * NSEC_PER_SEC)
#define ORACLE_EVERY    4000    /* operations between two oracle checks */
#define CONDUCTOR_OPS   4       /* vCPU0's own operations per round */

static const char *const op_names[NR_TORTURE_OPS] = {
    "bind", "unbind", "send", "storm", "mask", "move", "evtdev", "lock",
    "nested-lock", "call", "inject", "xenstore", "down", "up", "oracle",
};

static const char *const kind_names[NR_SLOT_KINDS] = {
    "-", "loop", "storm", "ipi", "virq", "gvirq", "pirq",
};

const char *torture_op_name(unsigned int op)
{
    return op < NR_TORTURE_OPS ? op_names[op] : "?";
}

const char *torture_kind_name(unsigned int kind)
{
    return kind < NR_SLOT_KINDS ? kind_names[kind] : "?";
}

/* xorshift64*: small, and good enough to choose operations with. */
uint64_t trand(struct tworker *w)
{
    uint64_t x = w->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* splitmix64, to spread one seed over the workers' generators. */
static uint64_t seed_for(uint64_t seed, unsigned int cpu)
{
    uint64_t z = seed + (cpu + 1) * 0x9e3779b97f4a7c15ull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 1;                   /* xorshift must not start at 0 */
}

/* A random online vCPU (vCPU0 if a few draws find none). */
unsigned int trand_online(struct tworker *w)
{
    for (unsigned int i = 0; i < 8; i++) {
        unsigned int cpu = trand_below(w, smp_domain_vcpus());

        if (cpu_online(cpu))
            return cpu;
    }
    return 0;
}

static uint64_t run_ms(void)
{
    return (time_now_ns() - torture.start_ns) / NSEC_PER_MSEC;
}

void torture_fail(unsigned int cpu, const char *fmt, ...)
{
    int zero = 0;
    va_list ap;

    __atomic_fetch_add(&torture.failures, 1, __ATOMIC_RELAXED);
    if (!__atomic_compare_exchange_n(&torture.fail_claim, &zero, 1, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;                         /* the first one is reported */
    va_start(ap, fmt);
    vsnprintf(torture.fail_msg, sizeof(torture.fail_msg), fmt, ap);
    va_end(ap);
    torture.fail_cpu = cpu;
    torture.fail_ms = run_ms();
    __atomic_store_n(&torture.failed, 1, __ATOMIC_RELEASE);
}

void torture_log(struct tworker *w, enum torture_op op, unsigned int kind,
                 long rc, long a, long b)
{
    struct oprec *r = &w->log[w->nlog++ % TORTURE_OPLOG];

    r->t_ms = run_ms();
    r->op = op;
    r->kind = kind;
    r->rc = rc;
    r->a = a;
    r->b = b;
}

/* ---- the workers ---- */

static bool must_leave(struct tworker *w)
{
    return torture_over() ||
           __atomic_load_n(&torture.pause, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&torture.leaving[w->cpu], __ATOMIC_ACQUIRE);
}

/* A cpu_work: on its vCPU until the conductor wants it gone. */
static void worker_main(void *arg)
{
    struct tworker *w = arg;

    while (!must_leave(w))
        torture_op(w);
}

static void start_worker(unsigned int cpu)
{
    struct tworker *w = &torture.w[cpu];

    if (w->queued || cpu == 0 || torture_over())
        return;
    w->queued = smp_work_queue(cpu, &w->work, worker_main, w) == 0;
}

static void start_workers(void)
{
    unsigned int cpu;

    for_each_online_cpu(cpu)
        if (!__atomic_load_n(&torture.leaving[cpu], __ATOMIC_ACQUIRE))
            start_worker(cpu);
}

/* Wait for cpu's worker to leave; false (and a failure) if it hangs. */
static bool wait_worker(unsigned int cpu)
{
    struct tworker *w = &torture.w[cpu];

    if (!w->queued)
        return true;
    if (!smp_work_wait(&w->work, TORTURE_HANG_NS)) {
        torture.hung = true;
        torture_fail(cpu, "vCPU%u: its worker did not leave within %lu s",
                     cpu, (unsigned long)(TORTURE_HANG_NS / NSEC_PER_SEC));
        return false;
    }
    w->queued = false;
    return true;
}

static bool pause_workers(void)
{
    bool ok = true;

    __atomic_store_n(&torture.pause, 1, __ATOMIC_RELEASE);
    for (unsigned int cpu = 1; cpu < smp_domain_vcpus(); cpu++)
        ok &= wait_worker(cpu);
    return ok;
}

static void resume_workers(void)
{
    __atomic_store_n(&torture.pause, 0, __ATOMIC_RELEASE);
    start_workers();
}

/* ---- the conductor's steps ---- */

static unsigned long last_progress[MAX_VCPUS];
static uint64_t last_change[MAX_VCPUS];

/* A worker queued whose operation count stands still is stuck. */
static bool check_hangs(uint64_t now)
{
    for (unsigned int cpu = 1; cpu < smp_domain_vcpus(); cpu++) {
        struct tworker *w = &torture.w[cpu];
        unsigned long p = __atomic_load_n(&w->progress, __ATOMIC_ACQUIRE);

        if (!w->queued)
            continue;
        if (smp_work_done(&w->work)) {
            w->queued = false;          /* left early: start it again */
            start_worker(cpu);
            continue;
        }
        if (p != last_progress[cpu] || !last_change[cpu]) {
            last_progress[cpu] = p;
            last_change[cpu] = now;
        } else if (now - last_change[cpu] > TORTURE_HANG_NS) {
            torture.hung = true;
            torture_fail(cpu, "vCPU%u: no operation finished in %lu s "
                         "(hang)", cpu,
                         (unsigned long)((now - last_change[cpu]) /
                                         NSEC_PER_SEC));
            return false;
        }
    }
    return true;
}

static struct cpumask taken_down;

static void conductor_log(enum torture_op op, long rc, unsigned int cpu)
{
    struct tworker *w0 = &torture.w[0];

    torture_log(w0, op, 0, rc, cpu, 0);
    w0->ops[op]++;
    if (rc)
        w0->refused[op]++;
}

static void take_one_down(struct tworker *w0)
{
    unsigned int cpu = 1 + trand_below(w0, smp_domain_vcpus() - 1);
    long rc;

    if (!cpu_online(cpu))
        return;
    __atomic_store_n(&torture.leaving[cpu], 1, __ATOMIC_RELEASE);
    if (!wait_worker(cpu))
        return;
    /* Before the down: a per-vCPU port bound from now on may see it. */
    __atomic_fetch_add(&torture.downs[cpu], 1, __ATOMIC_ACQ_REL);
    rc = cpu_down(cpu);
    conductor_log(OP_DOWN, rc, cpu);
    if (rc) {
        __atomic_store_n(&torture.leaving[cpu], 0, __ATOMIC_RELEASE);
        start_worker(cpu);
        return;
    }
    cpumask_set(&taken_down, cpu);
}

static void bring_one_up(struct tworker *w0, bool any)
{
    unsigned int at = trand_below(w0, smp_domain_vcpus());

    for (unsigned int i = 0; i < smp_domain_vcpus(); i++) {
        unsigned int cpu = (at + i) % smp_domain_vcpus();
        long rc;

        if (!cpumask_test(&taken_down, cpu))
            continue;
        rc = cpu_online_again(cpu);
        conductor_log(OP_UP, rc, cpu);
        if (rc)
            continue;                   /* tried again later */
        cpumask_clear(&taken_down, cpu);
        torture.cycled++;
        __atomic_store_n(&torture.leaving[cpu], 0, __ATOMIC_RELEASE);
        start_worker(cpu);
        if (!any)
            return;
    }
}

/* Down a random vCPU (never vCPU0, at most half of them) or up one. */
static void hotplug_step(void)
{
    struct tworker *w0 = &torture.w[0];
    unsigned int down = cpumask_weight(&taken_down);
    unsigned int max_down = smp_domain_vcpus() / 2;  /* of n-1, rounded up */

    if (smp_domain_vcpus() < 2)
        return;
    if (down < max_down && (!down || trand_below(w0, 2)))
        take_one_down(w0);
    else
        bring_one_up(w0, false);
}

static void oracle_step(void)
{
    int bad;

    if (!pause_workers())
        return;
    bad = evtchn_oracle_check();
    conductor_log(OP_ORACLE, bad, 0);
    if (bad)
        torture_fail(0, "the consistency oracle found %d disagreements "
                     "(printed above)", bad);
    resume_workers();
}

static unsigned long total_ops(unsigned int op)
{
    unsigned long n = 0;

    for (unsigned int cpu = 0; cpu < smp_domain_vcpus(); cpu++)
        n += torture.w[cpu].ops[op];
    return n;
}

static unsigned long total_refused(unsigned int op)
{
    unsigned long n = 0;

    for (unsigned int cpu = 0; cpu < smp_domain_vcpus(); cpu++)
        n += torture.w[cpu].refused[op];
    return n;
}

static unsigned long all_ops(void)
{
    unsigned long n = 0;

    for (unsigned int op = 0; op < NR_TORTURE_OPS; op++)
        n += total_ops(op);
    return n;
}

static void print_progress(const char *when)
{
    char line[512];
    size_t len = 0;

    for (unsigned int op = 0; op < NR_TORTURE_OPS; op++)
        len += snprintf(line + len, sizeof(line) - len, " %s %lu",
                        op_names[op], total_ops(op));
    test_diag("torture: %s %lu s: ops%s", when,
              (unsigned long)(run_ms() / 1000), line);
    test_diag("torture: %s %lu s: events %lu, calls %lu, vCPUs cycled %lu, "
              "failures %lu", when, (unsigned long)(run_ms() / 1000),
              __atomic_load_n(&torture.events, __ATOMIC_RELAXED),
              __atomic_load_n(&torture.calls, __ATOMIC_RELAXED),
              torture.cycled,
              __atomic_load_n(&torture.failures, __ATOMIC_RELAXED));
}

static uint64_t lost_kicks0;

/* A kick that never came shows as a poll that timed out on a lock the
 * waiter already held (lock/pvlock.c): bug C's lost wake-up. */
static void check_kicks(void)
{
    uint64_t lost = spin_lost_kicks() - lost_kicks0;

    if (lost)
        torture_fail(0, "pv-lock: %lu kicks lost (a waiter slept on a lock "
                     "already its own until its poll timed out)",
                     (unsigned long)lost);
}

static void conduct(void)
{
    struct tworker *w0 = &torture.w[0];
    uint64_t next_progress = time_now_ns() + PROGRESS_NS;
    uint64_t next_hotplug = time_now_ns();
    unsigned long next_oracle = ORACLE_EVERY;

    while (!torture_over() && time_now_ns() < torture.end_ns) {
        uint64_t now;

        for (unsigned int i = 0; i < CONDUCTOR_OPS && !torture_over(); i++)
            torture_op(w0);
        now = time_now_ns();
        if (!check_hangs(now))
            break;
        if (now >= next_hotplug) {
            hotplug_step();
            next_hotplug = time_now_ns() +
                           (200 + trand_below(w0, 1800)) * NSEC_PER_MSEC;
        }
        if (all_ops() >= next_oracle) {
            oracle_step();
            next_oracle = all_ops() + ORACLE_EVERY;
        }
        if (now >= next_progress) {
            check_kicks();
            print_progress("at");
            next_progress += PROGRESS_NS;
        }
        /* Every worker moved in the last HANG_NS: the run is alive. */
        test_watchdog_extend(2 * TORTURE_HANG_NS);
    }
}

/* ---- set-up, end, report ---- */

static void probe_kinds(void)
{
    static const struct evt_action quiet = { .handler = count_handler_util,
                                             .name = "torture-probe" };
    static struct counter c;
    struct evt_action a = quiet;
    unsigned int pirq;
    int irq;

    a.data = &c;
    irq = bind_unrouted_pirq(&a, &pirq);
    torture.pirq_ok = irq >= 0;
    if (irq >= 0)
        unbind(irq);
    irq = bind_virq(VIRQ_TBUF, 0, &a);
    torture.gvirq_ok = irq >= 0;
    if (irq >= 0)
        unbind(irq);
    torture.xs_ok = !xen.is_dom0 && xenstore_available();
}

static void setup(uint32_t seconds)
{
    uint64_t seed = boot_options.seed_given ? boot_options.seed
                                            : rdtsc() ^ (rdtsc() << 29);

    memset(&torture, 0, sizeof(torture));
    memset(&taken_down, 0, sizeof(taken_down));
    memset(last_progress, 0, sizeof(last_progress));
    memset(last_change, 0, sizeof(last_change));
    torture.seed = seed;
    for (unsigned int cpu = 0; cpu < MAX_VCPUS; cpu++) {
        struct tworker *w = &torture.w[cpu];

        w->cpu = cpu;
        w->rng = seed_for(seed, cpu);
        for (unsigned int i = 0; i < TORTURE_SLOTS; i++)
            w->slots[i].irq = w->slots[i].irq_b = -1;
        snprintf(w->xs_path, sizeof(w->xs_path), "data/torture/%u", cpu);
    }
    probe_kinds();
    lost_kicks0 = spin_lost_kicks();
    torture.start_ns = time_now_ns();
    torture.end_ns = torture.start_ns + seconds * NSEC_PER_SEC;
}

/* However the case ends: workers stopped, vCPUs up, slots unbound. */
static void teardown(void *unused)
{
    __atomic_store_n(&torture.stop, 1, __ATOMIC_RELEASE);
    for (unsigned int cpu = 1; cpu < smp_domain_vcpus(); cpu++)
        if (!wait_worker(cpu))
            return;                     /* the runner's cleanup reports */
    bring_one_up(&torture.w[0], true);
    /* Unbinding waits for events still owed: not over yet for that. */
    __atomic_store_n(&torture.stop, 0, __ATOMIC_RELEASE);
    for (unsigned int cpu = 0; cpu < smp_domain_vcpus(); cpu++)
        torture_worker_teardown(&torture.w[cpu]);
    __atomic_store_n(&torture.stop, 1, __ATOMIC_RELEASE);
    if (torture.xs_ok)
        for (unsigned int cpu = 0; cpu < smp_domain_vcpus(); cpu++)
            (void)xs_rm(0, torture.w[cpu].xs_path);
}

static void print_oplog(unsigned int cpu)
{
    struct tworker *w = &torture.w[cpu];
    unsigned int n = MIN(w->nlog, (unsigned int)TORTURE_OPLOG);

    for (unsigned int i = w->nlog - n; i != w->nlog; i++) {
        const struct oprec *r = &w->log[i % TORTURE_OPLOG];

        test_diag("torture:   vCPU%u %6lu ms %-11s %-5s rc %d%s", cpu,
                  (unsigned long)r->t_ms, op_names[r->op],
                  kind_names[r->kind], r->rc,
                  r->op == OP_DOWN || r->op == OP_UP ? " (that vCPU)" : "");
    }
}

static void report_failure(uint32_t seconds)
{
    test_diag("torture: FAILED at %lu ms on vCPU%u: %s",
              (unsigned long)torture.fail_ms, torture.fail_cpu,
              torture.fail_msg);
    test_diag("torture: %lu failures in all; to make the same choices "
              "again: torture=%u seed=%lu",
              __atomic_load_n(&torture.failures, __ATOMIC_RELAXED), seconds,
              (unsigned long)torture.seed);
    test_diag("torture: the last %u operations of each vCPU, oldest first:",
              TORTURE_OPLOG);
    for (unsigned int cpu = 0; cpu < smp_domain_vcpus(); cpu++)
        print_oplog(cpu);
}

/* The runner's bound ended the case: the conductor itself is stuck. */
static void report_timeout(void)
{
    test_diag("torture: the run's bound passed with vCPU0, the conductor, "
              "stuck (hang); seed=%lu", (unsigned long)torture.seed);
    if (torture.failed)
        test_diag("torture: its first failure before that, at %lu ms on "
                  "vCPU%u: %s", (unsigned long)torture.fail_ms,
                  torture.fail_cpu, torture.fail_msg);
    test_diag("torture: the last %u operations of each vCPU, oldest first:",
              TORTURE_OPLOG);
    for (unsigned int cpu = 0; cpu < smp_domain_vcpus(); cpu++)
        print_oplog(cpu);
}

static void report_totals(void)
{
    for (unsigned int op = 0; op < NR_TORTURE_OPS; op++)
        test_diag("torture: %-11s %8lu (refused %lu)", op_names[op],
                  total_ops(op), total_refused(op));
    test_diag("torture: lock holds %lu/%lu/%lu/%lu",
              torture.held[0], torture.held[1], torture.held[2],
              torture.held[3]);
}

SELFTEST(torture, run, .explicit_only = true, .timeout_ms = 60000)
{
    uint32_t seconds = boot_options.torture_s ? boot_options.torture_s : 60;
    unsigned int misrouted = evtchn_misrouted;

    setup(seconds);
    test_diag("torture: seed=%lu (%s), %u s on %u vCPUs, %s ABI, kinds: "
              "loop storm ipi virq%s%s%s", (unsigned long)torture.seed,
              boot_options.seed_given ? "given" : "drawn", seconds,
              smp_nr_vcpus(), evtchn_abi_name(),
              torture.gvirq_ok ? " gvirq" : "", torture.pirq_ok ? " pirq" : "",
              torture.xs_ok ? ", xenstore" : "");
    test_defer(teardown, NULL);
    test_on_timeout(report_timeout);
    start_workers();
    conduct();
    teardown(NULL);
    check_kicks();
    if (!torture.failed) {
        if (evtchn_misrouted != misrouted)
            torture_fail(0, "%u late EOIs unmasked a port on a vCPU it did "
                         "not target", evtchn_misrouted - misrouted);
        if (evtchn_oracle_check())
            torture_fail(0, "the consistency oracle disagreed at the end");
    }
    print_progress("end,");
    report_totals();
    if (torture.failed) {
        report_failure(seconds);
        if (torture.hung) {
            hang_report();
            test_abort_run("torture: a vCPU is stuck");
        }
        return TEST_FAIL;
    }
    return TEST_PASS;
}
