/*
 * The consistency oracle: what the kernel believes about each port,
 * against what Xen says (EVTCHNOP_status).  For every port Xen reports:
 * open in Xen but unmapped here is a leak or a lost mapping (bug B's
 * symptom); mapped here but closed in Xen is a stale mapping; otherwise
 * the binding type and the vCPU must match.  Then every mapping above
 * Xen's range must not exist.  And the ABI's bits: a bound port is masked
 * exactly when it has a mask reason; under FIFO a closed port is not
 * LINKED (its number could never be linked again: mutant F), and a bound,
 * unmasked, pending port is on a queue (else its event is stranded).
 * Each disagreement is printed.
 */
#include "internal.h"
#include <xenith/cpu.h>
#include <xenith/evtchn.h>
#include <xenith/printk.h>
#include <xenith/time.h>
#include <xen/errno.h>

static const char *type_name(enum evt_type t)
{
    static const char *const names[] = {
        "unbound", "pirq", "virq", "ipi", "evtchn",
    };
    return t < ARRAY_SIZE(names) ? names[t] : "?";
}

static bool type_agrees(const struct irq_info *info,
                        const struct evtchn_status *st)
{
    switch (info->type) {
    case EVT_VIRQ:
        return st->status == EVTCHNSTAT_virq && st->u.virq == info->u.virq;
    case EVT_IPI:
        return st->status == EVTCHNSTAT_ipi;
    case EVT_EVTCHN:
        return st->status == EVTCHNSTAT_interdomain ||
               st->status == EVTCHNSTAT_unbound;
    case EVT_PIRQ:
        return st->status == EVTCHNSTAT_pirq &&
               st->u.pirq == info->u.pirq.pirq;
    default:
        return false;
    }
}

/* Ports used without an irq (polled rings): the oracle leaves them be. */
#define MAX_RESERVED 4
static struct { evtchn_port_t port; const char *owner; } reserved[MAX_RESERVED];

void evtchn_reserve_port(evtchn_port_t port, const char *owner)
{
    if (evtchn_port_prepare(port))
        pr_err("events: port %u (%s) has no event word\n", port, owner);
    /* An owner has one port: a ring attached again after a resume
     * replaces its old one. */
    for (unsigned int i = 0; i < MAX_RESERVED; i++) {
        if (reserved[i].port && reserved[i].owner == owner) {
            __atomic_store_n(&reserved[i].port, port, __ATOMIC_RELEASE);
            return;
        }
    }
    for (unsigned int i = 0; i < MAX_RESERVED; i++) {
        if (!reserved[i].port) {
            reserved[i].owner = owner;
            __atomic_store_n(&reserved[i].port, port, __ATOMIC_RELEASE);
            return;
        }
    }
    pr_err("events: no room to reserve port %u for %s\n", port, owner);
}

static bool is_reserved(evtchn_port_t port)
{
    for (unsigned int i = 0; i < MAX_RESERVED; i++)
        if (__atomic_load_n(&reserved[i].port, __ATOMIC_ACQUIRE) == port)
            return true;
    return false;
}

/* The mask bit against the mask reasons, under the lock that keeps them
 * in step (events/chip.c). */
static unsigned int check_mask(evtchn_port_t port, struct irq_info *info)
{
    unsigned long f = spin_lock_irqsave(&info->lock);
    unsigned int reasons = info->mask_reasons;
    bool masked = port_is_masked(port);

    spin_unlock_irqrestore(&info->lock, f);
    if (masked == (reasons != 0))
        return 0;
    ktap("    # oracle: port %u is %s but its mask reasons are 0x%x\n", port,
         masked ? "masked" : "unmasked", reasons);
    return 1;
}

/*
 * FIFO: pending and unmasked, yet on no queue and in no consumer's hand.
 * A port passes through that state for a moment: Xen sets PENDING before
 * it links, and a consumer unlinks (in hand) before it clears PENDING.
 * Either may be preempted there, 4 vCPUs on 2 pCPUs, for more than the
 * 10 ms this once waited (make test failed so once, after
 * regress.hotplug_alloc_lock).  A stranded event stays stranded, so it is
 * watched for a bound instead, and passes the moment it moves on.
 */
#define STRANDED_NS     (200 * NSEC_PER_MSEC)

static bool looks_stranded(evtchn_port_t port)
{
    return port_is_pending(port) && !port_is_masked(port) &&
           !evtchn_abi->is_linked(port) && !evtchn_port_in_hand(port);
}

static void report_stranded(evtchn_port_t port, unsigned int xen_vcpu)
{
    unsigned int owner = MAX_VCPUS;

    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (port_owned_by(port, c))
            owner = c;
    ktap("    # oracle: port %u is pending and unmasked but on no FIFO queue "
         "for %u ms: its event is stranded (Xen's vCPU%u; owner vCPU%u, %s)\n",
         port, (unsigned int)(STRANDED_NS / NSEC_PER_MSEC), xen_vcpu, owner,
         owner < MAX_VCPUS ? cpu_state_name(cpu_state(owner)) : "none");
}

static unsigned int check_stranded(evtchn_port_t port, unsigned int xen_vcpu)
{
    uint64_t until = time_now_ns() + STRANDED_NS;

    while (looks_stranded(port)) {
        if (time_now_ns() > until) {
            report_stranded(port, xen_vcpu);
            return 1;
        }
        mdelay(1);
    }
    return 0;
}

static unsigned int check_port(evtchn_port_t port,
                               const struct evtchn_status *st)
{
    if (st->status == EVTCHNSTAT_closed && evtchn_abi->is_linked(port)) {
        ktap("    # oracle: port %u is closed in Xen but still LINKED on a "
             "FIFO queue\n", port);
        return 1;
    }
    if (is_reserved(port) && evtchn_to_irq(port) < 0)
        return 0;
    int irq = evtchn_to_irq(port);
    struct irq_desc *d = irq_to_desc(irq);
    struct irq_info *info = d ? desc_info(d) : NULL;
    bool open = st->status != EVTCHNSTAT_closed;

    if (irq >= 0 && !d) {
        ktap("    # oracle: port %u maps to irq %d, which does not exist\n",
             port, irq);
        return 1;
    }
    if (!info && open) {
        ktap("    # oracle: port %u is open in Xen (status %u) but the "
             "kernel has no mapping for it\n", port, st->status);
        return 1;
    }
    if (info && !open) {
        ktap("    # oracle: port %u maps to irq %d (%s) but Xen has it "
             "closed\n", port, irq, type_name(info->type));
        return 1;
    }
    if (!info)
        return 0;
    if (info_port(info) != port) {
        ktap("    # oracle: port %u maps to irq %d, whose port is %u\n", port,
             irq, info_port(info));
        return 1;
    }
    if (!type_agrees(info, st)) {
        ktap("    # oracle: port %u is %s in the kernel, Xen status %u\n",
             port, type_name(info->type), st->status);
        return 1;
    }
    if (st->vcpu != irq_target_cpu(d)) {
        ktap("    # oracle: port %u targets vCPU%u in the kernel, vCPU%u in "
             "Xen\n", port, irq_target_cpu(d), st->vcpu);
        return 1;
    }
    if (check_mask(port, info))
        return 1;
    /* On a vCPU that is down, a pending port waits off the queues until
     * it comes back (fifo.c, relink_owned): parked, not stranded. */
    if (evtchn_abi != &evtchn_abi_fifo || !cpu_online(st->vcpu))
        return 0;
    return check_stranded(port, st->vcpu);
}

int evtchn_oracle_check(void)
{
    struct evtchn_status st;
    evtchn_port_t port;
    unsigned int bad = 0;

    for (port = 1; port < evtchn_abi->nr_ports; port++) {
        long rc = evtchn_port_status(port, &st);

        if (rc == -XEN_EINVAL)
            break;                      /* past Xen's range for us */
        if (rc < 0) {
            ktap("    # oracle: EVTCHNOP_status(%u) failed: %ld\n", port, rc);
            return bad + 1;
        }
        bad += check_port(port, &st);
    }
    for (; port < evtchn_abi->nr_ports; port++) {
        if (evtchn_to_irq(port) >= 0) {
            ktap("    # oracle: port %u maps to irq %d but Xen has no such "
                 "port\n", port, evtchn_to_irq(port));
            bad++;
        }
    }
    return bad;
}
