/*
 * vCPU hotplug (kernel/cpu_hotplug.c): offline and online at run time,
 * irqs following a dying vCPU, its per-vCPU irqs unbound in DEAD and
 * bound again in PREPARE, and pv-spinlock kickers of dying vCPUs
 * (concurrency.md scenario 17).  Every case brings back what it took
 * down; the runner's leak checks then find every port and descriptor
 * where it was.
 */
#include <xenith/selftest.h>
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/percpu.h>
#include <xenith/pvlock.h>
#include <xenith/smp.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/x86.h>
#include <xen/errno.h>

#include "evtchn_util.h"
#include "smp_util.h"
#include "spin_util.h"

static void nothing(void *arg)
{
}

SELFTEST(hotplug, offline_online_each, .min_vcpus = 2)
{
    unsigned int n = smp_nr_vcpus(), me = smp_processor_id();

    for (unsigned int cpu = 1; cpu < smp_domain_vcpus(); cpu++) {
        if (cpu == me || !cpu_online(cpu))
            continue;
        CHECK(cpu_down(cpu) == 0);
        CHECK(cpu_state(cpu) == CPU_OFFLINE);
        CHECK(hyp_vcpu_op(VCPUOP_is_up, cpu, NULL) == 0);
        CHECK(smp_nr_vcpus() == n - 1);
        CHECK(smp_call_on(cpu, nothing, NULL, true) == -XEN_EINVAL);
        CHECK(cpu_down(cpu) == -XEN_EINVAL);    /* already offline */
        CHECK(cpu_online_again(cpu) == 0);
        CHECK(cpu_online(cpu) && smp_nr_vcpus() == n);
        CHECK(vcpu_answers(cpu));
    }
    CHECK(cpu_down(0) == -XEN_EINVAL);
    CHECK(cpu_down(me) != 0);
    return TEST_RESULT();
}

SELFTEST(hotplug, cycle_100, .min_vcpus = 2, .timeout_ms = 60000)
{
    unsigned int cpu;
    uint64_t t0;
    int i;

    PICK_CPUS(1, &cpu);
    t0 = time_now_ns();
    for (i = 0; i < 100 && !test_failed(); i++) {
        CHECK(cpu_down(cpu) == 0);
        CHECK(cpu_online_again(cpu) == 0);
    }
    CHECK(vcpu_answers(cpu));
    test_diag("%d offline+online cycles of vCPU%u, %lu us each", i, cpu,
              (unsigned long)((time_now_ns() - t0) / 1000 / (i ? i : 1)));
    return TEST_RESULT();
}

/* An interdomain irq on vCPU k moves to vCPU0 when k goes down and keeps
 * delivering there; after k is back it can move to k again. */
SELFTEST(hotplug, irqs_follow, .min_vcpus = 2)
{
    struct counter c = { 0 };
    unsigned int k;
    struct loopback lo;

    PICK_CPUS(1, &k);
    REQUIRE(loopback_open(&lo, count_handler_util, &c, count_handler_util,
                          &c) == 0);
    mdelay(20);                         /* Xen's bind-time raise */
    c.hits = 0;
    CHECK(irq_set_affinity(lo.irq_a, k) == 0);
    CHECK(evtchn_send(lo.port_b) == 0);
    CHECK(wait_hits(&c, 1) && c.last_cpu == k);

    CHECK(cpu_down(k) == 0);
    CHECK(irq_target_cpu(irq_to_desc(lo.irq_a)) == 0);
    CHECK(irq_set_affinity(lo.irq_a, k) == -XEN_EINVAL);  /* k is dead */
    CHECK(evtchn_send(lo.port_b) == 0);
    CHECK(wait_hits(&c, 2) && c.last_cpu == 0);
    CHECK(evtchn_oracle_check() == 0);

    CHECK(cpu_online_again(k) == 0);
    CHECK(irq_set_affinity(lo.irq_a, k) == 0);
    CHECK(evtchn_send(lo.port_b) == 0);
    CHECK(wait_hits(&c, 3) && c.last_cpu == k);
    loopback_close(&lo);
    return TEST_RESULT();
}

/* DEAD unbinds k's timer VIRQ, IPIs and kicker (their ports close in
 * Xen); PREPARE binds new ones, and they work. */
SELFTEST(hotplug, per_vcpu_irqs_rebound, .min_vcpus = 2)
{
    unsigned int k;
    struct percpu *pc;
    evtchn_port_t timer_p, call_p, kick_p;
    struct evtchn_status st;
    uint64_t ticks;

    PICK_CPUS(1, &k);
    pc = &percpu_area[k];
    timer_p = irq_to_port(pc->virq_to_irq[VIRQ_TIMER]);
    call_p = irq_to_port(pc->ipi_to_irq[IPI_CALL]);
    kick_p = pc->kicker_port;
    REQUIRE(timer_p && call_p && kick_p);
    CHECK(cpu_down(k) == 0);
    CHECK(pc->virq_to_irq[VIRQ_TIMER] == -1);
    CHECK(pc->ipi_to_irq[IPI_CALL] == -1 && pc->ipi_to_irq[IPI_KICK] == -1);
    CHECK(pc->kicker_port == 0);
    CHECK(evtchn_port_status(timer_p, &st) == 0 &&
          st.status == EVTCHNSTAT_closed);
    CHECK(evtchn_port_status(call_p, &st) == 0 &&
          st.status == EVTCHNSTAT_closed);
    CHECK(evtchn_port_status(kick_p, &st) == 0 &&
          st.status == EVTCHNSTAT_closed);
    CHECK(evtchn_oracle_check() == 0);

    CHECK(cpu_online_again(k) == 0);
    CHECK(pc->virq_to_irq[VIRQ_TIMER] >= 0 && pc->ipi_to_irq[IPI_CALL] >= 0);
    CHECK(pc->kicker_port != 0);
    ticks = timer_ticks(k);             /* its tick runs again */
    for (uint64_t until = time_now_ns() + test_bound_ns(NSEC_PER_SEC);
         timer_ticks(k) == ticks && time_now_ns() < until;)
        cpu_relax();
    CHECK(timer_ticks(k) > ticks);
    CHECK(vcpu_answers(k));             /* its call IPI works */
    CHECK(evtchn_oracle_check() == 0);
    return TEST_RESULT();
}

/*
 * Scenario 17, in three parts.
 *
 * One: a vCPU being offlined is asleep in a lock's slow path; the
 * offline waits for it (its die request runs from its idle loop), the
 * unlock kicks it, and both finish.  The waiter sleeps with its tick
 * quiet: any event ends a poll, and its tick would have woken it within
 * 100 ms, kicked or not.  The unlock must have chosen to kick it, and no
 * kick may have been lost (a poll that ran out its bound on a lock
 * already the waiter's).
 *
 * Two, the window: an unlock on vCPU c has chosen to kick vCPU k and
 * not yet read k's kicker (held at pvlock.before_kick) when k goes down.
 * DEAD clears k's kicker and must wait for that unlock before it closes
 * the port; the unlock, released, must then skip k (dead: no kicker) and
 * send nothing, to an open port or a closed one.  vCPU0 runs cpu_down
 * itself, so a timer on vCPU0 watches DEAD and releases the unlock.
 *
 * Three: vCPU k is taken down and up again and again while two other
 * vCPUs hand a lock to and fro through the slow path, and k contends too
 * while it is up.  No kick may go to a closed port (a send that fails is
 * counted).
 */
static spinlock_t dead_l = SPINLOCK_INIT;

static void lock_once_work(void *arg)
{
    timer_quiet_self(true);
    spin_lock(&dead_l);
    spin_unlock(&dead_l);
    timer_quiet_self(false);
}

DECLARE_INJECT(pvlock_before_kick);

struct kick_window {
    unsigned int k;
    evtchn_port_t port;         /* k's kicker before it went down */
    int holding, go;            /* atomic: the unlocker's steps */
    struct timer watch;
    struct cpu_work wc, wk;     /* here, not in a frame the case leaves */
    uint64_t until, dead_at;
    /* The watch's verdict (atomic): 0 still watching; 1 DEAD cleared the
     * kicker and kept the port open while the unlock was held; 2 the
     * kicker was closed, or k went offline, with the unlock still held;
     * 3 k never got that far in time (still ONLINE: not begun yet). */
    int verdict;
};

static struct kick_window kw;

#define WATCH_EVERY_NS (5 * NSEC_PER_MSEC)
/* DEAD must still be waiting this long after it cleared the kicker. */
#define WATCH_HOLD_NS (50 * NSEC_PER_MSEC)

static bool kicker_open(evtchn_port_t port)
{
    struct evtchn_status st;

    return evtchn_port_status(port, &st) == 0 &&
           st.status == EVTCHNSTAT_ipi;
}

/* Timer on vCPU0, while vCPU0 is in cpu_down(k). */
static void window_watch(struct timer *t)
{
    struct kick_window *w = t->data;
    enum cpu_state st = cpu_state(w->k);
    uint64_t now = time_now_ns();
    int verdict = 0;

    if (st == CPU_DEAD && !__atomic_load_n(&percpu_area[w->k].kicker_port,
                                           __ATOMIC_ACQUIRE)) {
        if (!kicker_open(w->port))
            verdict = 2;
        else if (!w->dead_at)
            w->dead_at = now;
        else if (now - w->dead_at >= WATCH_HOLD_NS)
            verdict = 1;
    } else if (st == CPU_OFFLINE) {
        /* cpu_down ran to the end.  ONLINE is not that: cpu_down has not
         * begun (this timer is armed just before it, and a vCPU0 that
         * Xen preempts there may fire it first: read as the end, that
         * failed 1 make test in 5) or it failed; wait for the bound. */
        verdict = 2;
    } else if (now > w->until) {
        verdict = 3;
    }
    if (!verdict) {
        timer_arm(t, WATCH_EVERY_NS);
        return;
    }
    __atomic_store_n(&w->verdict, verdict, __ATOMIC_RELEASE);
    inject_release(&inject_pvlock_before_kick);
}

static void cancel_watch(void *arg)
{
    (void)timer_cancel(&kw.watch);
}

/* On c: hold dead_l until told, then release it (the kick loop stops at
 * the point on its way to k). */
static void hold_unlock_work(void *arg)
{
    struct kick_window *w = arg;
    uint64_t until = time_now_ns() + test_bound_ns(5 * NSEC_PER_SEC);

    spin_lock(&dead_l);
    __atomic_store_n(&w->holding, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&w->go, __ATOMIC_ACQUIRE) && time_now_ns() < until)
        cpu_relax();
    spin_unlock(&dead_l);
}

/* Part two; c and k online, k's kicker bound, dead_l free. */
static void kick_window(unsigned int c, unsigned int k)
{
    struct cpu_work *wc = &kw.wc, *wk = &kw.wk;
    uint64_t sent, errs;
    int rc;

    kw = (struct kick_window){ .k = k };
    if (test_work_queue(c, wc, hold_unlock_work, &kw)) {
        test_fail_at(__FILE__, __LINE__, "test_work_queue(c) failed");
        return;
    }
    if (!wait_flag(&kw.holding)) {
        test_fail_at(__FILE__, __LINE__, "vCPU c never took the lock");
        return;
    }
    CHECK(test_work_queue(k, wk, lock_once_work, NULL) == 0);
    CHECK(wait_until_waiting(k, &dead_l, test_bound_ns(NSEC_PER_SEC)));
    kw.port = __atomic_load_n(&percpu_area[k].kicker_port, __ATOMIC_ACQUIRE);
    sent = percpu_area[c].pv_kicks_sent;
    errs = spin_kick_errors();
    inject_arm(&inject_pvlock_before_kick, k);
    __atomic_store_n(&kw.go, 1, __ATOMIC_RELEASE);
    if (!inject_wait_held(&inject_pvlock_before_kick,
                          test_bound_ns(NSEC_PER_SEC))) {
        test_fail_at(__FILE__, __LINE__, "the unlock never chose to kick k");
        return;
    }
    /* The lock is free, k's kick is held: wake k ourselves (another
     * event would too) so that it finishes and can go down. */
    spin_kick(k);
    CHECK(smp_work_wait(wk, test_bound_ns(NSEC_PER_SEC)));
    kw.until = time_now_ns() + 3 * NSEC_PER_SEC;  /* < the point's 5 s */
    kw.watch = (struct timer){ .fn = window_watch, .data = &kw };
    test_defer(cancel_watch, NULL);
    timer_arm(&kw.watch, WATCH_EVERY_NS);
    rc = cpu_down(k);
    CHECK(rc == 0);
    CHECK(smp_work_wait(wc, test_bound_ns(NSEC_PER_SEC)));
    CHECK(!inject_pvlock_before_kick.timed_out);
    switch (__atomic_load_n(&kw.verdict, __ATOMIC_ACQUIRE)) {
    case 1:
        test_diag("DEAD of vCPU%u cleared its kicker and kept port %u open "
                  "while vCPU%u's unlock was held about to kick it", k,
                  kw.port, c);
        break;
    case 2:
        test_diag("DEAD closed vCPU%u's kicker (port %u) while an unlock on "
                  "vCPU%u was about to kick it (scenario 17)", k, kw.port, c);
        test_fail_at(__FILE__, __LINE__, "DEAD did not wait for the unlock");
        break;
    default:
        test_diag("vCPU%u never reached DEAD with its kicker cleared",
                  k);
        test_fail_at(__FILE__, __LINE__, "no DEAD in the window");
    }
    if (percpu_area[c].pv_kicks_sent != sent ||
        spin_kick_errors() != errs) {
        test_diag("the unlock on vCPU%u kicked dead vCPU%u: %lu sent, %lu "
                  "failed (a send to an unbound port, scenario 17)", c, k,
                  (unsigned long)(percpu_area[c].pv_kicks_sent - sent),
                  (unsigned long)(spin_kick_errors() - errs));
        test_fail_at(__FILE__, __LINE__, "dead vCPU not skipped");
    }
    CHECK(cpu_online_again(k) == 0);
}

struct churn {
    spinlock_t lock;
    int stop;                   /* atomic */
    unsigned long turns;
};

static void churn_work(void *arg)
{
    struct churn *c = arg;
    unsigned int me = smp_processor_id();

    /* A vCPU on its way down stops contending, or it could not park. */
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE) &&
           cpu_state(me) == CPU_ONLINE) {
        spin_lock(&c->lock);
        c->turns++;
        spin_unlock(&c->lock);
    }
}

SELFTEST(hotplug, kicker_on_dead_vcpu, .min_vcpus = 3, .timeout_ms = 60000)
{
    static struct churn ch;
    unsigned int cpu[2], c, k, me = smp_processor_id();
    struct cpu_down_arg da = { .rc = 1 };
    struct cpu_work wl, wd, w1, wk;
    uint64_t errs = spin_kick_errors(), lost = spin_lost_kicks(), kicks;

    PICK_CPUS(2, cpu);
    c = cpu[0];                         /* controller, then unlocker */
    k = cpu[1];                         /* goes down */
    da.cpu = k;
    /* Part one: the waiter on a dying vCPU. */
    spin_threshold_set(16);
    test_defer(spin_threshold_restore, NULL);
    test_defer(tick_restore, (void *)(uintptr_t)k);
    spin_lock(&dead_l);
    if (test_work_queue(k, &wl, lock_once_work, NULL)) {
        spin_unlock(&dead_l);
        REQUIRE(!"test_work_queue(k, &wl, lock_once_work, NULL) == 0");
    }
    CHECK(wait_until_waiting(k, &dead_l, test_bound_ns(NSEC_PER_SEC)));
    CHECK(test_work_queue(c, &wd, cpu_down_work, &da) == 0);
    while (cpu_state(k) == CPU_ONLINE)
        cpu_relax();
    mdelay(50);
    CHECK(cpu_state(k) == CPU_DYING);   /* waiting for the waiter */
    kicks = spin_kicks_given(me);
    spin_unlock(&dead_l);
    if (spin_kicks_given(me) != kicks + 1) {
        test_diag("the unlock did not kick vCPU%u, asleep on the lock while "
                  "going down (scenario 17)", k);
        test_fail_at(__FILE__, __LINE__, "dying waiter not kicked");
    }
    CHECK(smp_work_wait(&wl, test_bound_ns(2 * NSEC_PER_SEC)));
    CHECK(smp_work_wait(&wd, test_bound_ns(8 * NSEC_PER_SEC)) && da.rc == 0);
    if (spin_lost_kicks() != lost) {
        test_diag("vCPU%u, going down, slept on the free lock until its poll "
                  "timed out: its kick was lost", k);
        test_fail_at(__FILE__, __LINE__, "dying waiter's kick lost");
    }
    CHECK(cpu_state(k) == CPU_OFFLINE);
    CHECK(cpu_online_again(k) == 0);

    /* Part two: the window between choosing k and reading its kicker. */
    kick_window(c, k);
    if (test_failed())
        return TEST_FAIL;

    /* Part three: churn. */
    spin_threshold_set(0);
    ch = (struct churn){ .lock = SPINLOCK_INIT };
    CHECK(test_work_queue(c, &w1, churn_work, &ch) == 0);
    for (int i = 0; i < 20 && !test_failed(); i++) {
        CHECK(test_work_queue(k, &wk, churn_work, &ch) == 0);
        for (int j = 0; j < 200; j++) {
            spin_lock(&ch.lock);
            ch.turns++;
            spin_unlock(&ch.lock);
        }
        CHECK(cpu_down(k) == 0);
        CHECK(smp_work_done(&wk));
        CHECK(cpu_online_again(k) == 0);
    }
    __atomic_store_n(&ch.stop, 1, __ATOMIC_RELEASE);
    CHECK(smp_work_wait(&w1, test_bound_ns(2 * NSEC_PER_SEC)));
    spin_threshold_set(pvlock_spin_default);
    test_diag("%lu hand-offs while vCPU%u went down and up 20 times", ch.turns,
              k);
    CHECK(spin_kick_errors() == errs);
    CHECK(evtchn_oracle_check() == 0);
    return TEST_RESULT();
}

/*
 * Work queued to a vCPU just before it is asked to go down must run, on
 * it, before it parks: whoever queued it waits for it.  The window: the
 * idle loop has run its work and not yet seen the down request; vCPU k is
 * held there (idle.before_die_check) while work is queued and vCPU1's
 * cpu_down posts the request.  Before the fix, k went down with the work
 * still queued, cpu_down returned 0, and the work ran only when k came
 * back (seen once in make test, with k preempted for the whole window).
 */
static int queued_ran_on = -1;          /* atomic */

static void note_cpu_work(void *arg)
{
    __atomic_store_n(&queued_ran_on, (int)smp_processor_id(),
                     __ATOMIC_RELEASE);
}

static void noop_work(void *arg)
{
}

DECLARE_INJECT(idle_before_die_check);

SELFTEST(hotplug, work_queued_before_down, .min_vcpus = 3,
         .timeout_ms = 30000)
{
    unsigned int cpu[2], c, k;          /* c: controller; k: goes down */
    struct cpu_down_arg da = { .rc = 1 };
    struct cpu_work w0, wq, wd;
    uint64_t until;

    PICK_CPUS(2, cpu);
    c = cpu[0];
    k = cpu[1];
    da.cpu = k;
    __atomic_store_n(&queued_ran_on, -1, __ATOMIC_RELAXED);
    inject_arm(&inject_idle_before_die_check, k);
    /* Through its idle loop once more: work, then the point. */
    REQUIRE(test_work_queue(k, &w0, noop_work, NULL) == 0);
    if (!inject_wait_held(&inject_idle_before_die_check, test_bound_ns(2 * NSEC_PER_SEC))) {
        inject_disarm(&inject_idle_before_die_check);
        CHECK(smp_work_wait(&w0, test_bound_ns(NSEC_PER_SEC)));
        return TEST_FAIL;
    }
    CHECK(test_work_queue(k, &wq, note_cpu_work, NULL) == 0);
    CHECK(test_work_queue(c, &wd, cpu_down_work, &da) == 0);
    until = time_now_ns() + 2 * NSEC_PER_SEC;
    while (__atomic_load_n(&percpu_area[k].die_request, __ATOMIC_ACQUIRE) == 0 &&
           time_now_ns() < until)
        cpu_relax();
    CHECK(cpu_state(k) == CPU_DYING);
    inject_release(&inject_idle_before_die_check);
    CHECK(smp_work_wait(&wd, test_bound_ns(8 * NSEC_PER_SEC)) && da.rc == 0);
    /* Done when cpu_down returned, and done on k itself. */
    CHECK(smp_work_done(&wq));
    CHECK(__atomic_load_n(&queued_ran_on, __ATOMIC_ACQUIRE) == (int)k);
    CHECK(cpu_state(k) == CPU_OFFLINE);
    CHECK(cpu_online_again(k) == 0);
    /* After a failure the work may run only now: wait, wq is ours. */
    CHECK(smp_work_wait(&wq, test_bound_ns(2 * NSEC_PER_SEC)));
    CHECK(smp_work_done(&w0));
    return TEST_RESULT();
}

/*
 * The stress case: 1000 offline+online cycles of the last vCPU while the
 * other vCPUs bind, notify, move and unbind event channels without pause.
 * Every event is sent in lock-step (the sender waits until its sequence
 * number is seen), so a lost one is caught; afterwards the runner's leak
 * checks and the oracle must find every port and descriptor in place.
 * Run by name (selftest=hotplug.stress): about a minute under TCG.
 *
 * A lost event is rarely lost for good, though: the next upcall its
 * target takes, for its 100 ms tick or for anyone's event, scans its
 * ports and finds it, well inside the 2 s the sender waits.  So the
 * sender also watches for the state such an event is in: pending and
 * unmasked, its target with no upcall pending and none running, and no
 * upcall taken there for STRAND_NS.  Nothing but chance delivers it then
 * (correct code never leaves one so: the upcall clears upcall_pending
 * before it scans, and a scan takes every active port it owns), and the
 * case fails on the first, whenever a later upcall would have rescued it.
 * Under FIFO the state is pending, unmasked and on no queue: a LINKED
 * port's upcall is owed by whichever vCPU's queue holds it.
 */
#define STRAND_NS (2 * NSEC_PER_MSEC)

struct stress {
    int stop;                   /* atomic */
    unsigned int lost, binds, events, moves;
    unsigned int stranded;      /* atomic */
    /* The first stranded event (written by whoever counted it first). */
    unsigned int strand_seq, strand_cpu;
    evtchn_port_t strand_port;
    bool strand_linked;         /* FIFO: on a queue when counted */
};

struct seq_pair {
    unsigned int sent, seen;    /* atomic */
};

static void seq_handler(int irq, void *data)
{
    struct seq_pair *s = data;

    __atomic_store_n(&s->seen, __atomic_load_n(&s->sent, __ATOMIC_ACQUIRE),
                     __ATOMIC_RELEASE);
}

/* The upcall state of the vCPU port's irq targets, if port waits there
 * for an upcall nobody owes it (see above); else cpu ~0u. */
struct strand_probe {
    unsigned int cpu;
    uint64_t upcalls;
};

static struct strand_probe strand_state(int irq, evtchn_port_t port)
{
    struct strand_probe p = { .cpu = ~0u };
    struct irq_desc *d = irq_to_desc(irq);
    struct percpu *pc;
    unsigned int cpu;

    /* FIFO: LINKED is queued.  A port moved while on its old vCPU's
     * queue is taken off by that vCPU's next upcall, which Xen raised when
     * it linked it; under overcommit that vCPU may wait for a pCPU longer
     * than STRAND_NS (1 run in 5).  An event left on a queue nobody
     * consumes is caught by the lost-event bound.  Likewise a port in
     * some vCPU's hand: taken off its queue, about to be handled or
     * handed back to its new owner, by a vCPU that may lose its pCPU
     * there (make test saw one, 1 run in 2: "on no queue", delivered
     * late, not lost).  Asked after LINKED: the consumer marks it in hand
     * before it unlinks it. */
    if (!d || !evtchn_port_pending(port) || evtchn_port_masked(port) ||
        evtchn_port_linked(port) || evtchn_port_in_hand(port))
        return p;
    cpu = irq_target_cpu(d);
    pc = &percpu_area[cpu];
    if (!pc->vcpu_info ||
        __atomic_load_n(&pc->vcpu_info->evtchn_upcall_pending,
                        __ATOMIC_ACQUIRE) ||
        (__atomic_load_n(&pc->upcall_seq, __ATOMIC_ACQUIRE) & 1))
        return p;
    p.cpu = cpu;
    p.upcalls = __atomic_load_n(&pc->upcalls, __ATOMIC_RELAXED);
    return p;
}

static bool send_seen(struct stress *st, struct seq_pair *s,
                      struct loopback *lo)
{
    unsigned int n = __atomic_add_fetch(&s->sent, 1, __ATOMIC_ACQ_REL);
    uint64_t now, until = time_now_ns() + 2 * NSEC_PER_SEC, since = 0;
    struct strand_probe first = { .cpu = ~0u };
    bool counted = false;

    if (evtchn_send(lo->port_b))
        return false;
    while (__atomic_load_n(&s->seen, __ATOMIC_ACQUIRE) != n) {
        struct strand_probe p = strand_state(lo->irq_a, lo->port_a);

        now = time_now_ns();
        if (p.cpu != first.cpu || p.upcalls != first.upcalls) {
            first = p;                  /* a new streak, or none */
            since = now;
        } else if (p.cpu != ~0u && !counted && now - since >= STRAND_NS &&
                   __atomic_load_n(&s->seen, __ATOMIC_ACQUIRE) != n) {
            counted = true;
            if (__atomic_fetch_add(&st->stranded, 1, __ATOMIC_ACQ_REL) == 0) {
                st->strand_seq = n;
                st->strand_cpu = p.cpu;
                st->strand_port = lo->port_a;
                st->strand_linked = evtchn_port_linked(lo->port_a);
            }
        }
        if (now > until)
            return false;
    }
    return true;
}

static void stress_events_work(void *arg)
{
    struct stress *st = arg;
    static struct counter sink;
    unsigned int cpu = 0;

    while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
        struct seq_pair sp = { 0 };
        struct loopback lo;

        if (loopback_open(&lo, seq_handler, &sp, count_handler_util, &sink)) {
            __atomic_fetch_add(&st->lost, 1, __ATOMIC_RELAXED);
            return;
        }
        __atomic_fetch_add(&st->binds, 1, __ATOMIC_RELAXED);
        mdelay(1);                      /* Xen's bind-time raise */
        sp.seen = sp.sent = 0;
        for (int i = 0; i < 4; i++) {
            cpu = (cpu + 1) % smp_domain_vcpus();
            /* A dying target refuses the move: fine, it stays put. */
            if (irq_set_affinity(lo.irq_a, cpu) == 0)
                __atomic_fetch_add(&st->moves, 1, __ATOMIC_RELAXED);
            if (!send_seen(st, &sp, &lo))
                __atomic_fetch_add(&st->lost, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&st->events, 1, __ATOMIC_RELAXED);
        }
        loopback_close(&lo);
    }
}

SELFTEST(hotplug, stress, .min_vcpus = 3, .explicit_only = true,
         .timeout_ms = 600000)
{
    static struct stress st;
    static struct cpu_work w[MAX_VCPUS];
    unsigned int k, cycles = 0, cpu;
    uint64_t t0 = time_now_ns();

    PICK_CPUS(1, &k);                   /* goes down; the others load */
    st = (struct stress){ 0 };
    memset(w, 0, sizeof(w));
    for_each_online_cpu(cpu)
        if (cpu != k && cpu != smp_processor_id())
            CHECK(test_work_queue(cpu, &w[cpu], stress_events_work, &st) == 0);
    for (cycles = 0; cycles < 1000 && !test_failed(); cycles++) {
        CHECK(cpu_down(k) == 0);
        CHECK(cpu_online_again(k) == 0);
    }
    __atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
    for (cpu = 1; cpu < MAX_VCPUS; cpu++)
        if (w[cpu].fn)
            CHECK(smp_work_wait(&w[cpu], test_bound_ns(5 * NSEC_PER_SEC)));
    test_diag("%u cycles of vCPU%u in %lu ms; meanwhile %u binds, %u events, "
              "%u moves, %u lost", cycles, k,
              (unsigned long)((time_now_ns() - t0) / NSEC_PER_MSEC), st.binds,
              st.events, st.moves, st.lost);
    if (st.stranded) {
        test_diag("%u event(s) stranded: event %u sat pending on port %u of "
                  "vCPU%u, unmasked, with no upcall pending or running there "
                  "for %u ms (lost until a tick or another event came); "
                  "%s ABI, %s", st.stranded, st.strand_seq, st.strand_port,
                  st.strand_cpu, (unsigned int)(STRAND_NS / NSEC_PER_MSEC),
                  evtchn_abi_name(), st.strand_linked ? "LINKED on a queue"
                                                      : "on no queue");
        test_fail_at(__FILE__, __LINE__, "stranded event");
    }
    CHECK(st.lost == 0);
    CHECK(vcpu_answers(k));
    CHECK(evtchn_oracle_check() == 0);
    return TEST_RESULT();
}
