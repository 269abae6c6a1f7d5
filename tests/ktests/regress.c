/*
 * Regressions: each historic bug xenith is built around, reproduced on
 * purpose with injection points (../shared/design/seeds.md).  Each case
 * must pass here and FAIL on the matching mutant build (make mutants),
 * within the case's own bound: a deadlock is detected here, by the test,
 * not by a harness timeout.
 */
#include <xenith/selftest.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
#include <xenith/evtdev.h>
#include <xenith/inject.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/x86.h>

#include "evtchn_util.h"

DECLARE_INJECT(evtdev_handler);
DECLARE_INJECT(unbind_after_shutdown);

#define HOLD_NS         (NSEC_PER_SEC)
#define DEADLOCK_NS     (2 * NSEC_PER_SEC)

struct unbind_arg {
    struct evtdev_user *u;
    evtchn_port_t port;
    long rc;
};

static void evtdev_unbind_work(void *arg)
{
    struct unbind_arg *a = arg;

    a->rc = evtdev_unbind(a->u, a->port);
}

/*
 * Bug A (scenario 1): vCPU2 unbinds a device port while vCPU1 is inside
 * that port's handler (held by evtdev.handler, before the handler takes
 * the device's ring lock).  The unbind must wait for the handler and
 * then return; the historic unbind held the ring lock across
 * disable_irq, so the released handler spun on it forever.
 */
SELFTEST(regress, unbind_vs_handler, .min_vcpus = 3)
{
    struct evtdev_user *u = evtdev_open();
    struct unbind_arg ua = { .u = u, .rc = 1 };
    struct cpu_work w;
    evtchn_port_t got[2];
    long a, b;

    REQUIRE(u != NULL);
    a = evtdev_bind_unbound_port(u, DOMID_SELF);
    b = a > 0 ? evtdev_bind_interdomain(u, DOMID_SELF, a) : -1;
    if (a <= 0 || b <= 0) {
        evtdev_release(u);
        REQUIRE(a > 0 && b > 0);
    }
    REQUIRE(irq_set_affinity(evtdev_port_irq(u, a), 1) == 0);
    /* Xen raises a new interdomain port once at bind (in case the unbound
     * end missed an event): let that arrive and drop it. */
    mdelay(20);
    evtdev_reset(u);
    inject_arm(&inject_evtdev_handler, a);
    CHECK(evtdev_notify(u, b) == 0);
    if (!inject_wait_held(&inject_evtdev_handler, HOLD_NS)) {
        inject_disarm(&inject_evtdev_handler);
        evtdev_release(u);
        test_diag("vCPU1 never entered the handler of port %ld", a);
        return TEST_FAIL;
    }
    ua.port = a;
    REQUIRE(smp_work_queue(2, &w, evtdev_unbind_work, &ua) == 0);
    mdelay(100);
    /* The handler is still running: unbind must still be waiting. */
    CHECK(!smp_work_done(&w));
    inject_release(&inject_evtdev_handler);
    if (!smp_work_wait(&w, DEADLOCK_NS)) {
        test_diag("deadlock (bug A): unbind on vCPU2 did not return within "
                  "%lu ms after the handler on vCPU1 was released",
                  DEADLOCK_NS / NSEC_PER_MSEC);
        test_abort_run("vCPU1 and vCPU2 are deadlocked (bug A)");
        return TEST_FAIL;
    }
    CHECK(ua.rc == 0);
    /* The handler finished with a live record and queued its port. */
    {
        long n = evtdev_read(u, got, 2);
        if (n != 1 || got[0] != (evtchn_port_t)a)
            test_diag("read gave %ld (first %u), wanted port %ld", n,
                      n > 0 ? got[0] : 0, a);
        CHECK(n == 1 && got[0] == (evtchn_port_t)a);
    }
    evtdev_release(u);
    return TEST_RESULT();
}

static void unbind_work(void *arg)
{
    unbind(*(int *)arg);
}

/*
 * Bug B (scenarios 3 and 4): vCPU1 tears down port p and is held between
 * the shutdown (mask, drain) and the mapping cleanup.  Meanwhile we bind
 * a new interdomain port.  Correct order: p is still open, the new bind
 * gets another port.  Historic order (close in shutdown, clear later):
 * Xen hands p straight to our bind, and vCPU1's late clear wipes our new
 * mapping; the new binding's events are lost.  Either way the new binding
 * must receive its events and the oracle must agree with Xen.
 */
SELFTEST(regress, close_after_unmap, .min_vcpus = 2)
{
    struct counter old_c = { 0 }, peer_c = { 0 }, new_c = { 0 }, z_c = { 0 };
    struct evt_action na = { .handler = count_handler_util, .data = &new_c,
                             .name = "new" };
    struct evt_action za = { .handler = count_handler_util, .data = &z_c,
                             .name = "z" };
    struct loopback lo;
    struct cpu_work w;
    evtchn_port_t p, z, q;
    int z_irq, new_irq, hits;

    /* z: an unbound port of ours the new binding will connect to. */
    REQUIRE(evtchn_alloc_unbound(DOMID_SELF, &z) == 0);
    z_irq = bind_evtchn(z, &za);
    if (z_irq < 0) {
        (void)evtchn_close(z);
        REQUIRE(z_irq >= 0);
    }
    if (loopback_open(&lo, count_handler_util, &old_c, count_handler_util,
                      &peer_c)) {
        unbind(z_irq);
        REQUIRE(false);
    }
    p = lo.port_a;

    inject_arm(&inject_unbind_after_shutdown, p);
    REQUIRE(smp_work_queue(1, &w, unbind_work, &lo.irq_a) == 0);
    if (!inject_wait_held(&inject_unbind_after_shutdown, HOLD_NS)) {
        inject_disarm(&inject_unbind_after_shutdown);
        CHECK(smp_work_wait(&w, DEADLOCK_NS));
        test_diag("vCPU1 never reached unbind.after_shutdown");
        return TEST_FAIL;
    }
    /* The window: bind a new port while vCPU1 is between the steps. */
    new_irq = bind_interdomain(DOMID_SELF, z, &na);
    q = new_irq >= 0 ? irq_to_port(new_irq) : 0;
    test_diag("vCPU1 is tearing down port %u; the new bind got port %u%s", p,
              q, q == p ? " (the port being torn down)" : "");
    inject_release(&inject_unbind_after_shutdown);
    CHECK(smp_work_wait(&w, DEADLOCK_NS));
    lo.irq_a = -1;
    REQUIRE(new_irq >= 0);

    /* The new binding must still receive its events (Xen raised it once
     * at bind already; let that one settle first). */
    mdelay(20);
    hits = __atomic_load_n(&new_c.hits, __ATOMIC_ACQUIRE);
    CHECK(evtchn_send(z) == 0);
    if (!wait_hits(&new_c, hits + 1))
        test_diag("the event sent to port %u never reached its handler: "
                  "its mapping was wiped (bug B)", q);
    CHECK(new_c.hits == hits + 1);
    CHECK(evtchn_oracle_check() == 0);

    unbind(new_irq);
    loopback_close(&lo);
    unbind(z_irq);
    return TEST_RESULT();
}
