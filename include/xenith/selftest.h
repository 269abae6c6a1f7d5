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

/* Run what boot_options selects; returns the verdict (does not exit). */
enum verdict { VERDICT_PASS = 0, VERDICT_FAIL = 1, VERDICT_PANIC = 2 };
enum verdict selftest_run_all(void);
/* End the run now with this verdict, as exit= says. */
void verdict_exit(enum verdict v) __noreturn;
/* Watchdog tick (LAPIC timer): fails the running test past its bound. */
void selftest_watchdog_tick(void);
/* From panic (console already in emergency mode): report the running
 * case as not ok and print the totals. */
void selftest_panic_report(void);

#endif
