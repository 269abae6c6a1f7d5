/*
 * The paravirtual slow path of the ticket lock (include/xenith/spinlock.h;
 * design: ../shared/design/concurrency.md section 4, bug C).
 *
 * Each vCPU has a kicker: an IPI port bound to itself in PREPARE, its irq
 * disabled at once so it is never delivered; SCHEDOP_poll on it wakes the
 * vCPU even though it is masked.  A waiter that spun SPIN_THRESHOLD times
 * publishes a wait record (lock, ticket) and sets its bit in
 * pv_waiting, then loops: clear its kicker, re-check the lock, poll.
 * The unlocker (after a full barrier) kicks every vCPU in pv_waiting whose
 * record names the lock.  Waking too many is harmless: each re-checks.
 *
 * Nesting: with interrupts on, a waiter may be interrupted and a handler
 * may wait on another lock.  The nested wait saves the outer record and
 * restores it at the end; meanwhile unlocks of the outer lock find the
 * record naming the inner one and kick nobody here, and the nested wait
 * clears the kicker the outer wait relies on.  So on leaving a nested
 * wait the kicker is set pending: the outer poll returns at once and
 * re-checks (scenario 7: a kick is never swallowed).
 *
 * Dead vCPUs: kicks go only to a vCPU with a kicker; DEAD clears
 * kicker_port, waits until no unlock is still inside a kick loop that may
 * have read it (pvlock_dead_cpu), and only then unbinds the port, so no
 * kick is ever sent to a closed or reused port (scenario 17).
 *
 * Nothing here takes a lock or prints: this is the lock.
 */
#include <xenith/spinlock.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/irq.h>
#include <xenith/percpu.h>
#include <xenith/pvlock.h>
#include <xenith/smp.h>

/* Spins before sleeping: long enough that a lock held for a few hundred
 * instructions never costs a hypercall, short enough that a waiter whose
 * holder was preempted gives its pCPU back soon.  Tests lower it. */
unsigned int pvlock_spin_threshold = PVLOCK_SPIN_DEFAULT;
/* vCPUs inside the slow path (bit n = vCPU n); records are in percpu. */
static uint64_t pv_waiting;
/* Off: plain ticket spinning, for benchmarks to compare against. */
bool pvlock_enabled = true;

/* Between publishing the record and re-checking the lock (scenario 8). */
DEFINE_INJECT(pvlock_before_check, "pvlock.before_check");
/* Between the re-check and the poll (scenario 7's window). */
DEFINE_INJECT(pvlock_before_poll, "pvlock.before_poll");

static void poll_kicker(evtchn_port_t port)
{
    struct sched_poll p = { .nr_ports = 1, .timeout = 0 };

    set_xen_guest_handle(p.ports, &port);
    /* A failure just means one more turn round the loop. */
    if (hyp_sched_op(SCHEDOP_poll, &p))
        cpu_relax();
}

static bool served(spinlock_t *l, uint16_t ticket)
{
    return __atomic_load_n(&l->head, __ATOMIC_SEQ_CST) == ticket;
}

static void pv_wait(spinlock_t *l, uint16_t ticket, evtchn_port_t kick)
{
    struct percpu *pc = this_cpu();
    uint64_t bit = 1ull << pc->cpu_id;
    void *prev = pc->wait_lock;
    uint16_t prev_want = pc->wait_want;

    pc->wait_want = ticket;
    __atomic_store_n(&pc->wait_lock, l, __ATOMIC_RELEASE);
    /* A locked RMW: the record is visible before we re-check the head;
     * the unlocker's full barrier orders its release before its read of
     * pv_waiting, so one of us always sees the other (scenario 8). */
    __atomic_fetch_or(&pv_waiting, bit, __ATOMIC_SEQ_CST);
    inject(&inject_pvlock_before_check, (long)(uintptr_t)l);
    for (;;) {
        evtchn_port_clear_pending(kick);
        if (served(l, ticket))
            break;
        inject(&inject_pvlock_before_poll, (long)(uintptr_t)l);
        pc->pv_polls++;
        poll_kicker(kick);
    }
    if (prev) {
        /* Back to the outer wait: it may have missed its kick (its record
         * named our lock meanwhile, and we cleared its kicker). */
        pc->wait_want = prev_want;
        __atomic_store_n(&pc->wait_lock, prev, __ATOMIC_RELEASE);
        evtchn_port_set_pending(kick);
    } else {
        __atomic_store_n(&pc->wait_lock, NULL, __ATOMIC_RELEASE);
        __atomic_fetch_and(&pv_waiting, ~bit, __ATOMIC_SEQ_CST);
    }
}

void spin_lock_slow(spinlock_t *l, uint16_t ticket)
{
    evtchn_port_t kick;

    for (unsigned int i = 0; i < pvlock_spin_threshold; i++) {
        if (served(l, ticket))
            return;
        cpu_relax();
    }
    kick = __atomic_load_n(&this_cpu()->kicker_port, __ATOMIC_ACQUIRE);
    if (!kick || !__atomic_load_n(&pvlock_enabled, __ATOMIC_RELAXED)) {
        /* No kicker yet (early boot, PREPARE not done): spin. */
        while (!served(l, ticket))
            cpu_relax();
        return;
    }
    pv_wait(l, ticket, kick);
}

static void kick(struct percpu *pc)
{
    evtchn_port_t port = __atomic_load_n(&pc->kicker_port, __ATOMIC_ACQUIRE);

    /* DEAD waits for us before closing the port (pvlock_dead_cpu), so a
     * send never fails; if one does, it is counted, and tests want 0. */
    if (!port)
        return;
    if (evtchn_send(port))
        this_cpu()->pv_kick_errors++;
    else
        this_cpu()->pv_kicks_sent++;
}

/* The unlock found tickets queued past its own: wake whoever sleeps. */
void spin_unlock_kick(spinlock_t *l)
{
    struct percpu *me = this_cpu();
    uint64_t w = __atomic_load_n(&pv_waiting, __ATOMIC_SEQ_CST);

    if (!w)
        return;
    if (me->kick_depth++ == 0)
        __atomic_fetch_add(&me->kick_seq, 1, __ATOMIC_SEQ_CST);
    for (unsigned int c = 0; w; c++, w >>= 1) {
        struct percpu *pc = &percpu_area[c];

        if (!(w & 1) || __atomic_load_n(&pc->wait_lock, __ATOMIC_ACQUIRE) != l)
            continue;
        kick(pc);
#ifdef BUG_C_KICK_FIRST_WAITER_ONLY
        /* Mutant C: the historic unlock woke only the first waiter. */
        break;
#endif
    }
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
    int irq = bind_ipi(IPI_KICK, cpu, &a);

    if (irq < 0)
        return irq;
    /* Never delivered: SCHEDOP_poll sees it pending while masked. */
    disable_irq(irq);
    __atomic_store_n(&percpu_area[cpu].kicker_port, irq_to_port(irq),
                     __ATOMIC_RELEASE);
    return 0;
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

uint64_t pvlock_waiting_mask(void)
{
    return __atomic_load_n(&pv_waiting, __ATOMIC_ACQUIRE);
}
