/*
 * Event channels across a suspend (kernel/suspend.c).  In the new domain
 * a restore or a migration makes, every port of the old one is gone:
 * Xen knows no binding, no event array, no upcall vector.  What code
 * holds is irq numbers, and those stay valid: only ports change.
 *  - VIRQs and IPIs are bound again on the vCPU each was on, each on its
 *    own irq, and published the way a bind publishes (complete first:
 *    the upcall never finds a half-built binding);
 *  - an interdomain or unbound port has no other end any more: its irq
 *    loses its port (unbind then closes nothing) and its owner is told
 *    (evtchn_port_lost; the evtchn device reports it to its readers);
 *    a driver whose ring the toolstack set up again (xenstore) attaches
 *    its irq to the new port (evtchn_resume_attach);
 *  - an event pending at suspend, which the old domain took with it, is
 *    raised again on its new port (IPI_CALL's queue entries would
 *    otherwise wait for the next call: control.suspend_resume_under_load
 *    counts every call).
 * All of it runs with the other vCPUs parked (interrupts off, no upcall
 * running), so no upcall looks a port up meanwhile.
 */
#include "internal.h"
#include <xenith/evtchn.h>
#include <xenith/hypercall.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xen/errno.h>

/* irqs whose event was pending at suspend: raised again after resume. */
static uint64_t replay[NR_IRQS / 64 + 1];
static unsigned int lost_ports;         /* interdomain/unbound dropped */

/* Leader, interrupts off, the others parked: note what is pending, and
 * mask every online vCPU's upcall ("events are masked" over the
 * hypercall; a cancel lifts it again). */
void events_suspend(void)
{
    for (int irq = 0; irq < NR_IRQS; irq++) {
        struct irq_info *info = irq_info_of(irq);
        evtchn_port_t port = info ? info_port(info) : 0;

        if (port && port_is_pending(port))
            replay[irq / 64] |= 1ull << (irq % 64);
        else
            replay[irq / 64] &= ~(1ull << (irq % 64));
    }
    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (cpu_online(c) && percpu_area[c].vcpu_info)
            percpu_area[c].vcpu_info->evtchn_upcall_mask = 1;
}

/* Suspend cancelled: the same domain, every port as it was. */
void events_suspend_cancel(void)
{
    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (cpu_online(c) && percpu_area[c].vcpu_info)
            percpu_area[c].vcpu_info->evtchn_upcall_mask = 0;
}

/*
 * Did the suspend hypercall return into the same domain after all?  A
 * toolstack tells a cancelled suspend by setting the return value to 1,
 * but libxc does that for an HVM guest only if HVM_PARAM_CALLBACK_IRQ is
 * set (events_init sets it for this reason), and a 0 in the same domain
 * would rebind on top of live bindings.  So ask Xen about our own call
 * IPI: a new domain has no IPI port before we bind one.
 */
bool events_same_domain(void)
{
    struct percpu *pc = this_cpu();
    evtchn_port_t port = __atomic_load_n(&pc->call_port, __ATOMIC_ACQUIRE);
    struct evtchn_status st;

    return port && !evtchn_port_status(port, &st) &&
           st.status == EVTCHNSTAT_ipi && st.vcpu == pc->cpu_id;
}

/* New domain, leader, interrupts off: the ABI and every online vCPU's
 * upcall vector, before any port exists. */
void events_resume_early(void)
{
    long rc;

    evtchn_map_clear_all();
    rc = evtchn_abi->resume();
    if (rc)
        panic("events: the %s ABI cannot start again after resume: %ld",
              evtchn_abi->name, rc);
    for (unsigned int c = 0; c < MAX_VCPUS; c++) {
        if (!cpu_online(c))
            continue;
        rc = events_reraise_upcall(c);
        if (rc)
            panic("events: no upcall for vCPU%u after resume: %ld", c, rc);
    }
}

/* Ask Xen for a new port for info on cpu; 0 or -errno. */
static long bind_again(struct irq_info *info, unsigned int cpu,
                       evtchn_port_t *port)
{
    long rc;

    if (info->type == EVT_IPI) {
        struct evtchn_bind_ipi b = { .vcpu = cpu };
        rc = hyp_event_channel_op(EVTCHNOP_bind_ipi, &b);
        *port = b.port;
        return rc;
    }
    {
        bool percpu = evtchn_virq_is_percpu(info->u.virq);
        struct evtchn_bind_virq b = {
            .virq = info->u.virq, .vcpu = percpu ? cpu : 0,
        };
        rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &b);
        *port = b.port;
        if (!rc && !percpu)
            rc = evtchn_bind_vcpu_port(b.port, cpu);
        return rc;
    }
}

/* Publish port for info (mapping lock held) and unmask it if nothing
 * keeps it masked: what startup did for its first port. */
static int attach(struct irq_info *info, evtchn_port_t port, unsigned int cpu)
{
    int rc = evtchn_publish(info, port, cpu);
    unsigned long f;

    if (rc)
        return rc;
    f = spin_lock_irqsave(&info->lock);
    if (!info->mask_reasons)
        port_unmask(port);
    spin_unlock_irqrestore(&info->lock, f);
    return 0;
}

static void lose(struct irq_info *info)
{
    __atomic_store_n(&info->port, 0, __ATOMIC_RELEASE);
    lost_ports++;
}

/* New domain, thread context, the others still parked. */
void events_resume(void)
{
    unsigned int rebound = 0;

    lost_ports = 0;
    mutex_lock(&evtchn_mapping_lock);
    for (int irq = 0; irq < NR_IRQS; irq++) {
        struct irq_info *info = irq_info_of(irq);
        unsigned int cpu;
        evtchn_port_t port = 0;
        long rc;

        if (!info || !info_port(info))
            continue;
        if (info->type != EVT_VIRQ && info->type != EVT_IPI) {
            lose(info);
            continue;
        }
#ifdef BUG_R_RESUME_NO_IPIS
        /* Mutant R: the IPIs are forgotten; they keep their old ports. */
        if (info->type == EVT_IPI)
            continue;
#endif
        cpu = irq_target_cpu(irq_to_desc(irq));
        rc = bind_again(info, cpu, &port);
        if (!rc)
            rc = attach(info, port, cpu);
        if (rc)
            panic("events: irq %d (%s %u) cannot be bound again on vCPU%u "
                  "after resume: %ld", irq, info->type == EVT_IPI ? "IPI" :
                  "VIRQ", info->u.virq, cpu, rc);
        rebound++;
    }
    mutex_unlock(&evtchn_mapping_lock);
    for (unsigned int c = 0; c < MAX_VCPUS; c++) {
        struct percpu *pc = &percpu_area[c];

        __atomic_store_n(&pc->call_port, pc->ipi_to_irq[IPI_CALL] >= 0 ?
                         irq_to_port(pc->ipi_to_irq[IPI_CALL]) : 0,
                         __ATOMIC_RELEASE);
        __atomic_store_n(&pc->kicker_port, pc->ipi_to_irq[IPI_KICK] >= 0 ?
                         irq_to_port(pc->ipi_to_irq[IPI_KICK]) : 0,
                         __ATOMIC_RELEASE);
    }
    pr_info("events: resumed: %u VIRQ and IPI irqs bound again, %u "
            "interdomain or unbound ports gone with the old domain\n",
            rebound, lost_ports);
}

/* What was pending at suspend comes again, once, on its new port. */
unsigned int events_resume_replay(void)
{
    unsigned int n = 0;

    for (int irq = 0; irq < NR_IRQS; irq++) {
        if (!(replay[irq / 64] & (1ull << (irq % 64))))
            continue;
        replay[irq / 64] &= ~(1ull << (irq % 64));
        if (!irq_to_port(irq))
            continue;
        evtchn_raise_local(irq);
        n++;
    }
    return n;
}

/* A driver's ring came back with a new port (xenstore): the same irq. */
int evtchn_resume_attach(int irq, evtchn_port_t port)
{
    struct irq_info *info = irq_info_of(irq);
    int rc;

    if (!info || !port)
        return -XEN_EINVAL;
    mutex_lock(&evtchn_mapping_lock);
    if (evtchn_to_irq(port) >= 0) {
        mutex_unlock(&evtchn_mapping_lock);
        return -XEN_EEXIST;
    }
    rc = attach(info, port, irq_target_cpu(irq_to_desc(irq)));
    mutex_unlock(&evtchn_mapping_lock);
    return rc;
}

/* The irq's port went with the old domain (unbind it when done). */
bool evtchn_port_lost(int irq)
{
    struct irq_info *info = irq_info_of(irq);

    return info && !info_port(info);
}
