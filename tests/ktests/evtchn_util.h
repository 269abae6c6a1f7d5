/* Helpers shared by the event-channel self-tests (tests/ktests/). */
#ifndef XENITH_TESTS_EVTCHN_UTIL_H
#define XENITH_TESTS_EVTCHN_UTIL_H

#include <xenith/events.h>
#include <xenith/string.h>

struct counter {
    int hits;                   /* atomic */
    unsigned int last_cpu;
};

/* A port pair within the domain: alloc_unbound(DOMID_SELF) gives a,
 * bind_interdomain(DOMID_SELF, a) gives b; a send on one raises the
 * other.  Both bound to irqs; irq_* < 0 once unbound. */
struct loopback {
    evtchn_port_t port_a, port_b;
    int irq_a, irq_b;
};

int loopback_open(struct loopback *lo, irq_handler_t ha, void *da,
                  irq_handler_t hb, void *db);
/* The same with whole actions (a late EOI, a name). */
int loopback_open_actions(struct loopback *lo, const struct evt_action *a,
                          const struct evt_action *b);
void loopback_close(struct loopback *lo);

/* Bounded waits (1 s): true when the condition held in time. */
bool wait_hits(struct counter *c, int n);
bool wait_count(int *v, int n);
/* The same with the caller's bound. */
bool wait_count_ns(const int *v, int n, uint64_t timeout_ns);
bool wait_flag(int *flag);

/* A handler counting into the struct counter it is given. */
void count_handler_util(int irq, void *data);

/* Bind a pirq number Xen routes nothing to (EVTCHNOP_bind_pirq accepts
 * those from an HVM-type domain): the first free one from 16 on.  The
 * irq, or the -errno that stopped the search. */
int bind_unrouted_pirq(const struct evt_action *a, unsigned int *pirq);
/* The same for a case that tests a PIRQ path (what names it): failing
 * as dom0 fails the case; as a domU it prints why the path is not
 * tested.  Callers go on only with an irq >= 0. */
int bind_test_pirq(const struct evt_action *a, unsigned int *pirq,
                   const char *what);

/*
 * Stop cpu's 100 ms housekeeping tick for the rest of the case; the
 * case's cleanup restarts it however the case ends.  Each tick's upcall
 * rescans the words its timer port shares with other ports, so it finds
 * a port left pending and unmasked with no upcall raised: where the
 * property is "Xen is told, the vCPU wakes", a tick on the target would
 * hide a lost wake-up behind a delay.  0, or smp_call_on's error.
 */
int quiet_tick_for_case(unsigned int cpu);

/* cpu_work body: unbind(*(int *)arg). */
void unbind_irq_work(void *arg);

#endif
