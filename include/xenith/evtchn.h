/*
 * Event channels.  For now: Xen's view of this domain's ports, which the
 * self-test runner compares before and after every test so a test that
 * leaves a port open fails.
 */
#ifndef XENITH_EVTCHN_H
#define XENITH_EVTCHN_H

#include <xenith/types.h>
#include <xen/event_channel.h>

/* EVTCHNOP_status for one of our ports: 0 or -errno. */
long evtchn_port_status(evtchn_port_t port, struct evtchn_status *st);
/* How many of our ports Xen does not consider closed, or -errno. */
long evtchn_count_open(void);

#endif
