/*
 * Binding event channels to irqs, and unbinding them.
 *
 * Lock hierarchy (outermost first; never take one while holding a later
 * one).  The ranks of include/xenith/lockorder.h are these numbers; the
 * debug and test builds check them on every acquisition.
 *   0. hotplug_lock (kernel/cpu_hotplug.c, mutex): one vCPU up/down at a
 *      time, or a suspend and resume (which rebinds every VIRQ and IPI);
 *      its DEAD step unbinds, so it ranks above everything here.
 *   1. evtchn device bind lock (drivers/evtchn.c, per user, mutex)
 *   2. evtchn_mapping_lock (here, mutex): every write to evtchn_to_irq,
 *      the per-vCPU virq/ipi tables, and irq_info type/port.  Readers,
 *      the upcall included, take no lock (grace periods, kernel/quiesce.c).
 *   3. irq_alloc_lock (kernel/irq.c, mutex): the descriptor table only;
 *      also held across a vCPU's locked bring-up and tear-down steps, so
 *      nothing binds (allocates) under it (bug D: bind asserts this).
 *   4. desc->lock (kernel/irq.c, spinlock, irqs off): chip callbacks run
 *      under it and never take 2 (bug B's root).
 *   4a. FIFO qlock (events/fifo.c, per vCPU, spinlock, irqs off): the
 *      vCPU's queue heads while a port is unlinked; a drain holds it
 *      under 2 or 4 and hands ports back to Xen under it (takes 5).
 *   4b. FIFO array_lock (events/fifo.c, spinlock): growing the event
 *      array, under 2 (or 4, PIRQ startup); takes the page allocator.
 *   5. info->lock (events/chip.c, spinlock, irqs off): mask reasons.  The
 *      late-EOI path holds it and must not take 4: it reads the target
 *      vCPU with one atomic load (bug E).
 * Leaf locks that nest under anything: the evtchn device's ring locks,
 * per-vCPU call and timer locks, the heap and page allocator, console.
 * Every spinlock's slow path is lock/pvlock.c, which takes no lock.
 *
 * Bind:   allocate descriptor, hypercall for the port, fill irq_info,
 *         publish port -> irq (only now can the upcall find it), drop the
 *         lock, install the action, unmask (startup).
 * Unbind: remove the action and mask (free_irq, which also waits for
 *         handlers on every vCPU), clear every mapping of the port, and
 *         only THEN close it (bug B: Xen hands the closed port to the next
 *         bind at once, and a late clear would wipe that bind's mapping),
 *         then wait a grace period and free.
 */
#include "internal.h"
#include <xenith/lockorder.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/mm.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/quiesce.h>
#include <xenith/string.h>
#include <xen/errno.h>

struct mutex evtchn_mapping_lock =
    MUTEX_INIT_RANKED(RANK_MAPPING, "evtchn_mapping_lock");

DEFINE_INJECT(bind_before_publish, "bind.before_publish");
DEFINE_INJECT(unbind_after_shutdown, "unbind.after_shutdown");
DEFINE_INJECT(unbind_before_free, "unbind.before_free");

bool evtchn_virq_is_percpu(unsigned int virq)
{
    return virq == VIRQ_TIMER || virq == VIRQ_DEBUG ||
           virq == VIRQ_XENOPROF || virq == VIRQ_XENPMU;
}

/* A descriptor with its irq_info, type set, no port yet. */
int new_irq(enum evt_type type, enum irq_flow flow, unsigned int cpu)
{
    struct irq_info *info;
    int irq;

    /* Binding allocates a descriptor: never inside the locked steps of a
     * vCPU's bring-up or tear-down (bug D; irq_alloc asserts it too). */
    if (mutex_held(&irq_alloc_lock))
        panic("events: bind under the hotplug allocation lock (bug D)");
    info = kmalloc(sizeof(*info));
    if (!info)
        return -XEN_ENOMEM;
    memset(info, 0, sizeof(*info));
    info->type = type;
    info->lock = (spinlock_t)SPINLOCK_INIT_RANKED(RANK_INFO, "info->lock");
    info->mask_reasons = MASK_EXPLICIT;         /* live only at startup */
    irq = irq_alloc(&evtchn_chip, info, flow, cpu);
    if (irq < 0) {
        kfree(info);
        return irq;
    }
    info->irq = irq;
    return irq;
}

/* The irq was never reachable from the upcall: free it at once. */
void drop_unpublished(int irq)
{
    struct irq_info *info = desc_info(irq_to_desc(irq));

    irq_free(irq);
    kfree(info);
}

/* Make port -> irq visible; irq_info is complete before this (the
 * invariant: the upcall never finds a half-built binding). */
int evtchn_publish(struct irq_info *info, evtchn_port_t port,
                   unsigned int cpu)
{
    bool timer = info->type == EVT_VIRQ && info->u.virq == VIRQ_TIMER;
    int rc = evtchn_abi->setup_port(port, timer);

    if (rc)
        return rc;
    /* Live only at startup (MASK_EXPLICIT), whatever the number's last
     * user, raw ports of tests included, left in its mask bit. */
    port_mask(port);
    __atomic_store_n(&info->port, port, __ATOMIC_RELEASE);
    port_bind_to_cpu(port, cpu);
    inject(&inject_bind_before_publish, port);
    return evtchn_map_set(port, info->irq);
}

/* Bind the port to cpu in Xen (ports start on vCPU0). */
long evtchn_bind_vcpu_port(evtchn_port_t port, unsigned int cpu)
{
    struct evtchn_bind_vcpu b = { .port = port, .vcpu = cpu };

    return cpu ? hyp_event_channel_op(EVTCHNOP_bind_vcpu, &b) : 0;
}

long evtchn_close(evtchn_port_t port)
{
    struct evtchn_close c = { .port = port };
    long rc = hyp_event_channel_op(EVTCHNOP_close, &c);

    if (rc)
        pr_err("events: EVTCHNOP_close(port %u) failed: %ld\n", port, rc);
    return rc;
}

/*
 * Finish a bind, under the mapping lock, after the hypercall (rc): publish
 * the port and the per-vCPU table slot (if any), drop the lock, install
 * the action.  On failure nothing was published: close the port if this
 * bind opened it, and free the descriptor.
 */
static int finish_bind(int irq, long rc, evtchn_port_t port, unsigned int cpu,
                       int *slot, bool opened, const struct evt_action *a)
{
    if (rc >= 0)
        rc = evtchn_publish(desc_info(irq_to_desc(irq)), port, cpu);
    if (rc >= 0 && slot)
        __atomic_store_n(slot, irq, __ATOMIC_RELEASE);
    mutex_unlock(&evtchn_mapping_lock);
    if (rc < 0) {
        if (port) {
            evtchn_map_clear(port);
            if (opened)
                (void)evtchn_close(port);
        }
        drop_unpublished(irq);
        return rc;
    }
    rc = request_irq(irq, a->handler, a->data, a->name);
    if (rc < 0) {
        unbind(irq);
        return rc;
    }
    return irq;
}

/*
 * The first half of every bind: take the mapping lock, refuse if what
 * the bind would publish is taken already (slot: a per-vCPU table entry;
 * port: an existing port's mapping), allocate the descriptor.  Returns the
 * irq with the lock HELD (finish_bind drops it), or -errno with it
 * dropped.
 */
static int begin_bind(const int *slot, evtchn_port_t port, enum evt_type type,
                      enum irq_flow flow, unsigned int cpu)
{
    int irq;

    mutex_lock(&evtchn_mapping_lock);
    if ((slot && *slot >= 0) || (port && evtchn_to_irq(port) >= 0)) {
        mutex_unlock(&evtchn_mapping_lock);
        return -XEN_EEXIST;
    }
    irq = new_irq(type, flow, cpu);
    if (irq < 0)
        mutex_unlock(&evtchn_mapping_lock);
    return irq;
}

static enum irq_flow flow_of(const struct evt_action *a)
{
    return a->late_eoi ? IRQ_FLOW_LATE_EOI : IRQ_FLOW_EDGE;
}

int bind_virq(unsigned int virq, unsigned int cpu, const struct evt_action *a)
{
    bool percpu = evtchn_virq_is_percpu(virq);
    struct evtchn_bind_virq b = { .virq = virq, .vcpu = percpu ? cpu : 0 };
    struct percpu *pc = &percpu_area[cpu];
    long rc;
    int irq;

    if (virq >= NR_VIRQS_TRACKED || cpu >= MAX_VCPUS)
        return -XEN_EINVAL;
    if (percpu && a->late_eoi)
        return -XEN_EINVAL;             /* see bind_ipi */
    irq = begin_bind(&pc->virq_to_irq[virq], 0, EVT_VIRQ,
                     percpu ? IRQ_FLOW_PERCPU : flow_of(a), cpu);
    if (irq < 0)
        return irq;
    desc_info(irq_to_desc(irq))->u.virq = virq;
    rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &b);
    if (!rc && !percpu && evtchn_bind_vcpu_port(b.port, cpu)) {
        (void)evtchn_close(b.port);     /* global VIRQs start on vCPU0 */
        rc = -XEN_EINVAL;
    }
    return finish_bind(irq, rc, rc ? 0 : b.port, cpu, &pc->virq_to_irq[virq],
                       true, a);
}

int bind_ipi(enum ipi ipi, unsigned int cpu, const struct evt_action *a)
{
    struct evtchn_bind_ipi b = { .vcpu = cpu };
    struct percpu *pc = &percpu_area[cpu];
    long rc;
    int irq;

    if (ipi >= NR_IPIS || cpu >= MAX_VCPUS)
        return -XEN_EINVAL;
    /* A per-vCPU flow is never left masked for a late EOI (its handler
     * runs on one vCPU, with nothing to move): refused here, rather than
     * bound as edge and a BUG at the handler's irq_eoi (torture found
     * the silent downgrade). */
    if (a->late_eoi)
        return -XEN_EINVAL;
    irq = begin_bind(&pc->ipi_to_irq[ipi], 0, EVT_IPI, IRQ_FLOW_PERCPU, cpu);
    if (irq < 0)
        return irq;
    desc_info(irq_to_desc(irq))->u.ipi = ipi;
    rc = hyp_event_channel_op(EVTCHNOP_bind_ipi, &b);
    return finish_bind(irq, rc, rc ? 0 : b.port, cpu, &pc->ipi_to_irq[ipi],
                       true, a);
}

int bind_interdomain(domid_t dom, evtchn_port_t remote_port,
                     const struct evt_action *a)
{
    struct evtchn_bind_interdomain b = {
        .remote_dom = dom, .remote_port = remote_port,
    };
    long rc;
    int irq;

    irq = begin_bind(NULL, 0, EVT_EVTCHN, flow_of(a), 0);
    if (irq < 0)
        return irq;
    desc_info(irq_to_desc(irq))->u.remote_dom = dom;
    rc = hyp_event_channel_op(EVTCHNOP_bind_interdomain, &b);
    return finish_bind(irq, rc, rc ? 0 : b.local_port, 0, NULL, true, a);
}

int bind_evtchn(evtchn_port_t port, const struct evt_action *a)
{
    int irq;

    if (!port)
        return -XEN_EINVAL;
    irq = begin_bind(NULL, port, EVT_EVTCHN, flow_of(a), 0);
    if (irq < 0)
        return irq;
    /* Not ours to close on failure: the caller allocated it. */
    return finish_bind(irq, 0, port, 0, NULL, false, a);
}

long evtchn_alloc_unbound(domid_t remote, evtchn_port_t *port)
{
    struct evtchn_alloc_unbound u = { .dom = DOMID_SELF, .remote_dom = remote };
    long rc = hyp_event_channel_op(EVTCHNOP_alloc_unbound, &u);

    if (!rc)
        rc = evtchn_port_prepare(u.port);
    if (!rc)
        *port = u.port;
    return rc;
}

/* The per-vCPU tables that may name irq, cleared under the mapping lock. */
static void clear_cpu_tables(struct irq_info *info, unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];

    if (info->type == EVT_VIRQ && pc->virq_to_irq[info->u.virq] == info->irq)
        __atomic_store_n(&pc->virq_to_irq[info->u.virq], -1, __ATOMIC_RELEASE);
    if (info->type == EVT_IPI && pc->ipi_to_irq[info->u.ipi] == info->irq)
        __atomic_store_n(&pc->ipi_to_irq[info->u.ipi], -1, __ATOMIC_RELEASE);
}

void unbind(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);
    struct irq_info *info;
    evtchn_port_t port;

    BUG_ON(!d || d->chip != &evtchn_chip);
    info = desc_info(d);
    /* 1. No handler runs or will run: action gone, port masked, and every
     *    vCPU that was in the handler has left it.  The caller must not
     *    hold any lock the handler takes (bug A). */
    if (d->handler)
        free_irq(irq);
    inject(&inject_unbind_after_shutdown, info_port(info));

    /* 2. Clear every mapping of the port, then close it (bug B). */
    mutex_lock(&evtchn_mapping_lock);
    port = info_port(info);
    clear_cpu_tables(info, irq_target_cpu(d));
    if (info->type == EVT_PIRQ)
        pirq_unbind_clear(info);        /* its port went in shutdown */
    if (port && info->type != EVT_PIRQ) {
        evtchn_map_clear(port);
        __atomic_store_n(&info->port, 0, __ATOMIC_RELEASE);
        port_bind_to_cpu(port, 0);
#ifndef BUG_B_CLOSE_BEFORE_CLEAR
        evtchn_abi->before_close(port);
        (void)evtchn_close(port);
#endif
    }
    mutex_unlock(&evtchn_mapping_lock);

    /* 3. An upcall on another vCPU may have looked the irq up before the
     *    clear; free only once every vCPU has left its upcall loop. */
    inject(&inject_unbind_before_free, port);
#ifndef SCENARIO_12_FREE_NOT_DEFERRED
    grace_wait();
#endif
    irq_free(irq);
    kfree(info);
}

evtchn_port_t irq_to_port(int irq)
{
    struct irq_info *info = irq_info_of(irq);

    return info ? info_port(info) : 0;
}

long evtchn_send(evtchn_port_t port)
{
    struct evtchn_send s = { .port = port };

    return hyp_event_channel_op(EVTCHNOP_send, &s);
}

long notify_remote_via_irq(int irq)
{
    evtchn_port_t port = irq_to_port(irq);

    return port ? evtchn_send(port) : -XEN_EINVAL;
}

evtchn_port_t ipi_call_port(unsigned int cpu)
{
    return __atomic_load_n(&percpu_area[cpu].call_port, __ATOMIC_ACQUIRE);
}

/*
 * The call IPI is sent from any context to a vCPU that may be going down
 * meanwhile: reading its irq, descriptor and irq_info here raced with
 * their free in DEAD (use after free), and a port read before the close
 * could be sent to after it was reused (regress.kick_idle_vs_unbind).
 * So it reads only the published port, and sends, in one read-side
 * section that DEAD waits out before it closes the port.  The other IPIs
 * are bound and unbound by their users, never under a sender.
 */
long ipi_try_send(unsigned int cpu, enum ipi ipi)
{
    struct read_section rs;
    evtchn_port_t port;
    long rc;

    if (ipi != IPI_CALL)
        return notify_remote_via_irq(
            __atomic_load_n(&percpu_area[cpu].ipi_to_irq[ipi],
                            __ATOMIC_ACQUIRE));
    rs = quiesce_read_begin();
    port = ipi_call_port(cpu);
    rc = port ? evtchn_send(port) : -XEN_EINVAL;
    quiesce_read_end(rs);
    return rc;
}

void ipi_send(unsigned int cpu, enum ipi ipi)
{
    long rc = ipi_try_send(cpu, ipi);

    if (rc)
        panic("events: IPI %u to vCPU%u failed: %ld", ipi, cpu, rc);
}

void evtchn_port_mask(evtchn_port_t port) { port_mask(port); }
bool evtchn_port_pending(evtchn_port_t port) { return port_is_pending(port); }
bool evtchn_port_clear_pending(evtchn_port_t port) { return port_clear_pending(port); }
void evtchn_port_set_pending(evtchn_port_t port) { port_set_pending(port); }
bool evtchn_port_masked(evtchn_port_t port) { return port_is_masked(port); }

void evtchn_port_unmask(evtchn_port_t port)
{
    port_unmask(port);
}
