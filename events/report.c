/*
 * What a hung self-test's report (kernel/hang_report.c) says about
 * events: where each vCPU's upcall stands, and every port that is
 * pending.  A lost event shows up here as a pending, unmasked port whose
 * owner has no upcall pending and is not in its upcall loop.
 *
 * These are last words, printed from a timer interrupt while the hung
 * test may still run on other vCPUs: no lock is taken, every value is
 * one atomic load, and a value may be mid-change.
 */
#include "internal.h"
#include <xenith/printk.h>

/* Enough to show a storm without drowning the console ring. */
#define MAX_PORT_LINES 32u

static const char *const type_names[] = {
    [EVT_UNBOUND] = "unbound", [EVT_PIRQ] = "pirq", [EVT_VIRQ] = "virq",
    [EVT_IPI] = "ipi", [EVT_EVTCHN] = "interdomain",
};

static int owner_of(evtchn_port_t port)
{
    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (port_owned_by(port, c))
            return (int)c;
    return -1;
}

void evtchn_report_cpu(unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];
    struct vcpu_info *vi = __atomic_load_n(&pc->vcpu_info, __ATOMIC_ACQUIRE);
    evtchn_port_t call_port = ipi_call_port(cpu);

    if (!vi)
        return;
    ktap("    #   upcall pending %u, mask %u; %s; %llu upcalls, %llu events\n",
         __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_ACQUIRE),
         __atomic_load_n(&vi->evtchn_upcall_mask, __ATOMIC_ACQUIRE),
         __atomic_load_n(&pc->upcall_seq, __ATOMIC_ACQUIRE) & 1
             ? "in its upcall loop" : "not in its upcall loop",
         (unsigned long long)__atomic_load_n(&pc->upcalls, __ATOMIC_RELAXED),
         (unsigned long long)__atomic_load_n(&pc->events, __ATOMIC_RELAXED));
    evtchn_abi->report_cpu(cpu);
    if (call_port)
        ktap("    #   call IPI: port %u, pending %d, masked %d\n", call_port,
             port_is_pending(call_port), port_is_masked(call_port));
}

void evtchn_report_pending(void)
{
    unsigned int lines = 0, more = 0;

    for (evtchn_port_t port = 1; port < evtchn_abi->nr_ports; port++) {
        int irq;
        struct irq_info *info;

        if (!port_is_pending(port))
            continue;
        if (lines == MAX_PORT_LINES) {
            more++;
            continue;
        }
        lines++;
        irq = evtchn_to_irq(port);
        info = irq_info_of(irq);
        ktap("    # port %u pending: masked %d, linked %d, owner vCPU %d, "
             "irq %d (%s, mask reasons 0x%x)\n", port, port_is_masked(port),
             evtchn_abi->is_linked(port), owner_of(port), irq,
             info ? type_names[info->type] : "none",
             info ? __atomic_load_n(&info->mask_reasons, __ATOMIC_RELAXED)
                  : 0u);
    }
    if (!lines)
        ktap("    # no port pending\n");
    if (more)
        ktap("    # and %u more ports pending\n", more);
}
