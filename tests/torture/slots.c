/*
 * Torture's event channels: bind, send, mask, move and unbind one slot,
 * and the handler that checks each event is handled once, by one vCPU
 * at a time, never while disabled and never after its unbind returned.
 */
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/irq.h>
#include <xenith/selftest.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xen/errno.h>

#include "torture.h"
#include "../ktests/evtchn_util.h"

/* A global VIRQ nothing raises here (Xen's trace buffers are off), so
 * every event on it is one torture sent. */
#define TORTURE_GLOBAL_VIRQ VIRQ_TBUF

static void owner_enter(unsigned int l, const char *where)
{
    int me = smp_processor_id() + 1;
    int was = __atomic_exchange_n(&torture.owner[l], me, __ATOMIC_ACQ_REL);

    if (was)
        torture_fail(me - 1, "lock %u held by vCPU%d and vCPU%d at once (%s)",
                     l, was - 1, me - 1, where);
    torture.held[l]++;
}

static void owner_leave(unsigned int l)
{
    __atomic_store_n(&torture.owner[l], 0, __ATOMIC_RELEASE);
}

static void slot_handler(int irq, void *data)
{
    struct slot *s = data;
    unsigned int cpu = smp_processor_id(), sent;

    if (__atomic_fetch_add(&s->inside, 1, __ATOMIC_ACQ_REL))
        torture_fail(cpu, "irq %d (%s, port %u): two handlers at once", irq,
                     torture_kind_name(s->kind), s->port);
    if (!__atomic_load_n(&s->live, __ATOMIC_ACQUIRE))
        torture_fail(cpu, "irq %d (%s, port %u): handler ran after its "
                     "unbind returned", irq, torture_kind_name(s->kind),
                     s->port);
    if (__atomic_load_n(&s->masked, __ATOMIC_ACQUIRE))
        torture_fail(cpu, "irq %d (%s, port %u): handled while disabled",
                     irq, torture_kind_name(s->kind), s->port);
    sent = __atomic_load_n(&s->sent, __ATOMIC_ACQUIRE);
    if (s->paced && sent == __atomic_load_n(&s->seen, __ATOMIC_RELAXED))
        torture_fail(cpu, "irq %d (%s, port %u): event %u handled twice",
                     irq, torture_kind_name(s->kind), s->port, sent);
    __atomic_store_n(&s->seen, sent, __ATOMIC_RELEASE);
    __atomic_fetch_add(&s->runs, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&torture.events, 1, __ATOMIC_RELAXED);
    if (s->takes_lock) {
        /* Interrupts are off here: a thread takes this lock with them
         * off too, and a vCPU waiting for another lock may be under us
         * (a nested wait in the pv-lock slow path). */
        spin_lock(&torture.locks[TORTURE_IRQ_LOCK]);
        owner_enter(TORTURE_IRQ_LOCK, "irq handler");
        owner_leave(TORTURE_IRQ_LOCK);
        spin_unlock(&torture.locks[TORTURE_IRQ_LOCK]);
    }
    __atomic_fetch_sub(&s->inside, 1, __ATOMIC_ACQ_REL);
    if (s->late_eoi)
        irq_eoi(irq);
}

/* The loopback's sending end: Xen raises it once, at bind. */
static void sink_handler(int irq, void *data)
{
}

static const struct evt_action sink = {
    .handler = sink_handler, .name = "torture-b",
};

static int bind_loop(struct slot *s, const struct evt_action *a)
{
    struct loopback lo;
    int rc = loopback_open_actions(&lo, a, &sink);

    s->irq = lo.irq_a;
    s->irq_b = lo.irq_b;
    if (!rc)
        s->send_port = lo.port_b;
    return rc;
}

int slot_bind(struct tworker *w, struct slot *s, enum slot_kind kind)
{
    struct evt_action a = { .handler = slot_handler, .data = s,
                            .name = "torture" };
    int rc;

    memset(s, 0, sizeof(*s));
    s->irq = s->irq_b = -1;
    s->kind = kind;
    /* Per-vCPU flows have no late EOI (events/bind.c refuses it). */
    s->late_eoi = a.late_eoi = trand_below(w, 3) == 0 &&
                               kind != SK_IPI && kind != SK_VIRQ;
    s->takes_lock = trand_below(w, 4) == 0;
    s->paced = kind != SK_STORM;
    __atomic_store_n(&s->live, 1, __ATOMIC_RELEASE);
    switch (kind) {
    case SK_LOOP:
    case SK_STORM:
        rc = bind_loop(s, &a);
        break;
    case SK_IPI:
    case SK_VIRQ:
        s->target = trand_online(w);
        s->gen = __atomic_load_n(&torture.downs[s->target], __ATOMIC_ACQUIRE);
        rc = kind == SK_IPI ? bind_ipi(IPI_TEST, s->target, &a)
                            : bind_virq(VIRQ_DEBUG, s->target, &a);
        s->irq = rc;
        rc = MIN(rc, 0);
        break;
    case SK_GVIRQ:
        rc = s->irq = bind_virq(TORTURE_GLOBAL_VIRQ, 0, &a);
        rc = MIN(rc, 0);
        break;
    case SK_PIRQ:
        rc = s->irq = bind_unrouted_pirq(&a, &s->pirq);
        rc = MIN(rc, 0);
        break;
    default:
        rc = -XEN_EINVAL;
    }
    if (rc) {
        __atomic_store_n(&s->live, 0, __ATOMIC_RELEASE);
        s->kind = SK_NONE;
        return rc;
    }
    s->port = irq_to_port(s->irq);
    return 0;
}

static bool per_vcpu(const struct slot *s)
{
    return s->kind == SK_IPI || s->kind == SK_VIRQ;
}

/*
 * Every event sent must be handled within the bound.  A per-vCPU port
 * does not move: an event for a vCPU that is down waits for it (parked;
 * owed, and checked again by a later settle), and one whose vCPU went
 * down and came back since gets a full bound from its return.  Once
 * parked, a later send may fold into the parked event, so the slot's
 * runs are no longer paced.
 */
static int settle(struct tworker *w, struct slot *s)
{
    uint64_t until = time_now_ns() + TORTURE_LOST_NS;
    unsigned int sent = __atomic_load_n(&s->sent, __ATOMIC_ACQUIRE);

    while (__atomic_load_n(&s->seen, __ATOMIC_ACQUIRE) != sent) {
        unsigned int gen;

        if (torture_over())
            return 0;
        if (time_now_ns() <= until) {
            cpu_relax();
            continue;
        }
        gen = __atomic_load_n(&torture.downs[s->target], __ATOMIC_ACQUIRE);
        if (per_vcpu(s) && !cpu_online(s->target)) {
            s->paced = false;
            return 0;
        }
        if (per_vcpu(s) && gen != s->gen) {
            s->paced = false;
            s->gen = gen;
            until = time_now_ns() + TORTURE_LOST_NS;
            continue;
        }
        torture_fail(w->cpu, "irq %d (%s, port %u, on vCPU%u): event %u "
                     "never handled (lost); last seen %u",
                     s->irq, torture_kind_name(s->kind), s->port,
                     irq_target_cpu(irq_to_desc(s->irq)), sent,
                     __atomic_load_n(&s->seen, __ATOMIC_ACQUIRE));
        return -1;
    }
    return 0;
}

int slot_unbind(struct tworker *w, struct slot *s, bool settle_first)
{
    int rc = settle_first ? settle(w, s) : 0;

    if (s->irq_b >= 0 && trand_below(w, 2))
        unbind(s->irq_b), s->irq_b = -1;   /* either end first */
    unbind(s->irq);
    __atomic_store_n(&s->live, 0, __ATOMIC_RELEASE);
    if (s->irq_b >= 0)
        unbind(s->irq_b);
    s->kind = SK_NONE;
    return rc;
}

static long kick(struct slot *s)
{
    switch (s->kind) {
    case SK_LOOP:
    case SK_STORM:
        return evtchn_send(s->send_port);
    case SK_IPI:
        return notify_remote_via_irq(s->irq);
    default:
        evtchn_raise_local(s->irq);     /* Xen cannot be asked to */
        return 0;
    }
}

int slot_send(struct tworker *w, struct slot *s)
{
    long rc;

    __atomic_add_fetch(&s->sent, 1, __ATOMIC_ACQ_REL);
    rc = kick(s);
    if (rc) {
        torture_fail(w->cpu, "send on irq %d (%s, port %u): %ld", s->irq,
                     torture_kind_name(s->kind), s->port, rc);
        return rc;
    }
    return settle(w, s);
}

/* A burst; half the time the worker unbinds at once, events in flight. */
int slot_storm(struct tworker *w, struct slot *s)
{
    unsigned int n = 1 + trand_below(w, 32);

    for (unsigned int i = 0; i < n; i++) {
        long rc;

        __atomic_add_fetch(&s->sent, 1, __ATOMIC_ACQ_REL);
        rc = kick(s);
        if (rc) {
            torture_fail(w->cpu, "storm on irq %d (port %u): %ld", s->irq,
                         s->port, rc);
            return rc;
        }
    }
    if (trand_below(w, 2))
        return slot_unbind(w, s, false);
    return settle(w, s);
}

/* Disabled: an event sent meanwhile waits, then is handled once. */
int slot_mask(struct tworker *w, struct slot *s)
{
    uint64_t until;

    disable_irq(s->irq);
    __atomic_store_n(&s->masked, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&s->sent, 1, __ATOMIC_ACQ_REL);
    if (kick(s))
        torture_fail(w->cpu, "send to disabled irq %d failed", s->irq);
    until = time_now_ns() + trand_below(w, 200) * NSEC_PER_USEC;
    while (time_now_ns() < until)
        cpu_relax();
    __atomic_store_n(&s->masked, 0, __ATOMIC_RELEASE);
    enable_irq(s->irq);
    return settle(w, s);
}

/* Per-vCPU kinds refuse to move: that is counted, not failed. */
int slot_move(struct tworker *w, struct slot *s)
{
    int irq = s->irq_b >= 0 && trand_below(w, 4) == 0 ? s->irq_b : s->irq;

    return irq_set_affinity(irq, trand_online(w));
}
