/*
 * regress.nested_upcall: an upcall delivered inside an upcall.  make
 * test saw one under QEMU TCG with upcall=callback: the platform put the
 * callback vector into a handle_edge that held a descriptor's lock, with
 * interrupts off, and the inner upcall spun on that lock for ever
 * (evtdev.release_under_storm, "cleanup stuck").  Here the delivery is
 * made on purpose, with a software interrupt (which ignores IF): a
 * handler on vCPU k makes port b, also on k, pending, then raises the
 * upcall vector itself.  The inner upcall must leave at once and be
 * counted; b's handler must run after a's has returned, exactly once,
 * never inside it.
 */
#include <xenith/selftest.h>
#include <xenith/events.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/traps.h>

#include "evtchn_util.h"
#include "smp_util.h"

struct nest {
    struct loopback a, b;
    int a_running;              /* atomic: a's handler in progress */
    int a_runs, b_runs, b_nested;
    unsigned int cpu;
};

static struct nest nest;

static void nest_b(int irq, void *data)
{
    (void)irq;
    (void)data;
    if (__atomic_load_n(&nest.a_running, __ATOMIC_ACQUIRE))
        nest.b_nested++;
    __atomic_fetch_add(&nest.b_runs, 1, __ATOMIC_RELEASE);
}

static void nest_a(int irq, void *data)
{
    struct percpu *pc = this_cpu();

    (void)irq;
    (void)data;
    __atomic_store_n(&nest.a_running, 1, __ATOMIC_RELEASE);
    nest.cpu = pc->cpu_id;
    (void)evtchn_send(nest.b.port_b);   /* b pending on this vCPU */
    pc->nesting_induced = true;
    __asm__ __volatile__("int %0" :: "i"(VEC_EVTCHN_UPCALL) : "memory");
    pc->nesting_induced = false;
    __atomic_store_n(&nest.a_running, 0, __ATOMIC_RELEASE);
    __atomic_fetch_add(&nest.a_runs, 1, __ATOMIC_RELEASE);
}

static void noop(int irq, void *data)
{
    (void)irq;
    (void)data;
}

SELFTEST(regress, nested_upcall, .min_vcpus = 2)
{
    unsigned int v[1], k;
    uint64_t induced0;
    bool ran;

    PICK_CPUS(1, v);
    k = v[0];
    memset(&nest, 0, sizeof(nest));
    induced0 = __atomic_load_n(&percpu_area[k].nested_induced,
                               __ATOMIC_RELAXED);
    REQUIRE(loopback_open(&nest.a, nest_a, NULL, noop, NULL) == 0);
    if (loopback_open(&nest.b, nest_b, NULL, noop, NULL)) {
        loopback_close(&nest.a);
        REQUIRE(!"loopback_open(&nest.b, ...) == 0");
    }
    CHECK(irq_set_affinity(nest.a.irq_a, k) == 0);
    CHECK(irq_set_affinity(nest.b.irq_a, k) == 0);
    CHECK(evtchn_send(nest.a.port_b) == 0);
    ran = wait_count_ns(&nest.b_runs, 1, test_bound_ns(NSEC_PER_SEC));
    mdelay(20);                         /* a second run would be in */
    if (!ran)
        test_diag("port %u, made pending on vCPU%u inside the handler of "
                  "port %u, was never handled", nest.b.port_a, k,
                  nest.a.port_a);
    CHECK(ran);
    CHECK(nest.a_runs == 1 && nest.cpu == k);
    if (nest.b_nested)
        test_diag("port %u's handler ran inside port %u's on vCPU%u: the "
                  "nested upcall ran its loop (mutant N)", nest.b.port_a,
                  nest.a.port_a, k);
    CHECK(nest.b_nested == 0);
    CHECK(nest.b_runs == 1);
    if (__atomic_load_n(&percpu_area[k].nested_induced, __ATOMIC_RELAXED) !=
        induced0 + 1)
        test_diag("the upcall raised inside an upcall on vCPU%u was not "
                  "seen as nested", k);
    CHECK(__atomic_load_n(&percpu_area[k].nested_induced, __ATOMIC_RELAXED) ==
          induced0 + 1);
    loopback_close(&nest.b);
    loopback_close(&nest.a);
    return TEST_RESULT();
}
