/*
 * The consistency oracle: what the kernel believes about each port,
 * against what Xen says (EVTCHNOP_status).  For every port Xen reports:
 * open in Xen but unmapped here is a leak or a lost mapping (bug B's
 * symptom); mapped here but closed in Xen is a stale mapping; otherwise
 * the binding type and the vCPU must match.  Then every mapping above
 * Xen's range must not exist.  Each disagreement is printed.
 */
#include "internal.h"
#include <xenith/evtchn.h>
#include <xenith/printk.h>
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

static unsigned int check_port(evtchn_port_t port,
                               const struct evtchn_status *st)
{
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
    return 0;
}

int evtchn_oracle_check(void)
{
    struct evtchn_status st;
    evtchn_port_t port;
    unsigned int bad = 0;

    for (port = 1; port < EVTCHN_NR_PORTS_2L; port++) {
        long rc = evtchn_port_status(port, &st);

        if (rc == -XEN_EINVAL)
            break;                      /* past Xen's range for us */
        if (rc < 0) {
            ktap("    # oracle: EVTCHNOP_status(%u) failed: %ld\n", port, rc);
            return bad + 1;
        }
        bad += check_port(port, &st);
    }
    for (; port < EVTCHN_NR_PORTS_2L; port++) {
        if (evtchn_to_irq(port) >= 0) {
            ktap("    # oracle: port %u maps to irq %d but Xen has no such "
                 "port\n", port, evtchn_to_irq(port));
            bad++;
        }
    }
    return bad;
}
