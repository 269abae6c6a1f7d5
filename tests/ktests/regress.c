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
DECLARE_INJECT(pirq_shutdown_window);

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

/*
 * Bug B: a port is being torn down on vCPU1, which is held (at point ip)
 * between the two steps of the teardown, "clear the mapping" and "close
 * the port".  In that window vCPU0 binds a new interdomain port to z.
 * Correct order (clear, then close): port p is still open, the new bind
 * gets another port.  Historic order (close, then clear): Xen hands p
 * straight to the new bind, and vCPU1's late clear wipes the new mapping,
 * so the new binding's events are lost.  Either way the new binding must
 * receive its events and the oracle must agree with Xen.
 */
struct window {
    struct inject_point *ip;
    evtchn_port_t p;            /* the port torn down */
    int irq;                    /* its irq, unbound by vCPU1 */
    evtchn_port_t z;            /* an unbound port of ours */
};

static bool bind_in_window(struct window *win)
{
    struct counter new_c = { 0 };
    struct evt_action na = { .handler = count_handler_util, .data = &new_c,
                             .name = "new" };
    struct cpu_work w;
    evtchn_port_t q;
    int new_irq, hits;
    bool ok = true;

    inject_arm(win->ip, win->p);
    if (smp_work_queue(1, &w, unbind_irq_work, &win->irq)) {
        inject_disarm(win->ip);
        return false;
    }
    if (!inject_wait_held(win->ip, HOLD_NS)) {
        inject_disarm(win->ip);
        test_diag("vCPU1 never reached %s", win->ip->name);
        return smp_work_wait(&w, DEADLOCK_NS) && false;
    }
    /* The window: bind a new port while vCPU1 is between the steps. */
    new_irq = bind_interdomain(DOMID_SELF, win->z, &na);
    q = new_irq >= 0 ? irq_to_port(new_irq) : 0;
    test_diag("vCPU1 is tearing down port %u (held at %s); the new bind got "
              "port %u%s", win->p, win->ip->name, q,
              q == win->p ? " (the port being torn down)" : "");
    inject_release(win->ip);
    if (!smp_work_wait(&w, DEADLOCK_NS)) {
        test_diag("the teardown on vCPU1 did not finish");
        test_abort_run("vCPU1 is stuck in unbind");
        return false;
    }
    if (new_irq < 0) {
        test_diag("bind_interdomain failed: %d", new_irq);
        return false;
    }

    /* The new binding must still receive its events (Xen raised it once
     * at bind already; let that one settle first). */
    mdelay(20);
    hits = __atomic_load_n(&new_c.hits, __ATOMIC_ACQUIRE);
    ok &= evtchn_send(win->z) == 0;
    if (!wait_hits(&new_c, hits + 1)) {
        test_diag("the event sent to port %u never reached its handler: "
                  "its mapping was wiped (bug B)", q);
        ok = false;
    }
    ok &= __atomic_load_n(&new_c.hits, __ATOMIC_ACQUIRE) == hits + 1;
    ok &= evtchn_oracle_check() == 0;
    unbind(new_irq);
    return ok;
}

/* Scenario 4: unbind of an interdomain port, held by
 * unbind.after_shutdown (handler drained, mapping not yet cleared). */
static bool scenario_interdomain(evtchn_port_t z)
{
    struct counter old_c = { 0 }, peer_c = { 0 };
    struct loopback lo;
    struct window win = { .ip = &inject_unbind_after_shutdown, .z = z };
    bool ok;

    if (loopback_open(&lo, count_handler_util, &old_c, count_handler_util,
                      &peer_c))
        return false;
    win.p = lo.port_a;
    win.irq = lo.irq_a;
    ok = bind_in_window(&win);
    lo.irq_a = -1;
    loopback_close(&lo);
    return ok;
}

/* Scenario 3: shutdown of a PIRQ (under desc->lock, no mapping lock),
 * held by pirq.shutdown_window between its clear and its close. */
static bool scenario_pirq(evtchn_port_t z)
{
    struct counter c = { 0 };
    struct evt_action a = { .handler = count_handler_util, .data = &c,
                            .name = "pirq" };
    struct window win = { .ip = &inject_pirq_shutdown_window, .z = z };
    unsigned int pirq;

    win.irq = bind_unrouted_pirq(&a, &pirq);
    if (win.irq < 0) {
        test_diag("scenario 3 not run: Xen binds no pirq for this domain "
                  "(%d)", win.irq);
        return true;
    }
    win.p = irq_to_port(win.irq);
    return bind_in_window(&win);
}

SELFTEST(regress, close_after_unmap, .min_vcpus = 2)
{
    struct counter z_c = { 0 };
    struct evt_action za = { .handler = count_handler_util, .data = &z_c,
                             .name = "z" };
    evtchn_port_t z;
    int z_irq;

    /* z: an unbound port of ours the new bindings connect to. */
    REQUIRE(evtchn_alloc_unbound(DOMID_SELF, &z) == 0);
    z_irq = bind_evtchn(z, &za);
    if (z_irq < 0) {
        (void)evtchn_close(z);
        REQUIRE(z_irq >= 0);
    }
    /* Both run even if the first fails: the mutant proof shows each. */
    CHECK(scenario_interdomain(z));     /* scenario 4 */
    CHECK(scenario_pirq(z));            /* scenario 3 */
    unbind(z_irq);
    return TEST_RESULT();
}
