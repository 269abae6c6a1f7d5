/*
 * The upcall watch (events/upcall_watch.c), end to end under Xen: a vCPU
 * made deaf the way a lost edge leaves it (upcall_pending set, no
 * interrupt raised) gets its vector raised again, the call queued to it
 * meanwhile completes, and the recovery is counted, as made on purpose.
 */
#include <xenith/selftest.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/x86.h>

#include "evtchn_util.h"

static void mark(void *arg)
{
    __atomic_store_n((int *)arg, 1, __ATOMIC_RELEASE);
}

static bool flag_within(const int *flag, uint64_t ns)
{
    uint64_t until = time_now_ns() + ns;

    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
        if (time_now_ns() > until)
            return false;
        else
            cpu_relax();
    return true;
}

/* Halted, and blocked in Xen: past its hlt, not just about to run it.
 * With the domain-wide callback Xen delivers on any entry of a vCPU
 * whose upcall_pending is set, so one still running would not go deaf. */
static bool blocked(unsigned int cpu)
{
    struct vcpu_runstate_info rs;

    return __atomic_load_n(&percpu_area[cpu].halted_since, __ATOMIC_ACQUIRE) &&
           hyp_vcpu_op(VCPUOP_get_runstate_info, cpu, &rs) == 0 &&
           rs.state == RUNSTATE_blocked;
}

static bool wait_halted(unsigned int cpu, uint64_t ns)
{
    uint64_t until = time_now_ns() + ns;

    while (!blocked(cpu))
        if (time_now_ns() > until)
            return false;
        else
            cpu_relax();
    return true;
}

SELFTEST(evtchn, deaf_vcpu_recovered)
{
    struct upcall_watch_stats w0, w;
    static int called;
    unsigned int t;

    PICK_CPUS(1, &t);
    /* Idle with its tick silenced, so that nothing wakes it: a tick's
     * upcall running as we make it deaf would clear what we set, and
     * our call would then come through on its own. */
    REQUIRE(quiet_tick_for_case(t) == 0);
    REQUIRE(wait_halted(t, test_bound_ns(NSEC_PER_SEC)));
    __atomic_store_n(&called, 0, __ATOMIC_RELAXED);
    upcall_watch_stats(&w0);
    upcall_watch_induce(t);
    REQUIRE(test_call_async(t, mark, &called) == 0);
    /* Deaf indeed: half the watch's second passes with the call unserved
     * (Xen saw upcall_pending already set and raised nothing). */
    if (flag_within(&called, 500 * NSEC_PER_MSEC))
        test_diag("vCPU%u took the call at once: it was not deaf (woken "
                  "as it was made so?)", t);
    CHECK(!__atomic_load_n(&called, __ATOMIC_ACQUIRE));
    if (!flag_within(&called, test_bound_ns(5 * NSEC_PER_SEC)))
        test_diag("vCPU%u never took the call: the watch did not recover "
                  "it", t);
    upcall_watch_stats(&w);
    CHECK(__atomic_load_n(&called, __ATOMIC_ACQUIRE));
    CHECK(w.induced.deaf == w0.induced.deaf + 1);
    if (w.lost.deaf != w0.lost.deaf)
        test_diag("%lu other vCPUs found deaf meanwhile (see the upcall "
                  "watch's lines above)",
                  (unsigned long)(w.lost.deaf - w0.lost.deaf));
    CHECK(w.lost.deaf == w0.lost.deaf);
    /* The recovery is judged at the next look after the upcall. */
    for (uint64_t until = time_now_ns() + test_bound_ns(NSEC_PER_SEC);
         w.induced.recovered == w0.induced.recovered && time_now_ns() < until;
         upcall_watch_stats(&w))
        cpu_relax();
    CHECK(w.induced.recovered == w0.induced.recovered + 1);
    CHECK(w.induced.unanswered == w0.induced.unanswered);
    return TEST_RESULT();
}
