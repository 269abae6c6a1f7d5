/*
 * The irq chip of event channels: the callbacks kernel/irq.c runs under
 * desc->lock.  They never take the mapping lock (which ranks above
 * desc->lock: bug B's root); PIRQ startup and shutdown therefore rely on
 * ordering alone (events/pirq.c).  Apart from startup and shutdown, a
 * PIRQ is an event like any other here, plus PHYSDEVOP_eoi in ack when
 * Xen says the line needs one.
 *
 * A port is unmasked only when no mask reason is left; info->lock (the
 * innermost lock) makes "change the reasons, then the mask bit" atomic.
 * The target vCPU is read with one atomic load (irq_target_cpu), never
 * by taking another lock (bug E); unmasking does not even need it: Xen
 * delivers a re-raised event to whichever vCPU the port is bound to.
 */
#include "internal.h"
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#ifdef SCENARIO_13_MOVE_UNMASK_NO_REPLAY
#include <xenith/xen.h>
#endif

/* Holding info->lock in the EOI path: regress.affinity_no_inversion. */
DEFINE_INJECT(eoi_info_locked, "eoi.info_locked");
/* A move re-targeted, still masked: evtchn.no_double_handling. */
DEFINE_INJECT(affinity_moved, "affinity.moved");
unsigned int evtchn_misrouted;

void info_mask(struct irq_info *info, unsigned int reason)
{
    unsigned long f = spin_lock_irqsave(&info->lock);
    evtchn_port_t port = info_port(info);

    if (!info->mask_reasons && port)
        port_mask(port);
    info->mask_reasons |= reason;
    spin_unlock_irqrestore(&info->lock, f);
}

void info_unmask(struct irq_info *info, unsigned int reason)
{
    unsigned long f = spin_lock_irqsave(&info->lock);
    evtchn_port_t port = info_port(info);

    info->mask_reasons &= ~reason;
#ifdef SCENARIO_13_MOVE_UNMASK_NO_REPLAY
    /* Mutant: a move lifts the mask it set itself by clearing the bit, as
     * if nothing could have come meanwhile; an event that fired during
     * the move stays pending and its new vCPU is never told. */
    if (!info->mask_reasons && port && reason == MASK_TEMPORARY) {
        __atomic_fetch_and((uint64_t *)&shared_info->evtchn_mask[port / 64],
                           ~(1ull << (port % 64)), __ATOMIC_SEQ_CST);
        port = 0;
    }
#endif
    if (!info->mask_reasons && port)
        port_unmask(port);
    spin_unlock_irqrestore(&info->lock, f);
}

/*
 * Hand an event that is still pending to Xen again, for whichever vCPU
 * the port is bound to now (a FIFO port found on a queue it no longer
 * owns).  Never sets the pending bit: another vCPU may have handled the
 * event (acked, under desc->lock) since the caller saw it pending, and a
 * raise would run it twice (affinity.no_loss_no_dup, 1 duplicate in a
 * run at 64 vCPUs).  EVTCHNOP_unmask links the port only if it is still
 * pending then; with a mask reason left, whoever drops it unmasks so.
 */
void evtchn_hand_back(int irq, evtchn_port_t port)
{
    struct irq_desc *d = irq_to_desc(irq);
    struct evtchn_unmask u = { .port = port };
    struct irq_info *info;
    unsigned long f;
    long rc;

    if (!d || d->chip != &evtchn_chip)
        return;
#ifdef BUG_FH_HANDBACK_RAISES
    /* Mutant FH: hand back by raising, as this code first did. */
    if (port) {
        evtchn_raise_local(irq);
        return;
    }
#endif
    info = desc_info(d);
    f = spin_lock_irqsave(&info->lock);
    if (info_port(info) == port && !info->mask_reasons &&
        port_is_pending(port)) {
        rc = hyp_event_channel_op(EVTCHNOP_unmask, &u);
        if (rc)
            panic("EVTCHNOP_unmask(port %u) failed: %ld", port, rc);
    }
    spin_unlock_irqrestore(&info->lock, f);
}

void evtchn_raise_local(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);
    struct irq_info *info;
    evtchn_port_t port;
    unsigned long f;

    if (!d || d->chip != &evtchn_chip)
        return;
    info = desc_info(d);
    f = spin_lock_irqsave(&info->lock);
    port = info_port(info);

    if (port) {
        port_mask(port);
        port_set_pending(port);
        if (!info->mask_reasons)
            port_unmask(port);
    }
    spin_unlock_irqrestore(&info->lock, f);
}

static int chip_startup(struct irq_desc *d)
{
    if (desc_info(d)->type == EVT_PIRQ)
        return pirq_startup(d);
    /* The mapping and action were published before: only now unmask. */
    smp_wmb();
    info_unmask(desc_info(d), MASK_EXPLICIT);
    return 0;
}

static void chip_shutdown(struct irq_desc *d)
{
    if (desc_info(d)->type == EVT_PIRQ) {
        pirq_shutdown(d);
        return;
    }
    info_mask(desc_info(d), MASK_EXPLICIT);
#ifdef BUG_B_CLOSE_BEFORE_CLEAR
    /* Mutant B: the historic shutdown closed the port here, before the
     * mapping was cleared (unbind clears it later, under the mapping
     * lock), so another vCPU's bind could be handed this port number in
     * between and then have its fresh mapping wiped. */
    {
        struct irq_info *info = desc_info(d);
        struct evtchn_close c = { .port = info_port(info) };
        if (c.port && hyp_event_channel_op(EVTCHNOP_close, &c))
            pr_err("events: EVTCHNOP_close(%u) failed\n", c.port);
    }
#endif
}

static void chip_mask(struct irq_desc *d)
{
    info_mask(desc_info(d), MASK_EXPLICIT);
}

static void chip_unmask(struct irq_desc *d)
{
    info_unmask(desc_info(d), MASK_EXPLICIT);
}

static void chip_ack(struct irq_desc *d)
{
    struct irq_info *info = desc_info(d);
    evtchn_port_t port = info_port(info);

    /* Late EOI: keep the port masked until the consumer says it is done,
     * set before the pending bit is cleared so no second event slips in. */
    if (d->flow == IRQ_FLOW_LATE_EOI)
        info_mask(info, MASK_EOI_PENDING);
    if (port)
        port_clear_pending(port);
    if (info->type == EVT_PIRQ)
        pirq_eoi(info);
}

/* The target the EOI path checks the port's owner against: one atomic
 * load, never desc->lock, which set_affinity holds while it takes
 * info->lock (bug E: the inverted order deadlocked). */
static unsigned int eoi_target(struct irq_desc *d)
{
#ifdef BUG_E_TARGET_UNDER_DESC_LOCK
    /* Mutant E: the historic path took the other lock to read it. */
    unsigned int cpu;

    spin_lock(&d->lock);
    cpu = d->target_cpu;
    spin_unlock(&d->lock);
    return cpu;
#else
    return irq_target_cpu(d);
#endif
}

/*
 * Late EOI, from any vCPU, without desc->lock: drop the EOI_PENDING
 * reason under info->lock and unmask if none is left.  A port about to be
 * unmasked must be owned (2-level scan) by its target vCPU, or its next
 * event would be scanned by a vCPU that ignores it; a mismatch is counted
 * and reported (tests require zero).  No TEMPORARY reason is left here,
 * so no move is half done.
 */
static void chip_eoi(struct irq_desc *d)
{
    struct irq_info *info = desc_info(d);
    unsigned long f = spin_lock_irqsave(&info->lock);
    evtchn_port_t port = info_port(info);

    inject(&inject_eoi_info_locked, port);
    info->mask_reasons &= ~MASK_EOI_PENDING;
    if (!info->mask_reasons && port) {
        unsigned int cpu = eoi_target(d);

        if (!port_owned_by(port, cpu)) {
            __atomic_fetch_add(&evtchn_misrouted, 1, __ATOMIC_RELAXED);
            pr_err("events: port %u unmasked while not owned by its target "
                   "vCPU%u\n", port, cpu);
        }
        port_unmask(port);
    }
    spin_unlock_irqrestore(&info->lock, f);
}

/*
 * Move the port to another vCPU, under desc->lock (concurrency.md 6): a
 * TEMPORARY mask reason holds it while Xen re-targets it and the 2-level
 * ownership bit moves; the new target is published with release ordering
 * before the mask reason goes, so whoever unmasks next reads the new one.
 */
static int chip_set_affinity(struct irq_desc *d, unsigned int cpu)
{
    struct irq_info *info = desc_info(d);
    struct evtchn_bind_vcpu b = { .port = info_port(info), .vcpu = cpu };
    long rc;

    if (!b.port)
        return -1;
    info_mask(info, MASK_TEMPORARY);
    rc = hyp_event_channel_op(EVTCHNOP_bind_vcpu, &b);
    if (!rc) {
        port_bind_to_cpu(b.port, cpu);
        __atomic_store_n(&d->target_cpu, cpu, __ATOMIC_RELEASE);
        /* Xen now raises it on cpu, but sees it masked. */
        inject(&inject_affinity_moved, b.port);
    }
    info_unmask(info, MASK_TEMPORARY);
    return rc;
}

static bool chip_pending(struct irq_desc *d)
{
    evtchn_port_t port = info_port(desc_info(d));

    return port && port_is_pending(port);
}

const struct irq_chip evtchn_chip = {
    .name = "evtchn",
    .startup = chip_startup,
    .shutdown = chip_shutdown,
    .mask = chip_mask,
    .unmask = chip_unmask,
    .ack = chip_ack,
    .eoi = chip_eoi,
    .set_affinity = chip_set_affinity,
    .pending = chip_pending,
};
