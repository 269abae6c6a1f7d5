/*
 * The paravirtual slow path of the ticket lock (include/xenith/spinlock.h;
 * design: ../shared/design/concurrency.md section 4, bug C).
 *
 * Each vCPU has a kicker: an IPI port bound to itself in PREPARE, its irq
 * disabled at once so it is never delivered; SCHEDOP_poll on it wakes the
 * vCPU even though it is masked.  A waiter that spun the threshold out
 * (spin_served) publishes a wait record (lock, ticket) and sets its bit
 * in pv_waiting, then loops: clear its kicker, re-check the lock, poll.
 * The unlocker (after a full barrier) kicks every vCPU in pv_waiting whose
 * record names the lock and whose ticket is within KICK_WINDOW of the new
 * head (kick_wanted says why that keeps bug C's guarantee).  Waking too
 * many is harmless: each re-checks.
 *
 * Cost, with vCPUs overcommitted (make bench, part 3): a hypercall costs
 * far more than anything else here, and kicking every waiter wakes many:
 * with 63 sleepers an acquisition cost 60-odd wake-ups, each a poll and
 * a vCPU switch in Xen, and 48 or 64 vCPUs on 2 pCPUs collapsed.  So an
 * unlock kicks only the waiters near the head of the queue (at most
 * KICK_WINDOW, whatever the vCPU count), sends its kicks in one multicall
 * and skips a kicker still pending (that kick is not consumed yet; a
 * second changes nothing); and a waiter spins only briefly while its
 * pCPU is shared (pcpu_shared).
 *
 * Nesting: with interrupts on, a waiter may be interrupted and a handler
 * may wait on another lock.  The nested wait saves the outer record and
 * restores it at the end; meanwhile unlocks of the outer lock find the
 * record naming the inner one and kick nobody here, and the nested wait
 * clears the kicker the outer wait relies on.  So on leaving a nested
 * wait the kicker is set pending: the outer poll returns at once and
 * re-checks (scenario 7: a kick is never swallowed).
 *
 * A poll is bounded (POLL_BOUND_NS), as a defence, not as a mechanism:
 * see pv_wait_poll.
 *
 * Dead vCPUs: kicks go only to a vCPU with a kicker; DEAD clears
 * kicker_port, waits until no unlock is still inside a kick loop that may
 * have read it (pvlock_dead_cpu), and only then unbinds the port, so no
 * kick is ever sent to a closed or reused port (scenario 17); an unlock
 * that chose a vCPU before its DEAD reads the cleared kicker and skips
 * it (pvlock.before_kick holds an unlock in that window).
 *
 * Nothing on the lock's paths takes a lock or prints: this is the lock.
 */
#include <xenith/spinlock.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/irq.h>
#include <xenith/percpu.h>
#include <xenith/pvlock.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xen/errno.h>

/* Pauses before sleeping (pvlock_set_default): long enough that a lock
 * held for a few hundred instructions never costs a hypercall, short
 * enough that a waiter whose holder was preempted gives its pCPU back
 * soon.  Tests lower it. */
unsigned int pvlock_spin_default = PVLOCK_SPIN_FALLBACK;
unsigned int pvlock_spin_threshold = PVLOCK_SPIN_FALLBACK;
/* vCPUs inside the slow path; records are in percpu. */
static struct cpumask pv_waiting;
/* Off: plain ticket spinning, for benchmarks to compare against. */
bool pvlock_enabled = true;

/* Between publishing the record and re-checking the lock (scenario 8). */
DEFINE_INJECT(pvlock_before_check, "pvlock.before_check");
/* Between the re-check and the poll (scenario 7's window). */
DEFINE_INJECT(pvlock_before_poll, "pvlock.before_poll");
/* An unlock chose to kick a vCPU and has not read its kicker yet: the
 * vCPU may go down and DEAD clear its kicker here (scenario 17's window).
 * Keyed by the vCPU to be kicked. */
DEFINE_INJECT(pvlock_before_kick, "pvlock.before_kick");

/*
 * Why the poll has a time-out (issue 12, race 7).  Nothing but a kick ends
 * a poll with interrupts off (Xen wakes a poller early only for an event
 * it could deliver), so a kick that is ever lost, through a bug here or
 * below us, would be a silent, permanent hang of that vCPU, and with it
 * of every vCPU queued behind its ticket.  With interrupts on, the 100 ms
 * housekeeping tick ends the poll anyway.  So every poll ends after
 * POLL_BOUND_NS at the latest, and the loop re-checks as after a kick:
 * the kernel survives a lost kick, a hang report can name it, and nobody
 * mistakes a defence for the mechanism: a time-out that finds the lock
 * already ours, and no kick within one more bound (kick_comes), is a kick
 * that never came, counted in pv_lost_kicks, which every lock test
 * requires to stay 0 (the hang report prints it).  A time-out that finds the lock still taken is a long wait,
 * not a fault.  The bound is long next to a hand-off (tens of
 * microseconds, milliseconds under TCG with 64 vCPUs on 2 pCPUs), so the
 * extra wake-ups cost nothing measurable, and short next to every test's
 * bound, so a lost kick is counted, never merely waited out.
 */
#define POLL_BOUND_NS (NSEC_PER_SEC / 2)

/* Poll the kicker until *deadline; true if the poll ran out its time with
 * no kick (then the next deadline is one bound on).  The clock is read
 * only at the start of a wait and after a wake-up without a kick, which
 * is rare: under TCG a TSC read costs tens of microseconds. */
static bool poll_kicker(evtchn_port_t port, uint64_t *deadline)
{
    struct sched_poll p = { .nr_ports = 1, .timeout = *deadline };
    uint64_t now;

    set_xen_guest_handle(p.ports, &port);
    /* A failure just means one more turn round the loop. */
    if (hyp_sched_op(SCHEDOP_poll, &p))
        cpu_relax();
    if (evtchn_port_pending(port) || (now = time_now_ns()) < *deadline)
        return false;
    *deadline = now + POLL_BOUND_NS;
    return true;
}

/*
 * A poll timed out and the lock is ours: the kick may still be on its way
 * (its unlocker released the lock and was then preempted, by Xen or, under
 * TCG, by the host, before its send).  Wait one more bound for it; only a
 * kick that never comes is counted lost.  The lock is ours meanwhile and
 * everyone behind waits too, but this is the failure path.
 */
static bool kick_comes(evtchn_port_t kick)
{
    uint64_t deadline = time_now_ns() + POLL_BOUND_NS;

    while (!evtchn_port_pending(kick))
        if (poll_kicker(kick, &deadline))
            return false;
    evtchn_port_clear_pending(kick);
    return true;
}

static bool served(spinlock_t *l, uint16_t ticket)
{
    return __atomic_load_n(&l->head, __ATOMIC_SEQ_CST) == ticket;
}

/*
 * Whether our pCPU is shared: Xen counts, in this vCPU's runstate, the
 * time it was runnable but not running.  If that grew by more than a
 * hypercall costs since this vCPU's last contended lock, other vCPUs
 * compete for its pCPU, and a long spin would take the pCPU from the
 * holder, or from the waiters whose turn comes before ours.  The verdict
 * holds for the next SHARED_STICKY contended locks: a vCPU that takes a
 * lock again at once, having just released it, has had no time to be
 * preempted, but its pCPU is no less shared.
 */
#define SHARED_STICKY 16

static uint64_t steal_limit_ns = 10000;

static bool pcpu_shared(struct percpu *pc)
{
    uint64_t steal;

    if (!pc->runstate_ok)
        return false;
    steal = __atomic_load_n(&pc->runstate.time[RUNSTATE_runnable],
                            __ATOMIC_RELAXED);
    if (steal - pc->steal_seen > steal_limit_ns)
        pc->shared_left = SHARED_STICKY;
    else if (pc->shared_left)
        pc->shared_left--;
    pc->steal_seen = steal;
    return pc->shared_left != 0;
}

/*
 * Spin for our turn: up to the threshold, or a 64th of it while our pCPU
 * is shared (measured: at 8 vCPUs on 2 pCPUs the long spin costs more
 * than half the throughput, at 2 vCPUs on 2 the short one 85%).
 */
#define SHARED_SHIFT 6

static bool spin_served(spinlock_t *l, uint16_t ticket)
{
    unsigned int n = __atomic_load_n(&pvlock_spin_threshold, __ATOMIC_RELAXED);

    if (n && pcpu_shared(this_cpu()))
        n >>= SHARED_SHIFT;
    for (unsigned int i = 0; i < n; i++) {
        if (served(l, ticket))
            return true;
        cpu_relax();
    }
    return served(l, ticket);
}

/* Ours is the ticket after the holder's. */
static bool next_in_line(spinlock_t *l, uint16_t ticket)
{
    return (uint16_t)(ticket - __atomic_load_n(&l->head, __ATOMIC_RELAXED)) == 1;
}

static void pv_wait(spinlock_t *l, uint16_t ticket, evtchn_port_t kick)
{
    struct percpu *pc = this_cpu();
    void *prev = pc->wait_lock;
    uint16_t prev_want = pc->wait_want;
    uint64_t deadline = 0;

    __atomic_store_n(&pc->wait_want, ticket, __ATOMIC_RELAXED);
    __atomic_store_n(&pc->wait_lock, l, __ATOMIC_RELEASE);
    /* A locked RMW: the record is visible before we re-check the head;
     * the unlocker's full barrier orders its release before its read of
     * pv_waiting, so one of us always sees the other (scenario 8). */
    cpumask_set_atomic(&pv_waiting, pc->cpu_id);
    inject(&inject_pvlock_before_check, (long)(uintptr_t)l);
    for (bool woken = false, timed_out = false;; woken = true) {
        bool kicked = evtchn_port_clear_pending(kick);

#ifdef SCENARIO_8_NO_RECHECK_AFTER_PUBLISH
        if (woken && served(l, ticket)) {
#else
        if (served(l, ticket)) {
#endif
            if (timed_out && !kicked && !kick_comes(kick))
                pc->pv_lost_kicks++;
            break;
        }
        /* Woken with the next ticket: the holder is running, so the lock
         * is likely ours within a critical section; sleeping again would
         * put a wake-up between its unlock and us. */
        if (woken && next_in_line(l, ticket) && spin_served(l, ticket))
            break;
        inject(&inject_pvlock_before_poll, (long)(uintptr_t)l);
        pc->pv_polls++;
        if (!deadline)
            deadline = time_now_ns() + POLL_BOUND_NS;
        timed_out = poll_kicker(kick, &deadline);
    }
    if (prev) {
        /* Back to the outer wait: it may have missed its kick (its record
         * named our lock meanwhile, and we cleared its kicker). */
        __atomic_store_n(&pc->wait_want, prev_want, __ATOMIC_RELAXED);
        __atomic_store_n(&pc->wait_lock, prev, __ATOMIC_RELEASE);
#ifndef SCENARIO_7_KICKER_LEFT_CLEAR
        evtchn_port_set_pending(kick);
#endif
    } else {
        __atomic_store_n(&pc->wait_lock, NULL, __ATOMIC_RELEASE);
        cpumask_clear_atomic(&pv_waiting, pc->cpu_id);
    }
}

void spin_lock_slow(spinlock_t *l, uint16_t ticket)
{
    evtchn_port_t kick;

    if (spin_served(l, ticket))
        return;
    kick = __atomic_load_n(&this_cpu()->kicker_port, __ATOMIC_ACQUIRE);
    if (!kick || !__atomic_load_n(&pvlock_enabled, __ATOMIC_RELAXED)) {
        /* No kicker yet (early boot, PREPARE not done): spin. */
        while (!served(l, ticket))
            cpu_relax();
        return;
    }
    pv_wait(l, ticket, kick);
}

/*
 * The kicks of one unlock, sent together: one multicall instead of one
 * EVTCHNOP_send per waiter (a hypercall costs far more than the send
 * inside it).  On the unlocker's stack, so an unlock nested in an
 * interrupt during another's kick loop has its own.
 */
#define KICK_BATCH 8

struct kick_batch {
    unsigned int n;
    evtchn_port_t port[KICK_BATCH];
    struct evtchn_send send[KICK_BATCH];
    struct multicall_entry mc[KICK_BATCH];
};

/* Cleared if Xen has no multicall for us (HVM guests before 4.16). */
static bool multicall_ok = true;

static void kick_count(long rc)
{
    /* DEAD waits for us before closing the port (pvlock_dead_cpu), so a
     * send never fails; if one does, it is counted, and tests want 0. */
    if (rc)
        this_cpu()->pv_kick_errors++;
    else
        this_cpu()->pv_kicks_sent++;
}

static void kick_flush(struct kick_batch *b)
{
    long rc = -XEN_ENOSYS;

    if (b->n > 1 && __atomic_load_n(&multicall_ok, __ATOMIC_RELAXED)) {
        for (unsigned int i = 0; i < b->n; i++) {
            b->send[i] = (struct evtchn_send){ .port = b->port[i] };
            b->mc[i] = (struct multicall_entry){
                .op = __HYPERVISOR_event_channel_op,
                .args = { EVTCHNOP_send, (uintptr_t)&b->send[i] },
            };
        }
        rc = hyp_multicall(b->mc, b->n);
        if (!rc) {
            for (unsigned int i = 0; i < b->n; i++)
                kick_count(b->mc[i].result);
            b->n = 0;
            return;
        }
        if (rc == -XEN_ENOSYS)
            __atomic_store_n(&multicall_ok, false, __ATOMIC_RELAXED);
    }
    /* One kick, or no multicall: a send each (an older Xen loses speed,
     * never a kick; after a multicall that failed part-way, a kick sent
     * twice only wakes a waiter twice). */
    for (unsigned int i = 0; i < b->n; i++)
        kick_count(evtchn_send(b->port[i]));
    b->n = 0;
}

/*
 * Queue a kick for pc.  Skipped when its kicker is still pending: that is
 * a kick not yet consumed, and a send to a pending port changes nothing
 * in Xen (no new event, no wake-up: the poll returns as soon as it sees
 * the bit).  Safe against the waiter's clear-then-re-check: our read of
 * the bit follows our releasing store (both seq_cst), its re-check of the
 * head follows its clear (a locked RMW); if we saw the bit still set, its
 * clear, and so its re-check, comes after our release (scenario 8).
 * The waiter holding the next ticket goes first: woken first, it is the
 * one that can run.
 */
static void kick_queue(struct kick_batch *b, struct percpu *pc, bool next)
{
    evtchn_port_t port = __atomic_load_n(&pc->kicker_port, __ATOMIC_ACQUIRE);

#ifndef SCENARIO_17_DEAD_KICKER_NOT_SKIPPED
    if (!port)
        return;
#endif
    if (evtchn_port_pending(port)) {
        this_cpu()->pv_kicks_skipped++;
        return;
    }
    if (b->n == KICK_BATCH)
        kick_flush(b);
    b->port[b->n] = port;
    if (next && b->n) {
        b->port[b->n] = b->port[0];
        b->port[0] = port;
    }
    b->n++;
}

/*
 * Whom an unlock that left the head at `head` kicks: every vCPU sleeping
 * on l (its record names l) whose ticket is one of the next KICK_WINDOW.
 *
 * Bug C's guarantee is that the waiter who can take the lock now is never
 * left asleep; with tickets that is exactly the one holding ticket `head`,
 * and it is in the window.  The argument for it is unchanged (scenario
 * 8): the unlock that sets head to t reads the records after its release,
 * the waiter with ticket t re-checks the head after publishing its
 * record, so either it sees itself served or this unlock sees its record
 * and kicks it.  A waiter that another vCPU's handler nests on (its
 * record names the inner lock) is not kicked here, as before; it re-checks
 * when the nested wait ends (scenario 7).  `head` may be read late (the
 * lock handed on again meanwhile): then the waiters it skips were served,
 * or are in the window of the later unlock, which kicks them itself.
 *
 * Every unlock reaches every waiter in the window, so the broadcast stays
 * a broadcast among the waiters that could be served next; the one behind
 * the served waiter is woken one hand-off early so that it is running,
 * spinning (pv_wait's next_in_line), when its turn comes.  A waiter
 * further back sleeps through unlocks that cannot concern it: each one
 * moves it a place forward, and the unlock that brings it into the
 * window kicks it.  That bounds an unlock to KICK_WINDOW kicks and an
 * acquisition to a few hypercalls, where kicking all N sleepers cost
 * O(N) wake-ups per acquisition.
 */
#define KICK_WINDOW 2

static bool kick_wanted(struct percpu *pc, spinlock_t *l, uint16_t head)
{
    if (__atomic_load_n(&pc->wait_lock, __ATOMIC_ACQUIRE) != l)
        return false;
#ifdef BUG_C_KICK_FIRST_WAITER_ONLY
    /* Mutant C: the historic unlock kicked the first vCPU it found
     * waiting on the lock, whatever its place in the queue. */
    return true;
#else
    return (uint16_t)(__atomic_load_n(&pc->wait_want, __ATOMIC_RELAXED) -
                      head) < KICK_WINDOW;
#endif
}

/* The unlock found tickets queued past its own: wake whoever sleeps. */
void spin_unlock_kick(spinlock_t *l)
{
    struct percpu *me = this_cpu();
    uint16_t next = __atomic_load_n(&l->head, __ATOMIC_RELAXED);
    struct kick_batch b;

    b.n = 0;
    if (me->kick_depth++ == 0)
        __atomic_fetch_add(&me->kick_seq, 1, __ATOMIC_SEQ_CST);
    for (unsigned int i = 0; i < CPUMASK_WORDS; i++) {
        uint64_t w = __atomic_load_n(&pv_waiting.w[i], __ATOMIC_SEQ_CST);

        for (; w; w &= w - 1) {
            struct percpu *pc = &percpu_area[i * 64 + __builtin_ctzll(w)];

            if (!kick_wanted(pc, l, next))
                continue;
            inject(&inject_pvlock_before_kick, (long)pc->cpu_id);
            kick_queue(&b, pc, __atomic_load_n(&pc->wait_want,
                                               __ATOMIC_RELAXED) == next);
#ifdef BUG_C_KICK_FIRST_WAITER_ONLY
            goto flush;
#endif
        }
    }
#ifdef BUG_C_KICK_FIRST_WAITER_ONLY
flush:
#endif
    kick_flush(&b);
    if (--me->kick_depth == 0)
        __atomic_fetch_add(&me->kick_seq, 1, __ATOMIC_RELEASE);
}

static void kicker_noop(int irq, void *data)
{
}

/* PREPARE: bind cpu's kicker, before the vCPU can take a lock. */
int pvlock_prepare_cpu(unsigned int cpu)
{
    static const struct evt_action a = {
        .handler = kicker_noop, .name = "pv-kicker",
    };
    struct percpu *pc = &percpu_area[cpu];
    struct vcpu_register_runstate_memory_area r;
    int irq = bind_ipi(IPI_KICK, cpu, &a);
    long rc;

    if (irq < 0)
        return irq;
    /* Without it the lock cannot tell a shared pCPU: it spins the full
     * threshold, as on a pCPU of its own. */
    set_xen_guest_handle(r.addr.h, &pc->runstate);
    rc = hyp_vcpu_op(VCPUOP_register_runstate_memory_area, cpu, &r);
    if (rc)
        pr_warn("pvlock: vCPU%u: no runstate area (%ld): full spins\n", cpu,
                rc);
    pc->runstate_ok = !rc;
    pc->steal_seen = pc->runstate_ok ? pc->runstate.time[RUNSTATE_runnable] : 0;
    /* Never delivered: SCHEDOP_poll sees it pending while masked. */
    disable_irq(irq);
    __atomic_store_n(&pc->kicker_port, irq_to_port(irq), __ATOMIC_RELEASE);
    return 0;
}

/* In the new domain after a resume: Xen forgot where each vCPU's
 * runstate area is (any vCPU may name another's). */
void pvlock_resume_cpu(unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];
    struct vcpu_register_runstate_memory_area r;

    if (!pc->runstate_ok)
        return;
    set_xen_guest_handle(r.addr.h, &pc->runstate);
    if (hyp_vcpu_op(VCPUOP_register_runstate_memory_area, cpu, &r)) {
        pr_warn("pvlock: vCPU%u: no runstate area after resume: full "
                "spins\n", cpu);
        pc->runstate_ok = false;
    }
}

/* DEAD: no unlock may still be about to kick the port once it closes. */
void pvlock_dead_cpu(unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];
    int irq = pc->ipi_to_irq[IPI_KICK];

    __atomic_store_n(&pc->kicker_port, 0, __ATOMIC_SEQ_CST);
    for (unsigned int c = 0; c < smp_domain_vcpus(); c++) {
        uint64_t *seq = &percpu_area[c].kick_seq;
        uint64_t s = __atomic_load_n(seq, __ATOMIC_ACQUIRE);

        if (c == smp_processor_id() || !(s & 1))
            continue;
        while (__atomic_load_n(seq, __ATOMIC_ACQUIRE) == s)
            cpu_relax();
    }
    if (irq >= 0)
        unbind(irq);
}

/*
 * The default threshold is what sleeping costs, so that a waiter next in
 * line never pays more than twice the cheaper choice (the classic
 * spin-then-block bound): a poll and its kick, two hypercalls, measured
 * here as two null hypercalls.  The spin cannot read a clock (under TCG a
 * TSC read is emulated by Xen and costs tens of microseconds), so it
 * counts pauses, at what one costs here.  Both differ by two orders of
 * magnitude between hardware and QEMU's TCG, which leaves its translated
 * code on every pause and emulates every VM exit.  Medians of a few
 * timed runs: the host may preempt one, a clock standstill (time.c) may
 * shorten one.
 */
#define CALIBRATE_PAUSES 1000u
#define CALIBRATE_RUNS 5

static uint64_t median5(uint64_t v[CALIBRATE_RUNS])
{
    for (unsigned int i = 1; i < CALIBRATE_RUNS; i++)
        for (unsigned int j = i; j && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[CALIBRATE_RUNS / 2];
}

/* ns for CALIBRATE_PAUSES pauses, and for one null hypercall; false if
 * the clock or the hypercall failed us. */
static bool calibrate(uint64_t *pauses_ns, uint64_t *hypercall_ns)
{
    uint64_t p[CALIBRATE_RUNS], h[CALIBRATE_RUNS];

    for (unsigned int r = 0; r < CALIBRATE_RUNS; r++) {
        uint64_t t0 = rdtsc_ordered(), t1;
        long rc;

        for (unsigned int i = 0; i < CALIBRATE_PAUSES; i++)
            cpu_relax();
        t1 = rdtsc_ordered();
        p[r] = tsc_delta_to_ns(t1 - t0);
        t0 = rdtsc_ordered();
        rc = hyp_xen_version(XENVER_version, NULL);
        h[r] = tsc_delta_to_ns(rdtsc_ordered() - t0);
        if (rc < 0)
            return false;
    }
    *pauses_ns = median5(p);
    *hypercall_ns = median5(h);
    return *pauses_ns && *hypercall_ns;
}

void pvlock_set_default(unsigned int pauses)
{
    uint64_t p_ns = 0, h_ns = 0;
    bool measured = calibrate(&p_ns, &h_ns);
    unsigned int n = pauses;

    if (!n)
        n = measured ? (unsigned int)MIN(2 * h_ns * CALIBRATE_PAUSES / p_ns,
                                         (uint64_t)PVLOCK_SPIN_MAX)
                     : PVLOCK_SPIN_FALLBACK;
    n = MAX(MIN(n, PVLOCK_SPIN_MAX), PVLOCK_SPIN_MIN);
    pvlock_spin_default = n;
    __atomic_store_n(&pvlock_spin_threshold, n, __ATOMIC_RELAXED);
    if (measured)
        steal_limit_ns = h_ns;
    pr_info("pvlock: a waiter spins %u pauses before it sleeps, %u on a "
            "shared pCPU (%s; a hypercall %lu ns, a pause %lu.%lu ns)\n", n,
            n >> SHARED_SHIFT, pauses ? "pvspin=" : measured ? "calibrated"
            : "no clock: fallback", (unsigned long)h_ns,
            (unsigned long)(p_ns / CALIBRATE_PAUSES),
            (unsigned long)(p_ns % CALIBRATE_PAUSES / 100));
}

bool pvlock_waiting(unsigned int cpu)
{
    return cpumask_test_atomic(&pv_waiting, cpu);
}
