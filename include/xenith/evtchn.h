/*
 * Xen's view of this domain's ports, which the self-test runner compares
 * before and after every test (a test that leaves a port open fails) and
 * with the kernel's own tables (the consistency oracle).
 */
#ifndef XENITH_EVTCHN_H
#define XENITH_EVTCHN_H

#include <xenith/types.h>
#include <xen/event_channel.h>

/* EVTCHNOP_status for one of our ports: 0 or -errno. */
long evtchn_port_status(evtchn_port_t port, struct evtchn_status *st);
/* How many of our ports Xen does not consider closed, or -errno. */
long evtchn_count_open(void);
/* Compare the kernel's port tables with Xen's view (events/oracle.c);
 * prints each disagreement as a KTAP diagnostic, returns how many. */
int evtchn_oracle_check(void);

#endif
