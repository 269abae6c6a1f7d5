/*
 * Suite `faildemo`: deliberately broken tests, built only in the failtest
 * config (configs/failtest.mk), so tests/boot-matrix.sh can show that the
 * host runner catches a failure, a hang, a panic, a stack overflow and
 * leaks, and that the consistency oracle sees state the kernel did not
 * make.  Never in a default
 * build: selftest=all there cannot reach them.
 */
#include <xenith/selftest.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
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

/*
 * A failed REQUIRE returns at once, whatever the case had set going on
 * other vCPUs.  The runner's cleanup (selftest.h) must take it back
 * before the case's frame is reused: each cleanup_* case that fails is
 * followed by one that must pass, on a kernel left sound.  Without the
 * cleanup, the first wrote its pattern over whatever frame lay there
 * next, and the second had an upcall write through a stale handler
 * pointer into the next case's stack (the #PF and the #GP at an ASCII
 * RIP that offline=2 once produced in evtchn.no_double_handling and in
 * regress).
 */
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/inject.h>
#include <xenith/smp.h>
#include <xenith/time.h>

#include "../ktests/evtchn_util.h"
#include "../ktests/smp_util.h"

static int busy_release, busy_started; /* atomics */
static int scribbles;                   /* atomic: scribble() runs */
static unsigned int demo_k;             /* the vCPU the failing case used */

/* Holds its vCPU with interrupts off (bounded): work and calls queued
 * behind it stay queued. */
static void busy_irqs_off(void *arg)
{
    uint64_t until = time_now_ns() + 2 * NSEC_PER_SEC;

    irq_disable();
    __atomic_store_n(&busy_started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&busy_release, __ATOMIC_ACQUIRE) &&
           time_now_ns() < until)
        cpu_relax();
    irq_enable();
}

static void release_busy(void *arg)
{
    __atomic_store_n(&busy_release, 1, __ATOMIC_RELEASE);
}

/* Fills the buffer it was given: a frame that is gone by then. */
static void scribble(void *arg)
{
    memset(arg, 'A', 256);
    __atomic_fetch_add(&scribbles, 1, __ATOMIC_RELAXED);
}

SELFTEST(faildemo, cleanup_work_and_call, .min_vcpus = 2)
{
    char work_buf[256], call_buf[256];
    struct cpu_work busy, w;
    unsigned int k;

    PICK_CPUS(1, &k);
    demo_k = k;
    busy_release = busy_started = scribbles = 0;
    REQUIRE(test_work_queue(k, &busy, busy_irqs_off, NULL) == 0);
    test_defer(release_busy, NULL);
    REQUIRE(wait_flag(&busy_started));
    REQUIRE(test_work_queue(k, &w, scribble, work_buf) == 0);
    REQUIRE(test_call_async(k, scribble, call_buf) == 0);
    test_diag("work and a call queued to vCPU%u, behind work that holds it "
              "with interrupts off", k);
    REQUIRE(1 + 1 == 3);                /* returns with both queued */
    return TEST_PASS;
}

static void noop(void *arg)
{
}

SELFTEST(faildemo, cleanup_after_work, .min_vcpus = 2)
{
    struct cpu_work w;
    unsigned int k = demo_k;

    if (!k || !cpu_online(k))
        SKIP("cleanup_work_and_call did not run");
    /* Through k's call queue and its work queue once: what the last
     * case left there would have run by now. */
    CHECK(vcpu_answers(k));
    REQUIRE(test_work_queue(k, &w, noop, NULL) == 0);
    CHECK(smp_work_wait(&w, 3 * NSEC_PER_SEC));
    CHECK(__atomic_load_n(&scribbles, __ATOMIC_ACQUIRE) == 0);
    return TEST_RESULT();
}

DECLARE_INJECT(upcall_after_lookup);

SELFTEST(faildemo, cleanup_point_held, .min_vcpus = 2)
{
    struct counter ca = { 0 }, cb = { 0 };
    struct loopback lo;
    unsigned int k;

    PICK_CPUS(1, &k);
    REQUIRE(loopback_open(&lo, count_handler_util, &ca, count_handler_util,
                          &cb) == 0);
    REQUIRE(irq_set_affinity(lo.irq_a, k) == 0);
    inject_arm(&inject_upcall_after_lookup, lo.port_a);
    REQUIRE(evtchn_send(lo.port_b) == 0);
    REQUIRE(inject_wait_held(&inject_upcall_after_lookup, NSEC_PER_SEC));
    test_diag("vCPU%u held at upcall.after_lookup, its handler's counter "
              "in this frame", k);
    REQUIRE(1 + 1 == 3);        /* returns with k held, both irqs bound */
    return TEST_PASS;
}

SELFTEST(faildemo, cleanup_after_point, .min_vcpus = 2)
{
    struct counter ca = { 0 }, cb = { 0 };
    struct loopback lo;
    unsigned int k;

    PICK_CPUS(1, &k);
    CHECK(!__atomic_load_n(&inject_upcall_after_lookup.armed,
                           __ATOMIC_ACQUIRE));
    CHECK(!__atomic_load_n(&inject_upcall_after_lookup.held,
                           __ATOMIC_ACQUIRE));
    /* Events on vCPU k are handled again, once each. */
    REQUIRE(loopback_open(&lo, count_handler_util, &ca, count_handler_util,
                          &cb) == 0);
    mdelay(20);                         /* Xen's bind-time raise */
    ca.hits = 0;
    CHECK(irq_set_affinity(lo.irq_a, k) == 0);
    CHECK(evtchn_send(lo.port_b) == 0);
    CHECK(wait_hits(&ca, 1) && ca.last_cpu == k);
    loopback_close(&lo);
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * The consistency oracle (events/oracle.c) against state the kernel did
 * not make: each case binds a spare port, corrupts what Xen and the
 * kernel share about it, asks the oracle, and puts things back before it
 * fails, so nothing else is left wrong.
 */
static void nothing(int irq, void *data)
{
    (void)irq;
    (void)data;
}

static int bind_spare(evtchn_port_t *port)
{
    struct evt_action a = { .handler = nothing, .name = "oracle-demo" };
    int irq;

    if (evtchn_alloc_unbound(DOMID_SELF, port))
        return -1;
    irq = bind_evtchn(*port, &a);
    if (irq < 0)
        (void)evtchn_close(*port);
    return irq;
}

/* Masked behind its binding's back: no mask reason says so. */
SELFTEST(faildemo, oracle_mask)
{
    evtchn_port_t port;
    int irq = bind_spare(&port), bad;

    REQUIRE(irq >= 0);
    evtchn_port_mask(port);
    bad = evtchn_oracle_check();
    evtchn_port_unmask(port);
    unbind(irq);
    CHECK(bad == 0);
    return TEST_RESULT();
}

/* FIFO: pending and unmasked, but on no queue (the pending bit set in
 * the event word directly, as no Xen would leave it): nobody will ever
 * be told. */
SELFTEST(faildemo, oracle_stranded)
{
    evtchn_port_t port;
    int irq, bad;

    if (!evtchn_abi_is_fifo())
        SKIP("needs the FIFO event-channel ABI");
    irq = bind_spare(&port);
    REQUIRE(irq >= 0);
    evtchn_port_set_pending(port);
    bad = evtchn_oracle_check();
    (void)evtchn_port_clear_pending(port);
    unbind(irq);
    CHECK(bad == 0);
    return TEST_RESULT();
}
