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

/*
 * What differs between the event-channel ABIs (events/abi.c picks one at
 * boot; events/twolevel.c, events/fifo.c).  Everything else in events/,
 * the oracle and the evtchn device go through these and stay ABI-blind.
 * Port operations may run in any context, interrupts off included; none
 * takes a lock but the ones named.
 */
struct evtchn_abi {
    const char *name;
    /* Set up on vCPU0 before any bind: 0, or -errno if Xen refuses. */
    long (*init)(void);
    /* Ports the ABI can name (the oracle's and report's range). */
    unsigned int nr_ports;
    /* Before vCPU cpu first runs, outside the allocation lock. */
    int (*prepare_cpu)(unsigned int cpu);
    /* On vCPU cpu itself as it leaves: interrupts off, its irqs moved
     * off it, nothing of ours will run on it again.  What it holds for
     * other vCPUs goes to them now, not when the controller sees it
     * gone (hotplug.stress: 2 ms late).  Events after it: cpu_dead. */
    void (*cpu_stopping)(unsigned int cpu);
    /* vCPU cpu has stopped (DEAD), before its own ports are unbound:
     * nothing it left behind may keep a port from being delivered.
     * Hotplug lock held, no events/ lock (events_dead_cpu). */
    void (*cpu_dead)(unsigned int cpu);
    /* Before port is published (mapping lock, or desc->lock for a PIRQ):
     * make it deliverable (FIFO: event array page, priority). */
    int (*setup_port)(evtchn_port_t port, bool high_priority);
    /* Before EVTCHNOP_close (mapping lock, or desc->lock for a PIRQ's
     * shutdown, interrupts off): nothing of the port may outlive it and
     * catch the next bind of its number (mutant F). */
    void (*before_close)(evtchn_port_t port);
    void (*bind_to_cpu)(evtchn_port_t port, unsigned int cpu);
    bool (*owned_by)(evtchn_port_t port, unsigned int cpu);
    void (*mask)(evtchn_port_t port);
    void (*unmask)(evtchn_port_t port);
    bool (*is_masked)(evtchn_port_t port);
    bool (*is_pending)(evtchn_port_t port);
    void (*set_pending)(evtchn_port_t port);
    bool (*clear_pending)(evtchn_port_t port);
    /* On a queue in Xen's sense (FIFO LINKED); 2-level: never. */
    bool (*is_linked)(evtchn_port_t port);
    /* One pass of cpu's upcall: interrupts off, on cpu itself. */
    void (*handle_events)(unsigned int cpu);
    /* Pages the ABI took from the allocator and keeps (leak checks). */
    unsigned int (*kept_pages)(void);
    /* A hang report's line on cpu's ABI state: lock-free, last words. */
    void (*report_cpu)(unsigned int cpu);
    /* In the new domain after a resume (events/resume.c), interrupts off,
     * the other vCPUs parked, before any port: set up again what Xen
     * forgot (FIFO: control blocks, event array), every port masked and
     * on vCPU0.  0 or -errno. */
    long (*resume)(void);
};

extern const struct evtchn_abi *evtchn_abi;
extern const struct evtchn_abi evtchn_abi_2l, evtchn_abi_fifo;

/* Events handled per pass before the upcall starts over with the timer:
 * a storm on many ports cannot starve the timer (evtchn.fair_scan). */
#define EVENTS_PER_PASS 64u

static inline void port_mask(evtchn_port_t p) { evtchn_abi->mask(p); }
static inline void port_unmask(evtchn_port_t p) { evtchn_abi->unmask(p); }
static inline bool port_is_masked(evtchn_port_t p)
{
    return evtchn_abi->is_masked(p);
}
static inline bool port_is_pending(evtchn_port_t p)
{
    return evtchn_abi->is_pending(p);
}
static inline void port_set_pending(evtchn_port_t p)
{
    evtchn_abi->set_pending(p);
}
static inline bool port_clear_pending(evtchn_port_t p)
{
    return evtchn_abi->clear_pending(p);
}
static inline void port_bind_to_cpu(evtchn_port_t p, unsigned int cpu)
{
    evtchn_abi->bind_to_cpu(p, cpu);
}
static inline bool port_owned_by(evtchn_port_t p, unsigned int cpu)
{
    return evtchn_abi->owned_by(p, cpu);
}

/* events/abi.c */
void evtchn_abi_init(void);

/* events/upcall.c: one port's event, from the scan; or, for a port
 * found on a queue that is not its owner's, back to Xen for its owner. */
void evtchn_dispatch(evtchn_port_t port);
void evtchn_redeliver(evtchn_port_t port);

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
bool evtchn_virq_is_percpu(unsigned int virq);

/* events/map.c: every port -> irq mapping gone (resume: new ports). */
void evtchn_map_clear_all(void);
void drop_unpublished(int irq);

/* events/chip.c */
void info_mask(struct irq_info *info, unsigned int reason);
void info_unmask(struct irq_info *info, unsigned int reason);
void evtchn_hand_back(int irq, evtchn_port_t port);

#endif
