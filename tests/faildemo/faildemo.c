/*
 * Suite `faildemo`: deliberately broken tests, built only in the failtest
 * config (configs/failtest.mk), so tests/boot-matrix.sh can show that the
 * host runner catches a failure, a hang and a panic.  Never in a default
 * build: selftest=all there cannot reach them.
 */
#include <xenith/selftest.h>
#include <xenith/x86.h>

SELFTEST(faildemo, fails)
{
    CHECK(1 + 1 == 3);
    return TEST_RESULT();
}

/* Spins with interrupts on: the watchdog must end the run by name. */
SELFTEST(faildemo, hangs, .timeout_ms = 500)
{
    for (;;)
        cpu_relax();
    return TEST_PASS;
}

/* A NULL dereference: registers and a symbolised backtrace, panic verdict. */
static __noinline int deref(volatile int *p)
{
    return *p;
}

SELFTEST(faildemo, panics)
{
    return deref((volatile int *)0) ? TEST_FAIL : TEST_PASS;
}
