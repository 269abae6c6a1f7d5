/*
 * PIRQs: physical interrupts Xen routes to an event channel.  Unlike the
 * other types, a PIRQ's port lives only while its irq is started: bind
 * creates the descriptor with port 0 and requests it; startup (under
 * desc->lock) binds the port with EVTCHNOP_bind_pirq, publishes the
 * mapping and unmasks; shutdown masks, clears the mapping and closes the
 * port, in that order.
 *
 * startup and shutdown run under desc->lock, which ranks below the mapping
 * lock, so they cannot take it (the lock hierarchy is in events/bind.c).
 * Ordering alone keeps them right:
 *  - the port is published only once irq_info is complete (the upcall
 *    never finds a half-built binding);
 *  - the mapping is cleared BEFORE the port is closed: Xen hands a closed
 *    port to the next bind at once, and a clear after the close would
 *    wipe that bind's fresh mapping.  This is exactly where bug B lived
 *    (Linux's shutdown_pirq closed first).
 * No other writer touches a PIRQ's port slot in between, because Xen gives
 * a port to one binder at a time; the map's rows are installed by CAS.
 *
 * A PVH guest has PIRQs only if Xen emulates their routing for it; a PVH
 * dom0 on Xen 4.17 does not (PHYSDEVOP_map_pirq and the other PIRQ
 * physdev ops answer -ENOSYS), but EVTCHNOP_bind_pirq still binds a port
 * to an unrouted pirq number, which is what the self-tests use.
 */
#include "internal.h"
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/printk.h>
#include <xen/errno.h>
#include <xen/physdev.h>

/* pirq -> irq + 1 (0 = none), under the mapping lock. */
#define NR_PIRQS_TRACKED 1024u
static int pirq_irq[NR_PIRQS_TRACKED];

/* Between the two steps of shutdown: the regress case for bug B holds a
 * vCPU here while another binds. */
DEFINE_INJECT(pirq_shutdown_window, "pirq.shutdown_window");

static __must_check long hyp_physdev_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_physdev_op, cmd, (unsigned long)arg);
}

long pirq_map_gsi(unsigned int gsi, int *pirq)
{
    struct physdev_map_pirq m = {
        .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_GSI, .index = (int)gsi,
        .pirq = -1,
    };
    long rc = hyp_physdev_op(PHYSDEVOP_map_pirq, &m);

    if (!rc)
        *pirq = m.pirq;
    return rc;
}

/* Does Xen want PHYSDEVOP_eoi after each event (a level line)?  A domain
 * without PIRQ emulation answers -ENOSYS: nothing to EOI.  Any other
 * failure is reported and treated the same way, as Linux does. */
static bool pirq_needs_eoi(unsigned int pirq)
{
    struct physdev_irq_status_query q = { .irq = pirq };
    long rc = hyp_physdev_op(PHYSDEVOP_irq_status_query, &q);

    if (rc && rc != -XEN_ENOSYS)
        pr_err("events: PHYSDEVOP_irq_status_query(pirq %u): %ld\n", pirq,
               rc);
    return !rc && (q.flags & XENIRQSTAT_needs_eoi);
}

void pirq_eoi(struct irq_info *info)
{
    struct physdev_eoi e = { .irq = info->u.pirq.pirq };
    long rc;

    if (!info->u.pirq.needs_eoi)
        return;
    rc = hyp_physdev_op(PHYSDEVOP_eoi, &e);
    if (rc)
        pr_err("events: PHYSDEVOP_eoi(pirq %u): %ld\n", e.irq, rc);
}

int bind_pirq(unsigned int pirq, bool shareable, const struct evt_action *a)
{
    struct irq_info *info;
    int irq, rc;

    if (pirq >= NR_PIRQS_TRACKED)
        return -XEN_EINVAL;
    mutex_lock(&evtchn_mapping_lock);
    if (pirq_irq[pirq]) {
        mutex_unlock(&evtchn_mapping_lock);
        return -XEN_EEXIST;
    }
    irq = new_irq(EVT_PIRQ, a->late_eoi ? IRQ_FLOW_LATE_EOI : IRQ_FLOW_EDGE,
                  0);
    if (irq < 0) {
        mutex_unlock(&evtchn_mapping_lock);
        return irq;
    }
    info = desc_info(irq_to_desc(irq));
    info->u.pirq.pirq = pirq;
    info->u.pirq.shareable = shareable;
    pirq_irq[pirq] = irq + 1;
    mutex_unlock(&evtchn_mapping_lock);

    /* No port yet: startup binds it, with the action installed. */
    rc = request_irq(irq, a->handler, a->data, a->name);
    if (rc < 0) {
        unbind(irq);
        return rc;
    }
    return irq;
}

int pirq_to_irq(unsigned int pirq)
{
    int v = pirq < NR_PIRQS_TRACKED ?
            __atomic_load_n(&pirq_irq[pirq], __ATOMIC_ACQUIRE) : 0;

    return v - 1;
}

/* unbind(), under the mapping lock, after free_irq closed the port. */
void pirq_unbind_clear(struct irq_info *info)
{
    if (pirq_irq[info->u.pirq.pirq] == info->irq + 1)
        __atomic_store_n(&pirq_irq[info->u.pirq.pirq], 0, __ATOMIC_RELEASE);
}

/* Take the port out of every table; the port itself stays open. */
static void unpublish(struct irq_info *info, evtchn_port_t port)
{
    evtchn_map_clear(port);
    __atomic_store_n(&info->port, 0, __ATOMIC_RELEASE);
    port_bind_to_cpu(port, 0);
}

int pirq_startup(struct irq_desc *d)
{
    struct irq_info *info = desc_info(d);
    struct evtchn_bind_pirq b = {
        .pirq = info->u.pirq.pirq,
        .flags = info->u.pirq.shareable ? BIND_PIRQ__WILL_SHARE : 0,
    };
    unsigned int cpu = irq_target_cpu(d);
    long rc = hyp_event_channel_op(EVTCHNOP_bind_pirq, &b);

    if (rc) {
        pr_err("events: EVTCHNOP_bind_pirq(pirq %u) failed: %ld\n", b.pirq,
               rc);
        return (int)rc;
    }
    info->u.pirq.needs_eoi = pirq_needs_eoi(b.pirq);
    rc = evtchn_bind_vcpu_port(b.port, cpu);
    if (!rc)
        rc = evtchn_publish(info, b.port, cpu);
    if (rc) {
        unpublish(info, b.port);
        (void)evtchn_close(b.port);
        return (int)rc;
    }
    info_unmask(info, MASK_EXPLICIT);
    /* A level line that fired before we bound waits for its EOI. */
    pirq_eoi(info);
    return 0;
}

void pirq_shutdown(struct irq_desc *d)
{
    struct irq_info *info = desc_info(d);
    evtchn_port_t port = info_port(info);

    info_mask(info, MASK_EXPLICIT);
    if (!port)
        return;
#ifdef BUG_B_CLOSE_BEFORE_CLEAR
    /* Mutant B: the historic order, close first and clear afterwards. */
    (void)evtchn_close(port);
    inject(&inject_pirq_shutdown_window, port);
    unpublish(info, port);
#else
    unpublish(info, port);
    inject(&inject_pirq_shutdown_window, port);
    evtchn_abi->before_close(port);
    (void)evtchn_close(port);   /* last: bug B */
#endif
}
