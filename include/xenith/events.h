/*
 * Event channels bound to irqs (events/).  Every bind returns an irq
 * whose handler is already installed and whose port is unmasked; unbind
 * tears it down in the reverse order and closes the port last.  Bind and
 * unbind run in thread context (interrupts on, not in a handler): they
 * take the sleeping-style mapping lock and wait for handlers.
 */
#ifndef XENITH_EVENTS_H
#define XENITH_EVENTS_H

#include <xenith/types.h>
#include <xenith/irq.h>
#include <xenith/percpu.h>
#include <xen/event_channel.h>

/* What runs when the event fires. */
struct evt_action {
    irq_handler_t handler;
    void *data;
    const char *name;
    bool late_eoi;              /* stay masked until irq_eoi(irq) */
};

void events_init(void);                 /* vCPU0, at boot */
void events_cpu_start(void);            /* each vCPU, on itself */
/* PREPARE / DEAD steps of a vCPU: its timer VIRQ and IPIs. */
int events_prepare_cpu(unsigned int cpu);
void events_dead_cpu(unsigned int cpu);
/* On a vCPU leaving (cpu_die_self), interrupts off, before VCPUOP_down. */
void events_cpu_stopping(void);

int bind_virq(unsigned int virq, unsigned int cpu, const struct evt_action *a);
int bind_ipi(enum ipi ipi, unsigned int cpu, const struct evt_action *a);
int bind_interdomain(domid_t dom, evtchn_port_t remote_port,
                     const struct evt_action *a);
/* A port of ours from EVTCHNOP_alloc_unbound. */
int bind_evtchn(evtchn_port_t port, const struct evt_action *a);
void unbind(int irq);

/* PIRQs (events/pirq.c): the port is bound at startup (request_irq) and
 * closed at shutdown (free_irq); bind_pirq does both steps of a bind. */
int bind_pirq(unsigned int pirq, bool shareable, const struct evt_action *a);
int pirq_to_irq(unsigned int pirq);                     /* -1 = none */
long pirq_map_gsi(unsigned int gsi, int *pirq);         /* PHYSDEVOP_map_pirq */

long evtchn_alloc_unbound(domid_t remote, evtchn_port_t *port);
/* Close a port that was never bound to an irq. */
long evtchn_close(evtchn_port_t port);
long evtchn_send(evtchn_port_t port);
evtchn_port_t irq_to_port(int irq);
long notify_remote_via_irq(int irq);
void ipi_send(unsigned int cpu, enum ipi ipi);
/* The same, for a wake-up that may race with cpu going down: -errno. */
long ipi_try_send(unsigned int cpu, enum ipi ipi);
/* cpu's call IPI port, 0 if none.  Send to it only from inside the
 * read-side section (quiesce_read_begin) it was read in: DEAD waits such
 * sections out before it closes the port. */
evtchn_port_t ipi_call_port(unsigned int cpu);

/* events/abi.c: the event-channel ABI that runs (evtchn=). */
const char *evtchn_abi_name(void);      /* "FIFO" or "2-level" */
bool evtchn_abi_is_fifo(void);
unsigned int evtchn_nr_ports(void);     /* ports the ABI can name */
/* On one of Xen's FIFO queues (LINKED); never under 2-level. */
bool evtchn_port_linked(evtchn_port_t port);
/* Taken off a FIFO queue by some vCPU's consumer or drain, not yet
 * handled or handed back: owed, though pending and on no queue. */
bool evtchn_port_in_hand(evtchn_port_t port);
/* Give a raw port (no irq) its state in the ABI: 0 or -errno. */
int evtchn_port_prepare(evtchn_port_t port);
/* Pages the ABI keeps (the FIFO event array): leak checks add them. */
unsigned int evtchn_abi_pages(void);
/* Closes that found their port still LINKED after the wait (want 0). */
extern unsigned int evtchn_fifo_close_linked;

/* Counters for tests and benchmarks. */
uint64_t evtchn_spurious_total(void);
/* Upcalls that came inside an upcall (events/upcall.c), those that
 * interrupted code with interrupts off, the first one's RIP. */
void evtchn_nested_stats(uint64_t *nested, uint64_t *if_off, uint64_t *rip);
/* Late EOIs that unmasked a port its target vCPU did not own (want 0). */
extern unsigned int evtchn_misrouted;
bool events_per_vcpu_vector(void);

/* Low-level port state, for tests that poke a port on purpose. */
void evtchn_port_mask(evtchn_port_t port);
void evtchn_port_unmask(evtchn_port_t port);
bool evtchn_port_pending(evtchn_port_t port);
bool evtchn_port_masked(evtchn_port_t port);
/* A port used without an irq (a polled ring): the oracle skips it. */
void evtchn_reserve_port(evtchn_port_t port, const char *owner);
/* For the pv-spinlock kicker, which is polled, never delivered; the
 * clear says whether the port was pending (one atomic step). */
bool evtchn_port_clear_pending(evtchn_port_t port);
void evtchn_port_set_pending(evtchn_port_t port);
/* Raise irq's port as Xen would (pending, then delivered through
 * EVTCHNOP_unmask unless a mask reason holds it): for ports Xen cannot be
 * asked to raise, such as a PIRQ with no device behind it. */
void evtchn_raise_local(int irq);

/* Across a suspend (events/resume.c, driven by kernel/suspend.c). */
void events_suspend(void);
void events_suspend_cancel(void);
bool events_same_domain(void);
void events_resume_early(void);
void events_resume(void);
unsigned int events_resume_replay(void);
/* A driver's irq on the new port its ring came back with. */
int evtchn_resume_attach(int irq, evtchn_port_t port);
/* The irq's port went with the old domain (interdomain, unbound). */
bool evtchn_port_lost(int irq);

/* events/map.c: port -> irq (-1 = none), lock-free readers.  Writers
 * other than events/ are the map's own tests. */
int evtchn_to_irq(evtchn_port_t port);
int evtchn_map_set(evtchn_port_t port, int irq);        /* 0 or -errno */
void evtchn_map_clear(evtchn_port_t port);
unsigned int evtchn_map_pages(void);
unsigned int evtchn_map_row_ports(void);
bool evtchn_map_trim_row(evtchn_port_t port);

/* events/upcall_watch.c: a vCPU halted for over a second with its upcall
 * pending and none taken is deaf; its vector is raised again, and every
 * such recovery is counted and reported, never hidden. */
struct upcall_watch_counts {
    uint64_t deaf;              /* vCPUs found deaf (re-raises asked) */
    uint64_t recovered;         /* ... whose upcall came after it */
    uint64_t unanswered;        /* ... whose upcall still did not come */
};
struct upcall_watch_stats {
    struct upcall_watch_counts lost;    /* an interrupt lost below us */
    struct upcall_watch_counts induced; /* made deaf by a self-test */
};
void upcall_watch_induce(unsigned int cpu);
void cpu_halt(void);            /* sti; hlt, seen by the watch */
void upcall_watch_tick(uint64_t now);
void upcall_watch_cpu(unsigned int cpu, uint64_t now);
void upcall_watch_stats(struct upcall_watch_stats *s);
long events_reraise_upcall(unsigned int cpu);

/* events/report.c: a hung test's last words (kernel/hang_report.c). */
void evtchn_report_cpu(unsigned int cpu);
void evtchn_report_pending(void);

#endif
