/*
 * Self-tests.  A test is a function registered with SELFTEST(suite, case);
 * the linker gathers them (section .selftests), so adding a test is adding
 * a function.  The runner (kernel/selftest.c) selects them with selftest=,
 * runs each under a time bound, checks for leaks after each, and reports
 * KTAP version 1.
 *
 *   SELFTEST(mm, no_double_alloc)
 *   {
 *       void *p = page_alloc(0);
 *       CHECK(p != NULL);
 *       ...
 *       return TEST_PASS;
 *   }
 *
 * CHECK() records a failure with its location and goes on; REQUIRE()
 * records it and returns from the test.  SKIP("why") skips.
 */
#ifndef XENITH_SELFTEST_H
#define XENITH_SELFTEST_H

#include <xenith/types.h>
#include <xenith/compiler.h>

enum test_result { TEST_PASS, TEST_SKIP, TEST_FAIL };

struct selftest {
    const char *suite;
    const char *name;
    enum test_result (*fn)(void);
    uint32_t timeout_ms;        /* per iteration; 0 = the default */
    uint32_t min_vcpus;         /* fewer online: SKIP with the reason */
    bool explicit_only;         /* not in "all" or globs: name its suite */
    bool vcpus_may_change;      /* the toolstack may change the online
                                   vCPUs: no totals-based leak check then */
};

#define SELFTEST_DEFAULT_TIMEOUT_MS 10000

#define SELFTEST(suite_, name_, ...)                                        \
    static enum test_result test_##suite_##_##name_(void);                  \
    static const struct selftest selftest_##suite_##_##name_                \
        __used __section(".selftests") __aligned(8) = {                     \
        .suite = #suite_, .name = #name_, .fn = test_##suite_##_##name_,    \
        __VA_ARGS__ };                                                      \
    static enum test_result test_##suite_##_##name_(void)

/* A bound for a wait that only a hang can exceed, set for 8 vCPUs:
 * scaled by test_bound_scale(), 1 up to 8 vCPUs online and one more per
 * 8 beyond (kernel/selftest.c says why).  Case bounds scale the same. */
uint64_t test_bound_ns(uint64_t ns);
unsigned int test_bound_scale(void);

/* The running case's bound, pushed out to ns from now: for a case whose
 * length the command line sets (torture=), which calls it only while it
 * sees every vCPU make progress, so a hang still ends the run. */
void test_watchdog_extend(uint64_t ns);

/* What the case wants printed if the runner's bound ends it (a case
 * stuck for good never returns to say it): reset before every case. */
void test_on_timeout(void (*report)(void));

/* Diagnostic inside the current test ("    # ..." in KTAP). */
void test_diag(const char *fmt, ...) __printf(1, 2);
void test_fail_at(const char *file, int line, const char *what);
bool test_failed(void);
/* The test left vCPUs stuck (a reproduced deadlock): fail it, and end the
 * run after it instead of running more tests on a wedged machine. */
void test_abort_run(const char *why);
void test_set_skip_reason(const char *reason);

#define CHECK(c) do { if (unlikely(!(c)))                                   \
    test_fail_at(__FILE__, __LINE__, #c); } while (0)
#define REQUIRE(c) do { if (unlikely(!(c))) {                               \
    test_fail_at(__FILE__, __LINE__, #c); return TEST_FAIL; } } while (0)
#define SKIP(reason) do { test_set_skip_reason(reason);                     \
    return TEST_SKIP; } while (0)
/* The verdict of a test that used CHECK(). */
#define TEST_RESULT() (test_failed() ? TEST_FAIL : TEST_PASS)

/*
 * vCPUs by role.  A case never names a vCPU number but 0 (where the
 * runner runs it): it asks for the vCPUs it needs,
 *
 *     unsigned int cpu[2];
 *     PICK_CPUS(2, cpu);          // SKIPs, with the reason, if too few
 *
 * and gets online vCPUs other than vCPU0 and its own, lowest first
 * (cpu[0] < cpu[1]: a case whose roles depend on scan order relies on
 * it).  They are pinned online for the case: the toolstack's requests
 * for them (xl vcpu-set) wait until it ends (cpu_pin), and one the case
 * took down and left down is brought back, and fails the case.
 */
#define TEST_MAX_PICK 16
bool test_pick_cpus(unsigned int n, unsigned int *out);
#define PICK_CPUS(n, out) do { if (!test_pick_cpus((n), (out)))             \
    return TEST_SKIP; } while (0)

/*
 * Cleanup that runs however the case returns (REQUIRE, its own bound,
 * test_abort_run), before anything can reuse its stack: the runner runs
 * it on a stack of its own, so the case's frame is still intact while
 * work and calls that point into it are taken back or waited for.  In
 * this order, after every case:
 *  1. every injection point is disarmed, every held vCPU released; a
 *     point the case armed that no vCPU reached, or whose hold ended by
 *     its bound instead of by the case, fails it (an untested window;
 *     inject_arm_optional for a point the path may rightly miss);
 *  2. the case's list, last added first: test_defer(fn, arg) actions,
 *     and the work and calls queued with test_work_queue/test_call_async
 *     (not started: taken back; running: waited for, bounded);
 *  3. the vCPUs it picked are unpinned (and brought back if left down);
 *  4. irqs still bound whose handler data lies in the case's dead stack
 *     are unbound (and fail the case: an event would have written there).
 * A work or call still running after the bound ends the run there.
 */
void test_defer(void (*fn)(void *arg), void *arg);
struct cpu_work;
int test_work_queue(unsigned int cpu, struct cpu_work *w,
                    void (*fn)(void *arg), void *arg);
int test_call_async(unsigned int cpu, void (*fn)(void *arg), void *arg);

/* Run what boot_options selects; returns the verdict (does not exit). */
enum verdict { VERDICT_PASS = 0, VERDICT_FAIL = 1, VERDICT_PANIC = 2 };
enum verdict selftest_run_all(void);
/* End the run now with this verdict, as exit= says. */
void verdict_exit(enum verdict v) __noreturn;
/* Watchdog tick (LAPIC timer): fails the running test past its bound. */
void selftest_watchdog_tick(void);
/* The runner's cleanup stack, for stack walks (arch/x86/gdt.c). */
bool selftest_stack_contains(uintptr_t lo, uintptr_t hi);
/* From panic (console already in emergency mode): report the running
 * case as not ok and print the totals. */
void selftest_panic_report(void);

#endif
