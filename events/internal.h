/*
 * What events/ shares between its files; nothing outside events/ may
 * include this.  The lock hierarchy is at the top of events/bind.c.
 */
#ifndef XENITH_EVENTS_INTERNAL_H
#define XENITH_EVENTS_INTERNAL_H

#include <xenith/events.h>
#include <xenith/irq.h>
#include <xenith/mutex.h>
#include <xenith/spinlock.h>

enum evt_type { EVT_UNBOUND, EVT_PIRQ, EVT_VIRQ, EVT_IPI, EVT_EVTCHN };

/* mask_reasons: the port is unmasked only when none is left. */
#define MASK_EXPLICIT    0x1u   /* disabled, shut down, or replay pending */
#define MASK_TEMPORARY   0x2u   /* an affinity move in progress */
#define MASK_EOI_PENDING 0x4u   /* late-EOI flow: handler not done */

/*
 * The event-channel side of an irq (desc->chip_data).  type, port and the
 * union are written under the mapping lock (a PIRQ's port: under desc->lock,
 * see events/pirq.c) before the port is published; port is read with one atomic load.
 * lock (innermost of all) protects mask_reasons and the mask bit it drives.
 */
struct irq_info {
    enum evt_type type;
    evtchn_port_t port;         /* 0 = none; Xen never hands out 0 */
    int irq;
    spinlock_t lock;
    unsigned int mask_reasons;
    union {
        unsigned int virq;
        unsigned int ipi;
        struct {
            unsigned int pirq;
            bool shareable;     /* BIND_PIRQ__WILL_SHARE */
            bool needs_eoi;     /* PHYSDEVOP_irq_status_query said so */
        } pirq;
        domid_t remote_dom;
    } u;
};

extern struct mutex evtchn_mapping_lock;
extern const struct irq_chip evtchn_chip;

static inline struct irq_info *desc_info(struct irq_desc *d)
{
    return d->chip_data;
}

/* irq's event-channel record, NULL if irq is none or not an event
 * channel's. */
static inline struct irq_info *irq_info_of(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);

    return d && d->chip == &evtchn_chip ? desc_info(d) : NULL;
}

static inline evtchn_port_t info_port(const struct irq_info *info)
{
    return __atomic_load_n(&info->port, __ATOMIC_ACQUIRE);
}

/* events/twolevel.c: the 2-level ABI. */
#define EVTCHN_NR_PORTS_2L 4096u
void evtchn_2l_init(void);
void evtchn_2l_mask(evtchn_port_t port);
void evtchn_2l_unmask(evtchn_port_t port);
bool evtchn_2l_clear_pending(evtchn_port_t port);
void evtchn_2l_set_pending(evtchn_port_t port);
bool evtchn_2l_is_pending(evtchn_port_t port);
bool evtchn_2l_is_masked(evtchn_port_t port);
void evtchn_2l_bind_to_cpu(evtchn_port_t port, unsigned int cpu);
bool evtchn_2l_owned_by(evtchn_port_t port, unsigned int cpu);
void evtchn_2l_handle_events(unsigned int cpu);

/* events/upcall.c: one port's event, from the scan. */
void evtchn_dispatch(evtchn_port_t port);

/* events/pirq.c: the port's life inside startup/shutdown. */
int pirq_startup(struct irq_desc *d);
void pirq_shutdown(struct irq_desc *d);
void pirq_eoi(struct irq_info *info);
void pirq_unbind_clear(struct irq_info *info);

/* events/bind.c, shared with pirq.c */
int evtchn_publish(struct irq_info *info, evtchn_port_t port,
                   unsigned int cpu);
long evtchn_bind_vcpu_port(evtchn_port_t port, unsigned int cpu);
int new_irq(enum evt_type type, enum irq_flow flow, unsigned int cpu);
void drop_unpublished(int irq);

/* events/chip.c */
void info_mask(struct irq_info *info, unsigned int reason);
void info_unmask(struct irq_info *info, unsigned int reason);

#endif
