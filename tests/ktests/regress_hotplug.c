/*
 * Hotplug races found by review (issue 12, section 2), each reproduced on
 * purpose: an injection point holds one vCPU at the racy step while
 * another runs the competing path.  The vCPUs are picked by role
 * (PICK_CPUS: offline= may have taken some down); work goes through the
 * runner's cleanup list, so on every exit path it is waited for, the
 * points are disarmed, the bounds a case shortened are restored and a
 * picked vCPU left down is brought back.
 */
#include <xenith/selftest.h>
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/x86.h>
#include <xen/errno.h>

#include "evtchn_util.h"
#include "smp_util.h"

DECLARE_INJECT(ap_before_online);
DECLARE_INJECT(kick_before_send);
DECLARE_INJECT(idle_before_die_check);
DECLARE_INJECT(hotplug_die_irqs_off);

#define HOLD_NS         test_bound_ns(2 * NSEC_PER_SEC)
/* Long enough for an offline or a failed online to run to its end when
 * nothing stops it (tens of ms under TCG). */
#define SETTLE_NS       (300 * NSEC_PER_MSEC)
/* The shortened bounds the give-up paths are reached with. */
#define SHORT_BOUND_NS  (200 * NSEC_PER_MSEC)

static void noop_work(void *arg)
{
}

/* test_defer actions: a shortened bound back to what the case saved,
 * however it ends (the next cases' ups and downs would give up early).
 * The saved values are static, not in the case's frame: the runner's
 * calls and interrupts between the case's return and its cleanup reuse
 * that stack (a bound read back from there came out wrong: at 8 vCPUs
 * every cpu_down after cancelled_down_quiet timed out at once). */
static uint64_t saved_up_bound, saved_down_bound;

static void restore_up_bound(void *unused)
{
    cpu_up_bound_ns = saved_up_bound;
}

static void restore_down_bound(void *unused)
{
    cpu_down_bound_ns = saved_down_bound;
}

/* Run the idle loop of cpu through a few passes: each work item is queued
 * after the previous one ran, so a whole pass lies between them.  A work
 * item still queued when this returns would point into its stack, which
 * the case reuses long before the runner's cleanup could take it back: if
 * one is that late, the run ends. */
static bool idle_passes(unsigned int cpu, int passes)
{
    struct cpu_work w;

    for (int i = 0; i < passes; i++) {
        if (test_work_queue(cpu, &w, noop_work, NULL))
            return false;
        if (smp_work_wait(&w, test_bound_ns(5 * NSEC_PER_SEC)))
            continue;
        test_diag("vCPU%u (%s, die_request %d) has not run work in 5 s",
                  cpu, cpu_state_name(cpu_state(cpu)),
                  __atomic_load_n(&percpu_area[cpu].die_request,
                                  __ATOMIC_ACQUIRE));
        if (!smp_work_wait(&w, test_bound_ns(10 * NSEC_PER_SEC)))
            test_abort_run("work queued on a vCPU that does not run it");
        return false;
    }
    return true;
}

static bool is_up(unsigned int cpu)
{
    return hyp_vcpu_op(VCPUOP_is_up, cpu, NULL) != 0;
}

/* ------------------------------------------------------------------------
 * 1. cpu_up gives up on a vCPU that arrives late.  vCPU k is held after
 * its start-up steps, just before it reports online (ap.before_online),
 * while vCPU d's cpu_up waits for it with a shortened bound and gives up.
 * Then k is let go.  k must never become online on its own: it must end
 * parked (VCPUOP_is_up says no), and its per-vCPU irqs must not be freed
 * while it may still run.  Before the fix, cpu_up unbound k's timer, IPIs
 * and kicker, marked it offline and returned while k was still starting;
 * k then marked itself online with no IPI port (the next IPI to it
 * panics), or ran on as an offline vCPU.
 */
struct up_arg {
    unsigned int cpu;
    int rc;
};

static void cpu_up_work(void *arg)
{
    struct up_arg *a = arg;

    a->rc = cpu_online_again(a->cpu);
}

SELFTEST(regress, up_timeout_late_vcpu, .min_vcpus = 3, .timeout_ms = 30000)
{
    unsigned int v[2], k, d;            /* k: arrives late; d: cpu_up */
    struct up_arg ua = { .rc = 1 };
    uint64_t saved = cpu_up_bound_ns, until;
    struct cpu_work w = { 0 };
    bool held, gave_up, early;

    PICK_CPUS(2, v);
    k = v[0];
    d = v[1];
    ua.cpu = k;
    REQUIRE(cpu_down(k) == 0);

    saved_up_bound = saved;
    cpu_up_bound_ns = SHORT_BOUND_NS;
    test_defer(restore_up_bound, NULL);
    inject_arm(&inject_ap_before_online, k);
    if (test_work_queue(d, &w, cpu_up_work, &ua)) {
        inject_disarm(&inject_ap_before_online);
        cpu_up_bound_ns = saved;
        CHECK(cpu_online_again(k) == 0);
        return TEST_FAIL;
    }
    held = inject_wait_held(&inject_ap_before_online, HOLD_NS);
    if (!held)
        test_diag("vCPU%u never reached ap.before_online", k);
    CHECK(held);
    /* The controller's bound passes with k held: it gives up. */
    until = time_now_ns() + HOLD_NS;
    while (cpu_state(k) == CPU_BOOTING && time_now_ns() < until)
        cpu_relax();
    gave_up = cpu_state(k) != CPU_BOOTING;
    CHECK(gave_up);
    /* Let a cpu_up that does not wait for k run to its end. */
    until = time_now_ns() + SETTLE_NS;
    while (!smp_work_done(&w) && time_now_ns() < until)
        cpu_relax();
    early = smp_work_done(&w);
    if (held && early)
        test_diag("cpu_up on vCPU%u returned %d while vCPU%u was still "
                  "starting; its call IPI irq is %d, its state %s", d, ua.rc,
                  k, percpu_area[k].ipi_to_irq[IPI_CALL],
                  cpu_state_name(cpu_state(k)));
    CHECK(!held || !early);
    CHECK(!held || percpu_area[k].ipi_to_irq[IPI_CALL] >= 0);

    inject_release(&inject_ap_before_online);
    if (!smp_work_wait(&w, 4 * HOLD_NS)) {
        cpu_up_bound_ns = saved;
        test_abort_run("cpu_up never returned after the late vCPU was let go");
        return TEST_FAIL;
    }
    cpu_up_bound_ns = saved;
    mdelay(50);                         /* what k does once let go */
    test_diag("cpu_up gave %d; vCPU%u is %s, VCPUOP_is_up %d", ua.rc, k,
              cpu_state_name(cpu_state(k)), is_up(k));
    CHECK(!held || ua.rc == -XEN_ETIMEDOUT);
    if (ua.rc && is_up(k)) {
        /* Not recoverable: k runs on with no timer, IPI or kicker port
         * (online: the next IPI to it panics; offline: nothing can take
         * it down again).  End the run here. */
        test_diag("vCPU%u runs (%s) after cpu_up gave up on it and "
                  "unbound its per-vCPU irqs (call IPI irq %d)", k,
                  cpu_state_name(cpu_state(k)),
                  percpu_area[k].ipi_to_irq[IPI_CALL]);
        test_abort_run("a vCPU runs with its per-vCPU irqs unbound");
        return TEST_FAIL;
    }
    if (ua.rc) {
        CHECK(cpu_state(k) == CPU_OFFLINE);
        CHECK(percpu_area[k].ipi_to_irq[IPI_CALL] == -1);
        CHECK(percpu_area[k].virq_to_irq[VIRQ_TIMER] == -1);
    }
    if (cpu_state(k) != CPU_ONLINE)
        CHECK(cpu_online_again(k) == 0);
    CHECK(vcpu_answers(k));
    CHECK(idle_passes(k, 2));
    CHECK(evtchn_oracle_check() == 0);
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * 2. smp_kick_idle against the unbind of the vCPU's call IPI.  vCPU c
 * runs smp_kick_idle (thread context, as the xenstore watch path does)
 * and is held after it read vCPU k's call port, before it sends
 * (kick.before_send); meanwhile vCPU d takes k offline, which unbinds k's
 * call IPI.  A loopback opened in that window takes the lowest free ports.
 * The kick must go to k's own port while that is still open: the offline
 * may not close it under the kicker.  Before the fix the offline ran to
 * its end, the port was closed (and reused by the loopback), and the kick
 * then went to the closed port or to the loopback; and the kicker had
 * read k's irq descriptor and irq_info with nothing stopping their free.
 */
struct kick_arg {
    unsigned int failed;
};

static void kick_work(void *arg)
{
    struct kick_arg *a = arg;

    a->failed = smp_kick_idle();
}

SELFTEST(regress, kick_idle_vs_unbind, .min_vcpus = 4, .timeout_ms = 30000)
{
    unsigned int v[3], k, c, d;         /* k: goes down; c: kicks; d: downs */
    struct kick_arg ka = { .failed = ~0u };
    struct cpu_down_arg da = { .rc = 1 };
    struct counter ca = { 0 }, cb = { 0 };
    struct cpu_work wk, wd;
    struct loopback lo;
    evtchn_port_t p;
    uint64_t until;
    bool early, lo_ok;
    int hits;

    PICK_CPUS(3, v);
    k = v[0];
    c = v[1];
    d = v[2];
    da.cpu = k;
    p = irq_to_port(percpu_area[k].ipi_to_irq[IPI_CALL]);
    REQUIRE(p != 0);

    inject_arm(&inject_kick_before_send, k);
    if (test_work_queue(c, &wk, kick_work, &ka)) {
        inject_disarm(&inject_kick_before_send);
        return TEST_FAIL;
    }
    if (!inject_wait_held(&inject_kick_before_send, HOLD_NS)) {
        inject_disarm(&inject_kick_before_send);
        test_diag("vCPU%u never reached kick.before_send", c);
        CHECK(smp_work_wait(&wk, HOLD_NS));
        return TEST_FAIL;
    }
    if (test_work_queue(d, &wd, cpu_down_work, &da)) {
        inject_release(&inject_kick_before_send);
        CHECK(smp_work_wait(&wk, HOLD_NS));
        return TEST_FAIL;
    }
    /* An offline that does not wait for the kicker ends in this time. */
    until = time_now_ns() + SETTLE_NS;
    while (!smp_work_done(&wd) && time_now_ns() < until)
        cpu_relax();
    early = smp_work_done(&wd);
    if (early)
        test_diag("vCPU%u's offline finished while vCPU%u was about to "
                  "kick its call port %u", k, c, p);
    CHECK(!early);
    lo_ok = loopback_open(&lo, count_handler_util, &ca, count_handler_util,
                          &cb) == 0;
    CHECK(lo_ok);
    if (lo_ok) {
        test_diag("loopback opened in the window: ports %u and %u (the "
                  "kicker holds port %u)", lo.port_a, lo.port_b, p);
        mdelay(20);                     /* Xen's bind-time raise */
    }
    hits = __atomic_load_n(&ca.hits, __ATOMIC_ACQUIRE) +
           __atomic_load_n(&cb.hits, __ATOMIC_ACQUIRE);
    inject_release(&inject_kick_before_send);
    CHECK(smp_work_wait(&wk, HOLD_NS));
    if (!smp_work_wait(&wd, test_bound_ns(8 * NSEC_PER_SEC))) {
        test_abort_run("the offline never finished after the kicker left");
        return TEST_FAIL;
    }
    CHECK(da.rc == 0);
    mdelay(20);
    if (ka.failed)
        test_diag("%u kicks were refused by Xen: sent to a closed port",
                  ka.failed);
    CHECK(ka.failed == 0);
    if (lo_ok) {
        int now = __atomic_load_n(&ca.hits, __ATOMIC_ACQUIRE) +
                  __atomic_load_n(&cb.hits, __ATOMIC_ACQUIRE);

        if (now != hits)
            test_diag("the kick meant for vCPU%u raised the loopback "
                      "(%d events): port %u was reused", k, now - hits, p);
        CHECK(now == hits);
        loopback_close(&lo);
    }
    if (cpu_state(k) == CPU_OFFLINE)
        CHECK(cpu_online_again(k) == 0);
    CHECK(vcpu_answers(k));
    CHECK(evtchn_oracle_check() == 0);
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * 3. A cancelled down.  vCPU k is held in its idle loop just before it
 * looks for a down request (idle.before_die_check) while cpu_down, with a
 * shortened bound, posts the request, waits and withdraws it.  Let go, k
 * must stay online and its idle loop quiet: no pass may take the die
 * path again.  Before the fix the request stayed at "cancelled", non-zero,
 * and every pass of k's idle loop went into cpu_die_self.
 */
SELFTEST(hotplug, cancelled_down_quiet, .min_vcpus = 2, .timeout_ms = 20000)
{
    uint64_t saved = cpu_down_bound_ns, entries;
    struct cpu_work w0;
    unsigned int k;
    int rc;

    PICK_CPUS(1, &k);
    inject_arm(&inject_idle_before_die_check, k);
    if (test_work_queue(k, &w0, noop_work, NULL)) {
        inject_disarm(&inject_idle_before_die_check);
        return TEST_FAIL;
    }
    if (!inject_wait_held(&inject_idle_before_die_check, HOLD_NS)) {
        inject_disarm(&inject_idle_before_die_check);
        test_diag("vCPU%u never reached idle.before_die_check", k);
        CHECK(smp_work_wait(&w0, HOLD_NS));
        return TEST_FAIL;
    }
    saved_down_bound = saved;
    cpu_down_bound_ns = SHORT_BOUND_NS;
    test_defer(restore_down_bound, NULL);
    rc = cpu_down(k);
    cpu_down_bound_ns = saved;
    entries = __atomic_load_n(&percpu_area[k].die_entries, __ATOMIC_ACQUIRE);
    inject_release(&inject_idle_before_die_check);
    CHECK(smp_work_wait(&w0, HOLD_NS));
    CHECK(rc == -XEN_ETIMEDOUT);
    if (rc == 0) {                      /* it went down after all */
        CHECK(cpu_online_again(k) == 0);
        return TEST_FAIL;
    }
    CHECK(cpu_state(k) == CPU_ONLINE);
    CHECK(idle_passes(k, 5));
    mdelay(20);
    entries = __atomic_load_n(&percpu_area[k].die_entries, __ATOMIC_ACQUIRE) -
              entries;
    if (entries)
        test_diag("after the cancelled down vCPU%u's idle loop entered "
                  "cpu_die_self %lu times; die_request %d", k,
                  (unsigned long)entries,
                  __atomic_load_n(&percpu_area[k].die_request,
                                  __ATOMIC_ACQUIRE));
    CHECK(entries == 0);
    CHECK(vcpu_answers(k));
    /* A later down is not disturbed by the cancelled one. */
    CHECK(cpu_down(k) == 0);
    CHECK(cpu_online_again(k) == 0);
    CHECK(vcpu_answers(k));
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * Scenario 15: an event raised on a vCPU while it comes up, after its
 * upcall vector is set and before it takes interrupts, is delivered once,
 * as soon as it does.  vCPU k is brought up by vCPU d and held at
 * ap.before_online (vector set, timer armed, interrupts off) while we
 * send its call IPI.  Once let go, k must handle that event in the first
 * upcall it takes: a later one would be a tick's rescan that found it by
 * chance (the tick would hide the loss, within 100 ms), none a loss.
 * And only once.
 */
SELFTEST(hotplug, event_before_online, .min_vcpus = 3, .timeout_ms = 30000)
{
    unsigned int v[2], k, d;
    struct up_arg ua = { .rc = 1 };
    struct cpu_work w = { 0 };
    uint64_t calls0, upcalls0, ticks0, until;
    struct percpu *pk;
    bool got;

    PICK_CPUS(2, v);
    k = v[0];
    d = v[1];
    pk = &percpu_area[k];
    ua.cpu = k;
    REQUIRE(cpu_down(k) == 0);
    inject_arm(&inject_ap_before_online, k);
    REQUIRE(test_work_queue(d, &w, cpu_up_work, &ua) == 0);
    if (!inject_wait_held(&inject_ap_before_online, HOLD_NS)) {
        test_diag("vCPU%u never reached ap.before_online", k);
        return TEST_FAIL;
    }
    calls0 = __atomic_load_n(&pk->call_ipis, __ATOMIC_ACQUIRE);
    upcalls0 = __atomic_load_n(&pk->upcalls, __ATOMIC_ACQUIRE);
    ticks0 = timer_ticks(k);
    REQUIRE(pk->call_port != 0);
    CHECK(evtchn_send(pk->call_port) == 0);
    inject_release(&inject_ap_before_online);

    until = time_now_ns() + HOLD_NS;
    while (!(got = __atomic_load_n(&pk->call_ipis, __ATOMIC_ACQUIRE) >
                   calls0) && time_now_ns() < until)
        cpu_relax();
    if (!got)
        test_diag("the event raised on vCPU%u while it came up was never "
                  "handled (scenario 15): port %u pending %d, masked %d", k,
                  pk->call_port, evtchn_port_pending(pk->call_port),
                  evtchn_port_masked(pk->call_port));
    else if (pk->call_ipi_upcall != upcalls0 + 1)
        test_diag("the event raised on vCPU%u while it came up waited for "
                  "its upcall #%lu, not its first (scenario 15): found by a "
                  "later rescan, not by its first upcall", k,
                  (unsigned long)(pk->call_ipi_upcall - upcalls0));
    CHECK(got);
    CHECK(!got || pk->call_ipi_upcall == upcalls0 + 1);
    CHECK(smp_work_wait(&w, 2 * HOLD_NS));
    CHECK(ua.rc == 0);
    /* Once: nothing more came by k's next tick. */
    until = time_now_ns() + HOLD_NS;
    while (timer_ticks(k) < ticks0 + 2 && time_now_ns() < until)
        cpu_relax();
    if (got && __atomic_load_n(&pk->call_ipis, __ATOMIC_ACQUIRE) != calls0 + 1)
        test_diag("vCPU%u handled the event %lu times", k,
                  (unsigned long)(pk->call_ipis - calls0));
    CHECK(!got || __atomic_load_n(&pk->call_ipis, __ATOMIC_ACQUIRE) ==
                  calls0 + 1);
    CHECK(vcpu_answers(k));
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * Found by torture (seed 1, 4 vCPUs, FIFO): an event on a per-vCPU port
 * that outlives its vCPU's DEAD step (an IPI or VIRQ someone else bound
 * there) must be delivered when the vCPU comes back.  vCPU k is held on
 * its way down, interrupts off, after its queues were drained; an
 * IPI_TEST bound to k is sent then, so Xen links it on k's queue, which
 * k will not consume again.  The DEAD step's drain takes it off and, the
 * port being k's, leaves it pending; Xen links a port only when it
 * becomes pending, so unless the return hands it back (events/fifo.c,
 * relink_owned) the event is never handled.  Under 2-level the pending
 * and selector bits wait in k's vcpu_info and must be found the same.
 */
struct parked {
    struct counter hits;
    struct cpu_down_arg down;
    struct cpu_work w;
};

SELFTEST(regress, per_vcpu_event_survives_down, .min_vcpus = 3,
         .timeout_ms = 30000)
{
    static struct parked st;
    struct evt_action a = { .handler = count_handler_util, .data = &st.hits,
                            .name = "parked" };
    unsigned int v[2], k, d;
    int irq;

    PICK_CPUS(2, v);
    k = v[0];
    d = v[1];
    memset(&st, 0, sizeof(st));
    st.down.cpu = k;
    irq = bind_ipi(IPI_TEST, k, &a);
    REQUIRE(irq >= 0);

    inject_arm(&inject_hotplug_die_irqs_off, k);
    if (test_work_queue(d, &st.w, cpu_down_work, &st.down) ||
        !inject_wait_held(&inject_hotplug_die_irqs_off, HOLD_NS)) {
        test_diag("vCPU%u never reached hotplug.die_irqs_off", k);
        unbind(irq);
        return TEST_FAIL;
    }
    CHECK(notify_remote_via_irq(irq) == 0);
    inject_release(&inject_hotplug_die_irqs_off);
    CHECK(smp_work_wait(&st.w, 2 * HOLD_NS));
    CHECK(st.down.rc == 0);
    CHECK(__atomic_load_n(&st.hits.hits, __ATOMIC_ACQUIRE) == 0);
    /* Parked on a vCPU that is down: not a disagreement. */
    CHECK(evtchn_oracle_check() == 0);

    CHECK(cpu_online_again(k) == 0);
    if (!wait_count_ns(&st.hits.hits, 1, HOLD_NS))
        test_diag("the IPI sent to vCPU%u as it went down was never handled "
                  "after it came back (port %u %s)", k, irq_to_port(irq),
                  evtchn_port_pending(irq_to_port(irq)) ? "still pending"
                                                        : "not pending");
    CHECK(__atomic_load_n(&st.hits.hits, __ATOMIC_ACQUIRE) == 1);
    CHECK(evtchn_oracle_check() == 0);
    unbind(irq);
    return TEST_RESULT();
}
