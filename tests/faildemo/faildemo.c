/*
 * Suite `faildemo`: deliberately broken tests, built only in the failtest
 * config (configs/failtest.mk), so tests/boot-matrix.sh can show that the
 * host runner catches a failure, a hang, a panic, a stack overflow and
 * leaks.  Never in a default
 * build: selftest=all there cannot reach them.
 */
#include <xenith/selftest.h>
#include <xenith/hypercall.h>
#include <xenith/lockorder.h>
#include <xenith/mutex.h>
#include <xenith/mm.h>
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

/* Unbounded recursion: the guard page below the stack must turn it into a
 * reported "stack overflow" panic, not silent corruption of what lies
 * below the stack. */
static volatile int keep_going = 1;     /* hides the recursion from gcc */

static __noinline int recurse(volatile int depth)
{
    volatile char pad[256];

    pad[0] = (char)depth;
    return keep_going ? recurse(depth + 1) + pad[0] : 0;
}

SELFTEST(faildemo, stack_overflow)
{
    return recurse(0) ? TEST_FAIL : TEST_PASS;
}

/* Leaks, which the runner's after-test resource check must catch: a page,
 * and an event-channel port that only Xen's EVTCHNOP_status can see. */
SELFTEST(faildemo, leaks_page)
{
    return page_alloc(0) ? TEST_PASS : TEST_FAIL;
}

SELFTEST(faildemo, leaks_port)
{
    struct evtchn_alloc_unbound au = { .dom = DOMID_SELF,
                                       .remote_dom = DOMID_SELF };

    return hyp_event_channel_op(EVTCHNOP_alloc_unbound, &au) ? TEST_FAIL
                                                             : TEST_PASS;
}

/* Spins with interrupts off: its own vCPU's timer cannot fire; another
 * vCPU's tick must end the run, and with 1 vCPU only the host's wall
 * bound can (tests/xenrun.py names where it hung). */
SELFTEST(faildemo, hangs_irqs_off, .timeout_ms = 500)
{
    irq_disable();
    for (;;)
        cpu_relax();
    return TEST_PASS;
}

/* Against the documented order: a descriptor-rank spinlock, then the
 * mapping-rank mutex.  The lock-order checker (on in this config) must
 * panic naming both. */
SELFTEST(faildemo, lock_order)
{
    static spinlock_t inner = SPINLOCK_INIT_RANKED(RANK_DESC, "demo desc");
    static struct mutex outer = MUTEX_INIT_RANKED(RANK_MAPPING, "demo map");

    spin_lock(&inner);
    mutex_lock(&outer);                 /* panics here */
    mutex_unlock(&outer);
    spin_unlock(&inner);
    return TEST_FAIL;
}
