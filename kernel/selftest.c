/*
 * The self-test runner.  Selects tests by selftest= patterns, runs each
 * for iterations= rounds under a time bound, checks after each that no
 * page, heap byte or event-channel port leaked, and reports KTAP version
 * 1: one subtest per suite, then "N passed, N failed, N skipped" and an XTF-style
 * "Test result:" line that machines wait for.
 *
 * The time bound: before each round the runner sets a deadline; every
 * online vCPU's timer tick (kernel/timer.c, every 100 ms) checks it, and
 * the first to see it passed reports the running test as "not ok ...
 * # timeout" and ends the run with the fail verdict.  So a test that spins
 * with interrupts off on its vCPU is still caught by another one; with a
 * single vCPU such a hang is left to the host runner's wall bound.
 *
 * After each round: pages, heap bytes, irq descriptors and the ports Xen
 * has open must be back where they were, and the consistency oracle
 * (events/oracle.c) must find the kernel's port tables and Xen agreeing.
 */
#include <xenith/selftest.h>
#include <xenith/suspend.h>
#include <xenith/control.h>
#include <xenith/xenstore.h>
#include <xenith/boot.h>
#include <xenith/cmdline.h>
#include <xenith/console.h>
#include <xenith/evtchn.h>
#include <xenith/events.h>
#include <xenith/hang_report.h>
#include <xenith/irq.h>
#include <xenith/hypercall.h>
#include <xenith/mm.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xenith/cpu.h>
#include <xenith/inject.h>
#include <xenith/ksyms.h>
#include <xenith/percpu.h>
#include <xen/errno.h>

extern const struct selftest __selftests_start[], __selftests_end[];

#define MAX_SUITES      64
#define MAX_FAILED_NAMED 8
#define NR_SLOWEST      5

static struct {
    const struct selftest *test;        /* watched by the watchdog, or NULL */
    const struct selftest *current;     /* running (for the panic report) */
    unsigned int case_no;               /* its KTAP number in the suite */
    uint32_t iteration;
    uint64_t deadline;                  /* ns; 0 = no bound armed */
    bool failed;
    const char *abort_reason;           /* set: end the run after this test */
    bool stopped_by_toolstack;          /* control/shutdown: no more tests */
    bool current_may_change_vcpus;      /* the case's vcpus_may_change */
    void (*timeout_report)(void);       /* test_on_timeout */
    char skip_reason[96];
    uintptr_t case_frame;               /* the case's frames lie below */
    unsigned int suite_no;              /* KTAP number of the suite */
    unsigned int passed, failed_count, skipped;
    /* For the run's last lines: a CI log is often read from its tail
     * only, so the failed cases and the slowest are named there again. */
    const struct selftest *failed_cases[MAX_FAILED_NAMED];
    struct {
        const struct selftest *t;
        uint64_t ns;
    } slowest[NR_SLOWEST];
} run;

static unsigned int nr_tests(void)
{
    return __selftests_end - __selftests_start;
}

static bool selected(const struct selftest *t, int *hits)
{
    char full[96];
    bool any = false;

    snprintf(full, sizeof(full), "%s.%s", t->suite, t->name);
    for (unsigned int i = 0; i < boot_options.nr_patterns; i++) {
        const char *p = boot_options.patterns[i];
        bool literal = !strcmp(p, full) || !strcmp(p, t->suite);

        /* Benchmarks run only when named: "all" means the tests. */
        if (t->explicit_only ? literal
                             : (glob_match(p, full) || glob_match(p, t->suite))) {
            hits[i]++;
            any = true;
        }
    }
    return any;
}

/* Distinct suite names, in link order. */
static unsigned int list_suites(const char **suites)
{
    unsigned int n = 0;

    for (const struct selftest *t = __selftests_start; t < __selftests_end;
         t++) {
        unsigned int i;
        for (i = 0; i < n && strcmp(suites[i], t->suite); i++)
            ;
        if (i == n && n < MAX_SUITES)
            suites[n++] = t->suite;
    }
    return n;
}

void test_diag(const char *fmt, ...)
{
    char buf[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ktap("    # %s\n", buf);
}

void test_fail_at(const char *file, int line, const char *what)
{
    run.failed = true;
    if (boot_options.iterations > 1)
        test_diag("FAIL %s:%d: %s (iteration %u)", file, line, what,
                  run.iteration);
    else
        test_diag("FAIL %s:%d: %s", file, line, what);
}

bool test_failed(void)
{
    return run.failed;
}

void test_abort_run(const char *why)
{
    run.failed = true;
    run.abort_reason = why;
}

void test_set_skip_reason(const char *reason)
{
    strlcpy(run.skip_reason, reason, sizeof(run.skip_reason));
}

/* Keep the NR_SLOWEST longest cases, longest first. */
static void note_duration(const struct selftest *t, uint64_t ns)
{
    unsigned int i = NR_SLOWEST;

    while (i && (!run.slowest[i - 1].t || run.slowest[i - 1].ns < ns)) {
        if (i < NR_SLOWEST)
            run.slowest[i] = run.slowest[i - 1];
        i--;
    }
    if (i < NR_SLOWEST) {
        run.slowest[i].t = t;
        run.slowest[i].ns = ns;
    }
}

static void note_failed(const struct selftest *t)
{
    for (unsigned int i = 0; i < MAX_FAILED_NAMED; i++)
        if (!run.failed_cases[i]) {
            run.failed_cases[i] = t;
            return;
        }
}

static void report_failed_and_slowest(void)
{
    char line[400];
    size_t len = 0;

    for (unsigned int i = 0; i < MAX_FAILED_NAMED && run.failed_cases[i]; i++)
        len += snprintf(line + len, sizeof(line) - len, "%s%s.%s",
                        i ? ", " : "", run.failed_cases[i]->suite,
                        run.failed_cases[i]->name);
    if (len)
        ktap("# failed: %s%s\n", line,
             run.failed_count > MAX_FAILED_NAMED ? ", ..." : "");
    len = 0;
    for (unsigned int i = 0; i < NR_SLOWEST && run.slowest[i].t &&
                             len < sizeof(line); i++)
        len += snprintf(line + len, sizeof(line) - len, "%s%s.%s %lu ms",
                        i ? ", " : "", run.slowest[i].t->suite,
                        run.slowest[i].t->name,
                        (unsigned long)(run.slowest[i].ns / NSEC_PER_MSEC));
    if (len)
        ktap("# slowest: %s\n", line);
}

static void print_totals(void)
{
    ktap("# Totals: pass:%u fail:%u skip:%u\n", run.passed, run.failed_count,
         run.skipped);
    ktap("%u passed, %u failed, %u skipped\n", run.passed, run.failed_count,
         run.skipped);
}

void selftest_panic_report(void)
{
    const struct selftest *t = run.current;

    if (!t)
        return;
    run.current = NULL;
    run.failed_count++;
    ktap("    not ok %u %s # panic (iteration %u)\n", run.case_no, t->name,
         run.iteration);
    ktap("not ok %u %s\n", run.suite_no + 1, t->suite);
    note_failed(t);
    report_failed_and_slowest();
    print_totals();
}

/* Recoveries of the upcall watch (events/upcall_watch.c) since w0, or
 * all of them: a run that only passed because a lost interrupt was
 * raised again says so. */
static void report_upcall_watch(const struct upcall_watch_stats *w0,
                                const char *scope)
{
    static const struct upcall_watch_stats zero;
    struct upcall_watch_stats w;

    upcall_watch_stats(&w);
    if (w0 && w.lost.deaf == w0->lost.deaf &&
        w.induced.deaf == w0->induced.deaf)
        return;
    if (!w0)
        w0 = &zero;
    ktap("%s# upcall watch%s: lost interrupts %lu (recovered %lu, not %lu); "
         "made by a self-test %lu (recovered %lu, not %lu)\n",
         w0 == &zero ? "" : "    ", scope,
         (unsigned long)(w.lost.deaf - w0->lost.deaf),
         (unsigned long)(w.lost.recovered - w0->lost.recovered),
         (unsigned long)(w.lost.unanswered - w0->lost.unanswered),
         (unsigned long)(w.induced.deaf - w0->induced.deaf),
         (unsigned long)(w.induced.recovered - w0->induced.recovered),
         (unsigned long)(w.induced.unanswered - w0->induced.unanswered));
}

/* Upcalls the platform delivered inside an upcall (events/upcall.c):
 * each was left at once, so nothing was lost, but a run that had one
 * says so. */
static void report_nested_upcalls(void)
{
    uint64_t n, off, rip, o;
    const char *sym;

    evtchn_nested_stats(&n, &off, &rip);
    if (!n) {
        ktap("# nested upcalls: 0\n");
        return;
    }
    sym = ksym_lookup(rip, &o);
    ktap("# nested upcalls: %lu (%lu with interrupts off: delivered by the "
         "platform), each left at once; the first at %s+0x%lx\n",
         (unsigned long)n, (unsigned long)off, sym ? sym : "?",
         (unsigned long)o);
}

static enum verdict finish(void)
{
    report_failed_and_slowest();
    report_upcall_watch(NULL, "");
    report_nested_upcalls();
    print_totals();
    if (run.failed_count) {
        ktap("Test result: FAILURE\n");
        return VERDICT_FAIL;
    }
    ktap("Test result: %s\n", run.passed ? "SUCCESS" : "SKIP");
    return VERDICT_PASS;
}

/*
 * The bounds (each case's, and the waits inside cases that use
 * test_bound_ns) were set for up to 8 vCPUs on 2 pCPUs of a loaded host.
 * With more vCPUs each one runs less often and a hand-off round the
 * vCPUs takes longer, so a bound grows with the vCPUs online, in steps
 * of 8.  That only delays the verdict on a real hang: a lost wake-up or
 * a deadlock never ends, whatever the bound.  (The vCPUs per pCPU would
 * be the better measure, but a domU cannot learn the pCPU count.)  A
 * host slower than that, or loaded by others, is the user's to declare:
 * bound_scale=N multiplies every bound (a CI machine ran a 64-vCPU boot
 * 4.5 times slower than an idle one, and a case failed its bound).
 */
#define BOUND_VCPUS 8

unsigned int test_bound_scale(void)
{
    return MAX(1u, (smp_nr_vcpus() + BOUND_VCPUS - 1) / BOUND_VCPUS) *
           MAX(1u, boot_options.bound_scale);
}

uint64_t test_bound_ns(uint64_t ns)
{
    return ns * test_bound_scale();
}

static uint32_t timeout_ms(const struct selftest *t)
{
    return (t->timeout_ms ? t->timeout_ms : SELFTEST_DEFAULT_TIMEOUT_MS) *
           test_bound_scale();
}

/* A case left vCPUs where the run cannot go on: say where every vCPU
 * stands, report the case and its suite, and leave with the verdict. */
static __noreturn void end_run(const struct selftest *t, const char *why,
                               const char *suite_why)
{
    hang_report();
    ktap("    not ok %u %s # %s\n", run.case_no, t->name, why);
    ktap("not ok %u %s # %s\n", run.suite_no + 1, t->suite, suite_why);
    run.failed_count++;
    note_failed(t);
    verdict_exit(finish());
}

void selftest_watchdog_tick(void)
{
    const struct selftest *t = __atomic_load_n(&run.test, __ATOMIC_ACQUIRE);
    uint64_t deadline = __atomic_load_n(&run.deadline, __ATOMIC_ACQUIRE);

    if (!t || !deadline || time_now_ns() < deadline)
        return;
    /* Only the first vCPU to see it reports. */
    if (!__atomic_compare_exchange_n(&run.test, &t, NULL, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;
    /* The test is stuck; we are in an interrupt on top of it (or on
     * another vCPU) and never return to it.  Report it by name and end
     * the run.  A stuck test may have left a vCPU spinning with the
     * console lock held, and these are the run's last words: print
     * without it. */
    console_emergency();
    ktap("    # timeout: %s.%s still running after %u ms "
         "(iteration %u)\n", t->suite, t->name, timeout_ms(t), run.iteration);
    if (run.timeout_report)
        run.timeout_report();
    end_run(t, "timeout", "run aborted by a hung test");
}

static void arm_watchdog(const struct selftest *t)
{
    uint64_t bound = (uint64_t)timeout_ms(t) * NSEC_PER_MSEC;

    __atomic_store_n(&run.deadline, time_now_ns() + bound, __ATOMIC_RELEASE);
    __atomic_store_n(&run.test, t, __ATOMIC_RELEASE);
}

void test_on_timeout(void (*report)(void))
{
    run.timeout_report = report;
}

void test_watchdog_extend(uint64_t ns)
{
    if (__atomic_load_n(&run.test, __ATOMIC_ACQUIRE) == run.current)
        __atomic_store_n(&run.deadline, time_now_ns() + ns, __ATOMIC_RELEASE);
}

static void disarm_watchdog(void)
{
    const struct selftest *t = run.current;

    /* If a tick on another vCPU already claimed the test, it is ending
     * the run right now: do not go on to the next test. */
    if (!__atomic_compare_exchange_n(&run.test, &t, NULL, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        for (;;)
            cpu_relax();
    __atomic_store_n(&run.deadline, 0, __ATOMIC_RELEASE);
}

/* What must be back where it was after every test. */
struct resources {
    uint64_t pages;             /* free + kept by the heap and port map */
    uint64_t heap_bytes;
    unsigned int irqs;          /* irq descriptors allocated */
    long open_ports;            /* as Xen sees them (EVTCHNOP_status) */
    unsigned int online;        /* vCPUs online: each owns irqs and ports */
};

static void snapshot(struct resources *r)
{
    r->pages = mm_free_pages() + heap_slab_pages() + evtchn_map_pages() +
               evtchn_abi_pages();
    r->heap_bytes = heap_in_use();
    r->irqs = irq_nr_allocated();
    r->open_ports = evtchn_count_open();
    r->online = smp_nr_vcpus();
}

static enum test_result check_leaks(const struct resources *before)
{
    struct resources after;

    snapshot(&after);
    /* The toolstack (xl vcpu-set) may leave more or fewer vCPUs online
     * than the case found, each with its own timer, IPIs and kicker: the
     * totals cannot match, and only the oracle can judge this round. */
    if (after.online != before->online && run.current_may_change_vcpus) {
        test_diag("leak checks not applicable: %u vCPUs online before, %u "
                  "after (the toolstack's doing); oracle only",
                  before->online, after.online);
        return evtchn_oracle_check() ? TEST_FAIL : TEST_PASS;
    }
    if (after.pages != before->pages) {
        test_diag("leak: %ld pages not returned",
                  (long)(before->pages - after.pages));
        return TEST_FAIL;
    }
    if (after.heap_bytes != before->heap_bytes) {
        test_diag("leak: %ld heap bytes not returned",
                  (long)(after.heap_bytes - before->heap_bytes));
        return TEST_FAIL;
    }
    if (after.irqs != before->irqs) {
        test_diag("leak: %u irq descriptors allocated, %u before the test",
                  after.irqs, before->irqs);
        return TEST_FAIL;
    }
    if (after.open_ports < 0 || after.open_ports != before->open_ports) {
        test_diag("leak: Xen has %ld ports open, %ld before the test",
                  after.open_ports, before->open_ports);
        return TEST_FAIL;
    }
    if (evtchn_oracle_check() != 0)
        return TEST_FAIL;               /* it printed each disagreement */
    return TEST_PASS;
}

/*
 * The per-case cleanup list (selftest.h says what runs, in which order).
 * Work and calls are recorded by (vCPU, fn, arg), never by a record in
 * the case's memory: smp_retire finds them in the vCPU's queues or
 * running there, so a record in a helper's frame that is long gone
 * cannot mislead it.
 */
#define MAX_ACTIONS     256
#define CLEANUP_BOUND_NS test_bound_ns(5 * NSEC_PER_SEC)

enum action_kind { ACT_DEFER, ACT_RETIRE };

static struct action {
    enum action_kind kind;
    void (*fn)(void *arg);
    void *arg;
    unsigned int cpu;           /* ACT_RETIRE: where it was queued */
} actions[MAX_ACTIONS];
static unsigned int nr_actions;
static struct cpumask picked;   /* pinned for this case (cpu_pin) */

/* Its own stack: the case's frame stays as it was while the list runs. */
static uint8_t cleanup_stack[16384] __aligned(16);

bool selftest_stack_contains(uintptr_t lo, uintptr_t hi)
{
    return lo >= (uintptr_t)cleanup_stack &&
           hi <= (uintptr_t)cleanup_stack + sizeof(cleanup_stack);
}

static bool add_action(enum action_kind kind, void (*fn)(void *), void *arg,
                       unsigned int cpu)
{
    for (unsigned int i = 0; kind == ACT_RETIRE && i < nr_actions; i++)
        if (actions[i].kind == ACT_RETIRE && actions[i].cpu == cpu &&
            actions[i].fn == fn && actions[i].arg == arg)
            return true;                /* one retire covers them all */
    if (nr_actions == MAX_ACTIONS) {
        test_fail_at(__FILE__, __LINE__, "cleanup list full");
        return false;
    }
    actions[nr_actions++] = (struct action){ kind, fn, arg, cpu };
    return true;
}

void test_defer(void (*fn)(void *arg), void *arg)
{
    if (!add_action(ACT_DEFER, fn, arg, 0))
        fn(arg);                        /* cannot defer it: do it now */
}

int test_work_queue(unsigned int cpu, struct cpu_work *w,
                    void (*fn)(void *arg), void *arg)
{
    if (!add_action(ACT_RETIRE, fn, arg, cpu))
        return -XEN_ENOSPC;
    return smp_work_queue(cpu, w, fn, arg);
}

int test_call_async(unsigned int cpu, void (*fn)(void *arg), void *arg)
{
    if (!add_action(ACT_RETIRE, fn, arg, cpu))
        return -XEN_ENOSPC;
    return smp_call_on(cpu, fn, arg, false);
}

bool test_pick_cpus(unsigned int n, unsigned int *out)
{
    unsigned int got = 0, me = smp_processor_id();

    for (unsigned int cpu = 1; cpu < smp_domain_vcpus() && got < n &&
         got < TEST_MAX_PICK; cpu++) {
        if (cpu == me || cpumask_test(&picked, cpu) || !cpu_pin(cpu))
            continue;
        cpumask_set(&picked, cpu);
        out[got++] = cpu;
    }
    if (got == n)
        return true;
    snprintf(run.skip_reason, sizeof(run.skip_reason),
             "needs %u vCPUs online besides vCPU%u, has %u", n, me, got);
    return false;
}

static const char *sym(void *fn)
{
    uint64_t off;
    const char *name = ksym_lookup((uint64_t)(uintptr_t)fn, &off);

    return name ? name : "?";
}

/* Work, a call or a held vCPU the runner could not retire: the case's
 * frame may still be written to, so nothing may run on that memory any
 * more.  End the run from here, the cleanup stack. */
static __noreturn void cleanup_stuck(const char *what, unsigned int cpu)
{
    const struct selftest *t = run.current;

    __atomic_store_n(&run.test, NULL, __ATOMIC_RELEASE);  /* no watchdog */
    ktap("    # cleanup: %s on vCPU%u after %lu ms; the run ends here\n",
         what, cpu, (unsigned long)(CLEANUP_BOUND_NS / NSEC_PER_MSEC));
    end_run(t, "cleanup stuck", "run aborted: cleanup stuck");
}

/* irqs whose handler data is in the dead frames of the case: an event
 * would write there once another function owns that memory. */
static void reclaim_irqs(void)
{
    uintptr_t lo = this_cpu()->stacks[STACK_KERNEL].bottom;

    for (int irq = 0; irq < NR_IRQS; irq++) {
        struct irq_desc *d = irq_to_desc(irq);
        uintptr_t data;

        if (!d || !d->handler)
            continue;
        data = (uintptr_t)d->handler_data;
        if (data < lo || data >= run.case_frame)
            continue;
        test_diag("cleanup: irq %d (%s) still bound, its data on the case's "
                  "stack: unbound", irq, d->name ? d->name : "?");
        run.failed = true;
        unbind(irq);
    }
}

static void unreached_point(const struct inject_point *ip, const char *why)
{
    test_diag("injection point %s %s", ip->name, why);
}

static void run_cleanup(void)
{
    bool stuck;
    unsigned int n;

    /* The cleanup's waits are bounded by CLEANUP_BOUND_NS each: give it
     * that much beyond a short case bound.  Read here, on the cleanup
     * stack: a call made on the case's stack after it returned would
     * overwrite the frame the list still points into (seen: a bound a
     * case had saved in a local came back as garbage). */
    __atomic_store_n(&run.deadline, time_now_ns() + 4 * CLEANUP_BOUND_NS,
                     __ATOMIC_RELEASE);
    n = inject_reset_all(CLEANUP_BOUND_NS, &stuck);

    if (n)
        test_diag("cleanup: %u injection point%s left armed or holding a "
                  "vCPU: disarmed and released", n, n == 1 ? "" : "s");
    if (stuck)
        cleanup_stuck("a vCPU still held at an injection point", 0);
    if (inject_case_check(unreached_point))
        run.failed = true;
    while (nr_actions) {
        struct action *a = &actions[--nr_actions];
        int rc;

        if (a->kind == ACT_DEFER) {
            a->fn(a->arg);
            continue;
        }
        rc = smp_retire(a->cpu, a->fn, a->arg, CLEANUP_BOUND_NS);
        if (rc < 0)
            cleanup_stuck(sym(a->fn), a->cpu);
        if (rc > 0) {
            /* Queued by the case and never run: it did not wait. */
            test_diag("cleanup: took back %d %s(%p) queued to vCPU%u, never "
                      "run", rc, sym(a->fn), a->arg, a->cpu);
            run.failed = true;
        }
    }
    for (unsigned int cpu = 1; cpu < MAX_VCPUS; cpu++) {
        if (!cpumask_test(&picked, cpu) || cpu_online(cpu))
            continue;
        test_diag("cleanup: vCPU%u, picked by the case, left %s: brought "
                  "back", cpu, cpu_state_name(cpu_state(cpu)));
        run.failed = true;
        if (cpu_online_again(cpu))
            test_diag("cleanup: vCPU%u did not come back", cpu);
    }
    if (!cpumask_empty(&picked)) {
        cpu_unpin_all();
        picked = (struct cpumask){ { 0 } };
        control_vcpus_recheck();        /* what the toolstack asked meanwhile */
    }
    reclaim_irqs();
}

static void call_on_cleanup_stack(void (*fn)(void))
{
    uintptr_t top = (uintptr_t)cleanup_stack + sizeof(cleanup_stack);

    /* rbx keeps the old stack pointer (callee-saved); the rest of the
     * caller-saved registers are fn's to clobber. */
    __asm__ __volatile__("mov %%rsp, %%rbx\n\t"
                         "mov %[top], %%rsp\n\t"
                         "call *%[fn]\n\t"
                         "mov %%rbx, %%rsp"
                         : [top] "+r"(top), [fn] "+r"(fn)
                         :
                         : "rbx", "rax", "rcx", "rdx", "rsi", "rdi", "r8",
                           "r9", "r10", "r11", "memory", "cc");
}

/* Not inlined: its frame address bounds the case's frames from above. */
static __noinline enum test_result call_case(const struct selftest *t)
{
    run.case_frame = (uintptr_t)__builtin_frame_address(0);
    return t->fn();
}

static enum test_result run_case(const struct selftest *t)
{
    struct resources before;
    struct upcall_watch_stats watch0;
    enum test_result res = TEST_PASS;

    run.skip_reason[0] = '\0';
    upcall_watch_stats(&watch0);
    if (smp_nr_vcpus() < t->min_vcpus) {
        snprintf(run.skip_reason, sizeof(run.skip_reason),
                 "needs %u vCPUs online, has %u", t->min_vcpus,
                 smp_nr_vcpus());
        return TEST_SKIP;
    }
    for (run.iteration = 1;
         run.iteration <= boot_options.iterations && res == TEST_PASS;
         run.iteration++) {
        if (run.abort_reason)
            break;
        if (run.iteration > 1 && control_shutdown_requested() >= 0)
            break;                      /* xl shutdown: this round was last */
        run.failed = false;
        snapshot(&before);
        run.current = t;
        run.current_may_change_vcpus = t->vcpus_may_change;
        arm_watchdog(t);
        nr_actions = 0;
        run.timeout_report = NULL;
        inject_case_begin();
        res = call_case(t);
        /* Nothing between the return and the switch may use the stack.
         * What remains open: an interrupt taken in those few instructions
         * runs on this stack, below its pointer, over the dead frame. */
        call_on_cleanup_stack(run_cleanup);
        disarm_watchdog();
        run.current = NULL;
        if (run.failed)
            res = TEST_FAIL;            /* a failed CHECK beats SKIP too */
        if (run.abort_reason)
            break;                      /* stuck vCPUs: no leak checks */
        if (res != TEST_SKIP && check_leaks(&before) != TEST_PASS)
            res = TEST_FAIL;
    }
    report_upcall_watch(&watch0, " during this case");
    return res;
}

static void run_suite(const char *suite, const bool *sel)
{
    unsigned int n = 0, no = 0, fail = 0, skip = 0;

    for (unsigned int i = 0; i < nr_tests(); i++)
        n += sel[i] && !strcmp(__selftests_start[i].suite, suite);
    if (!n)
        return;
    ktap("    KTAP version 1\n");
    ktap("    # Subtest: %s\n", suite);
    ktap("    1..%u\n", n);
    for (unsigned int i = 0; i < nr_tests(); i++) {
        const struct selftest *t = &__selftests_start[i];
        enum test_result r;
        uint64_t t0;

        if (!sel[i] || strcmp(t->suite, suite) || run.abort_reason)
            continue;
        xs_run_watches();               /* even with no idle vCPU */
        suspend_point();                /* xl save: between cases */
        if (control_shutdown_requested() >= 0) {
            /* xl shutdown: the test before this one was the last. */
            if (!run.stopped_by_toolstack)
                ktap("    # run stopped: the toolstack asked for a "
                     "shutdown\n");
            run.stopped_by_toolstack = true;
            continue;
        }
        run.case_no = ++no;
        t0 = time_now_ns();
        r = run_case(t);
        note_duration(t, time_now_ns() - t0);
        if (r == TEST_PASS) {
            run.passed++;
            ktap("    ok %u %s\n", no, t->name);
        } else if (r == TEST_SKIP) {
            run.skipped++;
            skip++;
            ktap("    ok %u %s # SKIP %s\n", no, t->name,
                 run.skip_reason[0] ? run.skip_reason : "no reason given");
        } else {
            run.failed_count++;
            fail++;
            note_failed(t);
            ktap("    not ok %u %s\n", no, t->name);
        }
    }
    run.suite_no++;
    if (run.abort_reason) {
        ktap("not ok %u %s # run aborted: %s\n", run.suite_no, suite,
             run.abort_reason);
        return;
    }
    if (fail)
        ktap("not ok %u %s\n", run.suite_no, suite);
    else if (skip == n)
        ktap("ok %u %s # SKIP all cases skipped\n", run.suite_no, suite);
    else
        ktap("ok %u %s\n", run.suite_no, suite);
}

static enum verdict report_unmatched(const int *hits, const char **suites,
                                     unsigned int nr_suites)
{
    char list[512] = "";
    size_t len = 0;
    bool bad = false;

    for (unsigned int i = 0; i < boot_options.nr_patterns; i++) {
        if (hits[i])
            continue;
        bad = true;
        ktap("# error: selftest pattern '%s' matches no test\n",
             boot_options.patterns[i]);
    }
    if (!bad)
        return VERDICT_PASS;
    for (unsigned int i = 0; i < nr_suites && len < sizeof(list); i++)
        len += snprintf(list + len, sizeof(list) - len, "%s%s",
                        i ? ", " : "", suites[i]);
    ktap("# available suites: %s\n", list);
    return VERDICT_FAIL;
}

/*
 * With no selftest= at all, a quick run of the core, so that a boot with
 * no command line (as Xen's CI boots its test kernel, waiting for "Test
 * result: SUCCESS") tests something: boot, memory, SMP, time,
 * hypercalls, each bind type, the pv-lock.  A second or two under TCG;
 * the README lists it.  selftest=none still runs nothing.
 */
static const char *const default_selection[] = {
    "boot", "mm.no_double_alloc", "mm.orders_aligned", "mm.heap", "smp",
    "time.monotonic", "hypercall", "evtchn.bind_each_type",
    "evtchn.loopback_notify", "evtchn.unbind_drains_handler",
    "spinlock.mutual_exclusion", "spinlock.nested_wait",
};

static void use_default_selection(void)
{
    char list[CMDLINE_MAX_PATTERNS * CMDLINE_PATTERN_MAX];
    size_t len = 0;

    BUILD_BUG_ON(ARRAY_SIZE(default_selection) > CMDLINE_MAX_PATTERNS);
    for (unsigned int i = 0; i < ARRAY_SIZE(default_selection); i++) {
        const char *p = default_selection[i];

        BUG_ON(strlen(p) >= CMDLINE_PATTERN_MAX);
        memcpy(boot_options.patterns[i], p, strlen(p) + 1);
        len += snprintf(list + len, sizeof(list) - len, "%s%s", i ? "," : "",
                        p);
    }
    boot_options.nr_patterns = ARRAY_SIZE(default_selection);
    ktap("# no selftest= given: the default selection, selftest=%s\n", list);
}

/* torture=SECONDS: the torture case (tests/torture), after whatever
 * selftest= asked for, or alone. */
static void add_torture_selection(void)
{
    static const char name[] = "torture.run";
    struct boot_options *o = &boot_options;

    if (!o->selftest_given)
        o->nr_patterns = 0;
    if (o->nr_patterns == CMDLINE_MAX_PATTERNS) {
        ktap("# warning: 32 selftest= patterns already; torture= not run\n");
        return;
    }
    memcpy(o->patterns[o->nr_patterns++], name, sizeof(name));
}

enum verdict selftest_run_all(void)
{
    static bool sel[1024];
    static const char *suites[MAX_SUITES];
    int hits[CMDLINE_MAX_PATTERNS] = { 0 };
    unsigned int nr_suites = list_suites(suites), nr_sel_suites = 0;

    BUG_ON(nr_tests() > ARRAY_SIZE(sel));
    ktap("KTAP version 1\n");
    ktap("# xenith: boot to ready %lu us (%lu hypercalls), %u vCPUs "
         "(%u online)\n", tsc_delta_to_ns(ready_tsc - boot_tsc) / NSEC_PER_USEC,
         ready_hypercalls, smp_domain_vcpus(), smp_nr_vcpus());
    ktap("# events: %s ABI, upcall %s\n", evtchn_abi_name(),
         events_per_vcpu_vector() ? "per-vCPU vector" : "domain-wide callback");
    if (boot_options.nr_errors) {
        ktap("1..0\n# error: the command line has errors (above); "
             "no test run\n");
        run.failed_count = 0;
        print_totals();
        ktap("Test result: FAILURE\n");
        return VERDICT_FAIL;
    }
    if (boot_options.torture_s)
        add_torture_selection();
    else if (!boot_options.selftest_given)
        use_default_selection();
    for (unsigned int i = 0; i < nr_tests(); i++)
        sel[i] = selected(&__selftests_start[i], hits);
    if (report_unmatched(hits, suites, nr_suites) != VERDICT_PASS) {
        ktap("1..0\n");
        print_totals();
        ktap("Test result: FAILURE\n");
        return VERDICT_FAIL;
    }
    for (unsigned int s = 0; s < nr_suites; s++)
        for (unsigned int i = 0; i < nr_tests(); i++)
            if (sel[i] && !strcmp(__selftests_start[i].suite, suites[s])) {
                nr_sel_suites++;
                break;
            }
    ktap("1..%u\n", nr_sel_suites);
    if (test_bound_scale() > 1)
        ktap("# %u vCPUs online, bound_scale=%u: time bounds x%u\n",
             smp_nr_vcpus(), MAX(1u, boot_options.bound_scale),
             test_bound_scale());
    for (unsigned int s = 0; s < nr_suites && !run.abort_reason; s++)
        run_suite(suites[s], sel);
    return finish();
}
