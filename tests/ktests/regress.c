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
#include <xenith/pvlock.h>
#include <xenith/cpu.h>
#include <xenith/irq.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/x86.h>
#include <xenith/xen.h>

#include "evtchn_util.h"
#include "smp_util.h"
#include "spin_util.h"

DECLARE_INJECT(evtdev_handler);
DECLARE_INJECT(unbind_after_shutdown);
DECLARE_INJECT(pirq_shutdown_window);

#define HOLD_NS         test_bound_ns(NSEC_PER_SEC)
#define DEADLOCK_NS     test_bound_ns(2 * NSEC_PER_SEC)

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
 * Bug A (scenario 1): vCPU u unbinds a device port while vCPU h is inside
 * that port's handler (held by evtdev.handler, before the handler takes
 * the device's ring lock).  The unbind must wait for the handler and
 * then return; the historic unbind held the ring lock across
 * disable_irq, so the released handler spun on it forever.
 */
SELFTEST(regress, unbind_vs_handler, .min_vcpus = 3)
{
    struct evtdev_user *u;
    struct unbind_arg ua = { .rc = 1 };
    struct cpu_work w;
    evtchn_port_t got[2];
    unsigned int cpu[2];                /* h: in the handler; u: unbinds */
    long a, b;

    PICK_CPUS(2, cpu);
    u = ua.u = evtdev_open();
    REQUIRE(u != NULL);
    a = evtdev_bind_unbound_port(u, DOMID_SELF);
    b = a > 0 ? evtdev_bind_interdomain(u, DOMID_SELF, a) : -1;
    if (a <= 0 || b <= 0) {
        evtdev_release(u);
        REQUIRE(a > 0 && b > 0);
    }
    if (irq_set_affinity(evtdev_port_irq(u, a), cpu[0])) {
        evtdev_release(u);
        REQUIRE(!"irq_set_affinity(evtdev_port_irq(u, a), cpu[0]) == 0");
    }
    /* Xen raises a new interdomain port once at bind (in case the unbound
     * end missed an event): let that arrive and drop it. */
    mdelay(20);
    evtdev_reset(u);
    inject_arm(&inject_evtdev_handler, a);
    CHECK(evtdev_notify(u, b) == 0);
    if (!inject_wait_held(&inject_evtdev_handler, HOLD_NS)) {
        inject_disarm(&inject_evtdev_handler);
        evtdev_release(u);
        test_diag("vCPU%u never entered the handler of port %ld", cpu[0], a);
        return TEST_FAIL;
    }
    ua.port = a;
    if (test_work_queue(cpu[1], &w, evtdev_unbind_work, &ua)) {
        inject_release(&inject_evtdev_handler);
        evtdev_release(u);
        REQUIRE(!"test_work_queue(cpu[1], &w, evtdev_unbind_work, &ua) == 0");
    }
    mdelay(100);
    /* The handler is still running: unbind must still be waiting. */
    CHECK(!smp_work_done(&w));
    inject_release(&inject_evtdev_handler);
    if (!smp_work_wait(&w, DEADLOCK_NS)) {
        test_diag("deadlock (bug A): unbind on vCPU%u did not return within "
                  "%lu ms after the handler on vCPU%u was released", cpu[1],
                  DEADLOCK_NS / NSEC_PER_MSEC, cpu[0]);
        test_abort_run("the handler's and the unbinder's vCPUs are "
                       "deadlocked (bug A)");
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
 * Bug B: a port is being torn down on vCPU t, which is held (at point ip)
 * between the two steps of the teardown, "clear the mapping" and "close
 * the port".  In that window vCPU0 binds a new interdomain port to z.
 * Correct order (clear, then close): port p is still open, the new bind
 * gets another port.  Historic order (close, then clear): Xen hands p
 * straight to the new bind, and t's late clear wipes the new mapping,
 * so the new binding's events are lost.  Either way the new binding must
 * receive its events and the oracle must agree with Xen.
 */
struct window {
    struct inject_point *ip;
    evtchn_port_t p;            /* the port torn down */
    int irq;                    /* its irq, unbound by vCPU t */
    evtchn_port_t z;            /* an unbound port of ours */
    unsigned int cpu;           /* the vCPU tearing p down */
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
    if (test_work_queue(win->cpu, &w, unbind_irq_work, &win->irq)) {
        inject_disarm(win->ip);
        return false;
    }
    if (!inject_wait_held(win->ip, HOLD_NS)) {
        inject_disarm(win->ip);
        test_diag("vCPU%u never reached %s", win->cpu, win->ip->name);
        return smp_work_wait(&w, DEADLOCK_NS) && false;
    }
    /* The window: bind a new port while t is between the steps. */
    new_irq = bind_interdomain(DOMID_SELF, win->z, &na);
    q = new_irq >= 0 ? irq_to_port(new_irq) : 0;
    test_diag("vCPU%u is tearing down port %u (held at %s); the new bind "
              "got port %u%s", win->cpu, win->p, win->ip->name, q,
              q == win->p ? " (the port being torn down)" : "");
    inject_release(win->ip);
    if (!smp_work_wait(&w, DEADLOCK_NS)) {
        test_diag("the teardown on vCPU%u did not finish", win->cpu);
        test_abort_run("a vCPU is stuck in unbind");
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
static bool scenario_interdomain(evtchn_port_t z, unsigned int cpu)
{
    struct counter old_c = { 0 }, peer_c = { 0 };
    struct loopback lo;
    struct window win = { .ip = &inject_unbind_after_shutdown, .z = z,
                          .cpu = cpu };
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
static bool scenario_pirq(evtchn_port_t z, unsigned int cpu)
{
    struct counter c = { 0 };
    struct evt_action a = { .handler = count_handler_util, .data = &c,
                            .name = "pirq" };
    struct window win = { .ip = &inject_pirq_shutdown_window, .z = z,
                          .cpu = cpu };
    unsigned int pirq;

    win.irq = bind_test_pirq(&a, &pirq, "scenario 3 (PIRQ shutdown)");
    if (win.irq < 0)
        return !xen.is_dom0;            /* bind_test_pirq said why */
    win.p = irq_to_port(win.irq);
    return bind_in_window(&win);
}

SELFTEST(regress, close_after_unmap, .min_vcpus = 2)
{
    struct counter z_c = { 0 };
    struct evt_action za = { .handler = count_handler_util, .data = &z_c,
                             .name = "z" };
    evtchn_port_t z;
    unsigned int cpu;
    int z_irq;

    PICK_CPUS(1, &cpu);
    /* z: an unbound port of ours the new bindings connect to. */
    REQUIRE(evtchn_alloc_unbound(DOMID_SELF, &z) == 0);
    z_irq = bind_evtchn(z, &za);
    if (z_irq < 0) {
        (void)evtchn_close(z);
        REQUIRE(z_irq >= 0);
    }
    /* Both run even if the first fails: the mutant proof shows each. */
    CHECK(scenario_interdomain(z, cpu));        /* scenario 4 */
    CHECK(scenario_pirq(z, cpu));               /* scenario 3 */
    unbind(z_irq);
    return TEST_RESULT();
}

/*
 * Bug C (scenario 6): vCPU0 holds L.  vCPU c queues on L first and sleeps
 * in poll; vCPU b (b < c: picked lowest first) queues behind it,
 * interrupts on, and is interrupted: its handler spins on a flag that c
 * sets only once it has taken L.  The unlock must kick every waiter: c
 * then takes L and sets the flag, b's handler returns, and b takes L in
 * turn.  The historic unlock kicked only the first waiter it found (b,
 * the lowest), which was busy in its handler: c slept on a free lock
 * and neither vCPU
 * progressed.  Today a poll ends after half a second at most (a defence,
 * lock/pvlock.c): a kick that never came is then counted, and counted
 * here as the livelock it would have been.
 */
static spinlock_t kick_l = SPINLOCK_INIT;
static int kick_flag, kick_in_handler, kick_handler_saw_flag;

static void kick_handler(int irq, void *data)
{
    uint64_t until = time_now_ns() + 3 * NSEC_PER_SEC;     /* own bound */

    __atomic_store_n(&kick_in_handler, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&kick_flag, __ATOMIC_ACQUIRE) &&
           time_now_ns() < until)
        cpu_relax();
    kick_handler_saw_flag = __atomic_load_n(&kick_flag, __ATOMIC_ACQUIRE);
}

/* Under HVM any event for a vCPU ends its poll, so c's own 100 ms
 * tick would rescue it from a missed kick (a stall, not a livelock):
 * silence it, so that only a kick can wake c, as with the historic
 * PV guest polling with events masked. */
static void kick_c_work(void *arg)
{
    timer_quiet_self(true);
    spin_lock(&kick_l);
    __atomic_store_n(&kick_flag, 1, __ATOMIC_RELEASE);
    spin_unlock(&kick_l);
    timer_quiet_self(false);
}

static void kick_b_work(void *arg)
{
    spin_lock(&kick_l);                 /* interrupts on */
    spin_unlock(&kick_l);
}

SELFTEST(regress, kick_all_waiters, .min_vcpus = 3)
{
    struct evt_action a = { .handler = kick_handler, .name = "kick-test" };
    struct cpu_work wb, wc;
    uint64_t lost = spin_lost_kicks();
    unsigned int cpu[2], b, c;
    bool done;
    int irq;

    PICK_CPUS(2, cpu);
    b = cpu[0];                         /* the lower: the mutant kicks it */
    c = cpu[1];
    kick_flag = kick_in_handler = kick_handler_saw_flag = 0;
    irq = bind_ipi(IPI_TEST, b, &a);
    REQUIRE(irq >= 0);
    spin_threshold_set(16);
    test_defer(spin_threshold_restore, NULL);
    spin_lock(&kick_l);
    CHECK(test_work_queue(c, &wc, kick_c_work, NULL) == 0);
    CHECK(wait_until_waiting(c, &kick_l, test_bound_ns(NSEC_PER_SEC)));
    CHECK(test_work_queue(b, &wb, kick_b_work, NULL) == 0);
    CHECK(wait_until_waiting(b, &kick_l, test_bound_ns(NSEC_PER_SEC)));
    ipi_send(b, IPI_TEST);
    CHECK(wait_flag(&kick_in_handler));
    spin_unlock(&kick_l);

    done = smp_work_wait(&wc, DEADLOCK_NS);
    if (!done || spin_lost_kicks() != lost) {
        if (done)
            test_diag("livelock (bug C): L is free but vCPU%u slept unkicked "
                      "until its poll timed out, while vCPU%u spun in its "
                      "handler", c, b);
        else
            test_diag("livelock (bug C): L is free but vCPU%u slept %lu ms "
                      "unkicked while vCPU%u spun in its handler", c,
                      DEADLOCK_NS / NSEC_PER_MSEC, b);
        if (!done) {
            spin_kick(c);               /* recover: the kick it missed */
            CHECK(smp_work_wait(&wc, test_bound_ns(NSEC_PER_SEC)));
        }
        test_fail_at(__FILE__, __LINE__, "unlock did not kick every waiter");
    }
    CHECK(smp_work_wait(&wb, DEADLOCK_NS));
    CHECK(kick_handler_saw_flag);
    spin_threshold_set(pvlock_spin_default);
    unbind(irq);
    return TEST_RESULT();
}

/*
 * Bug D (scenarios 9 and 10), on picked vCPUs c < k < u (named vCPU1, 2
 * and 3 before).  9: vCPU k is brought back online; its timer
 * VIRQ, IPIs and kicker are bound in PREPARE, outside the allocation
 * lock (binding under it asserts: the historic guest bound them in the
 * locked step and deadlocked).  10: while c offlines k and holds
 * the allocation lock (held after moving irqs), u unbinds an
 * interdomain irq that targeted k: its final free must wait for the
 * lock, and afterwards the irq is gone, nothing leaked, nothing stale.
 */
DECLARE_INJECT(hotplug_after_move);

SELFTEST(regress, hotplug_alloc_lock, .min_vcpus = 4)
{
    struct counter hits = { 0 };
    struct cpu_down_arg da = { .rc = 1 };
    struct cpu_work wd, wu;
    struct loopback lo;
    unsigned int descs, cpu[3], c, k, u;
    int irq;

    PICK_CPUS(3, cpu);
    c = cpu[0];                         /* takes k down */
    k = cpu[1];                         /* goes down and up */
    u = cpu[2];                         /* unbinds meanwhile */
    da.cpu = k;
    /* Scenario 9. */
    REQUIRE(cpu_down(k) == 0);
    CHECK(cpu_online_again(k) == 0);
    CHECK(percpu_area[k].virq_to_irq[VIRQ_TIMER] >= 0 &&
          percpu_area[k].kicker_port != 0);

    /* Scenario 10. */
    REQUIRE(loopback_open(&lo, count_handler_util, &hits, count_handler_util,
                          &hits) == 0);
    CHECK(irq_set_affinity(lo.irq_a, k) == 0);
    irq = lo.irq_a;
    descs = irq_nr_allocated();
    inject_arm(&inject_hotplug_after_move, k);
    CHECK(test_work_queue(c, &wd, cpu_down_work, &da) == 0);
    if (!inject_wait_held(&inject_hotplug_after_move, HOLD_NS)) {
        inject_disarm(&inject_hotplug_after_move);
        test_diag("vCPU%u never reached hotplug.after_move", c);
    } else {
        CHECK(irq_target_cpu(irq_to_desc(irq)) == 0);   /* moved already */
        CHECK(test_work_queue(u, &wu, unbind_irq_work, &lo.irq_a) == 0);
        mdelay(100);
        /* The unbind is stuck at its final free, behind the lock. */
        CHECK(!smp_work_done(&wu));
        CHECK(irq_nr_allocated() == descs);
        inject_release(&inject_hotplug_after_move);
        CHECK(smp_work_wait(&wu, DEADLOCK_NS));
        lo.irq_a = -1;
    }
    if (!smp_work_wait(&wd, 3 * DEADLOCK_NS)) {
        test_diag("deadlock (bug D): the offline of vCPU%u did not finish",
                  k);
        test_abort_run("a vCPU is stuck in cpu_down");
        return TEST_FAIL;
    }
    CHECK(da.rc == 0);
    CHECK(irq_to_desc(irq) == NULL);
    CHECK(evtchn_oracle_check() == 0);
    CHECK(cpu_online_again(k) == 0);
    /* k's own irqs are back; the unbound one is gone for good. */
    CHECK(irq_nr_allocated() == descs - 1);
    loopback_close(&lo);
    return TEST_RESULT();
}

/*
 * Bug E (scenario 11).  vCPU e runs the late-EOI path of an irq and is
 * held there with info->lock taken; vCPU m calls set_affinity on the same
 * irq, takes desc->lock and waits for info->lock.  When e goes on it
 * reads the target with an atomic load and both finish.  The historic
 * path read the target under desc->lock: e waits for m, which waits
 * for e.  Then the two paths race freely for a while.
 */
DECLARE_INJECT(eoi_info_locked);

struct eoi_arg {
    int irq;
    int stop;                   /* atomic */
    unsigned int n;
};

static void eoi_once_work(void *arg)
{
    struct eoi_arg *e = arg;

    irq_eoi(e->irq);
}

static void eoi_loop_work(void *arg)
{
    struct eoi_arg *e = arg;

    while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE)) {
        irq_eoi(e->irq);
        e->n++;
    }
}

struct move_arg {
    int irq;
    unsigned int to, n;
    int rc;
};

static void move_work(void *arg)
{
    struct move_arg *m = arg;

    for (unsigned int i = 0; i < m->n; i++)
        m->rc |= irq_set_affinity(m->irq, i % 2 ? m->to : 0);
}

SELFTEST(regress, affinity_no_inversion, .min_vcpus = 3)
{
    struct counter c = { 0 };
    struct evt_action a = { .handler = count_handler_util, .data = &c,
                            .name = "late", .late_eoi = true };
    struct eoi_arg e = { 0 };
    struct move_arg m = { .n = 1 };
    struct cpu_work w1, w2;
    evtchn_port_t port;
    unsigned int cpu[2];                /* e: EOIs; m: moves */
    int irq;

    PICK_CPUS(2, cpu);
    m.to = cpu[0];
    REQUIRE(evtchn_alloc_unbound(DOMID_SELF, &port) == 0);
    irq = bind_evtchn(port, &a);
    if (irq < 0) {
        (void)evtchn_close(port);
        REQUIRE(irq >= 0);
    }
    e.irq = m.irq = irq;
    inject_arm(&inject_eoi_info_locked, port);
    CHECK(test_work_queue(cpu[0], &w1, eoi_once_work, &e) == 0);
    if (!inject_wait_held(&inject_eoi_info_locked, HOLD_NS)) {
        /* Without the hold there is no inversion to test: the race
         * below alone would pass on the historic path too. */
        inject_disarm(&inject_eoi_info_locked);
        test_diag("vCPU%u never reached eoi.info_locked: the EOI-vs-move "
                  "window (bug E) was not tested", cpu[0]);
        test_fail_at(__FILE__, __LINE__, "eoi.info_locked reached");
        CHECK(smp_work_wait(&w1, DEADLOCK_NS));
        unbind(irq);
        return TEST_FAIL;
    }
    CHECK(test_work_queue(cpu[1], &w2, move_work, &m) == 0);
    mdelay(50);                     /* m now waits for info->lock */
    inject_release(&inject_eoi_info_locked);
    if (!smp_work_wait(&w1, DEADLOCK_NS) ||
        !smp_work_wait(&w2, DEADLOCK_NS)) {
        test_diag("deadlock (bug E): the EOI on vCPU%u and set_affinity "
                  "on vCPU%u did not finish within %lu ms", cpu[0],
                  cpu[1], DEADLOCK_NS / NSEC_PER_MSEC);
        test_abort_run("two vCPUs are deadlocked (bug E)");
        return TEST_FAIL;
    }
    CHECK(m.rc == 0);

    /* The free race: EOIs on e against moves on m. */
    m = (struct move_arg){ .irq = irq, .to = cpu[0], .n = 100 };
    CHECK(test_work_queue(cpu[0], &w1, eoi_loop_work, &e) == 0);
    CHECK(test_work_queue(cpu[1], &w2, move_work, &m) == 0);
    if (!smp_work_wait(&w2, 4 * DEADLOCK_NS)) {
        test_diag("deadlock (bug E) while racing EOIs and moves");
        test_abort_run("vCPUs deadlocked (bug E)");
        return TEST_FAIL;
    }
    __atomic_store_n(&e.stop, 1, __ATOMIC_RELEASE);
    CHECK(smp_work_wait(&w1, DEADLOCK_NS));
    test_diag("%u EOIs raced 100 affinity moves", e.n);
    CHECK(m.rc == 0);
    CHECK(evtchn_oracle_check() == 0);
    unbind(irq);
    return TEST_RESULT();
}
