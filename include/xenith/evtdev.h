/*
 * The in-kernel evtchn device (drivers/evtchn.c): what Linux's
 * /dev/xen/evtchn offers a user process, as calls.  A user binds ports;
 * each event on one is queued for evtdev_read() and the port stays masked
 * until the user re-enables it.  Every call returns 0 (or a port, or a
 * count) on success and -errno (Xen's values) on failure.
 */
#ifndef XENITH_EVTDEV_H
#define XENITH_EVTDEV_H

#include <xenith/types.h>
#include <xen/event_channel.h>

#define EVTDEV_MAX_PORTS 256
#define EVTDEV_RING_SIZE 512    /* pending ports queued before overflow */

struct evtdev_user;

struct evtdev_user *evtdev_open(void);
/* Global VIRQs only (delivered to vCPU0, as Linux's device does). */
long evtdev_bind_virq(struct evtdev_user *u, unsigned int virq);
long evtdev_bind_interdomain(struct evtdev_user *u, domid_t dom,
                             evtchn_port_t remote_port);
long evtdev_bind_unbound_port(struct evtdev_user *u, domid_t remote_dom);
long evtdev_unbind(struct evtdev_user *u, evtchn_port_t port);
long evtdev_notify(struct evtdev_user *u, evtchn_port_t port);
/* Up to n pending ports, oldest first; -EOVERFLOW once the ring
 * overflowed (until evtdev_reset), as Linux's read() gives -EFBIG;
 * -ENOTCONN once after the domain was restored or migrated: every port
 * of the user is gone (kernel/suspend.c). */
long evtdev_read(struct evtdev_user *u, evtchn_port_t *ports, unsigned int n);
/* Unmask ports after their events were consumed. */
long evtdev_reenable(struct evtdev_user *u, const evtchn_port_t *ports,
                     unsigned int n);
/* Empty the ring and clear an overflow. */
void evtdev_reset(struct evtdev_user *u);
/* Unbind every port and free the user. */
void evtdev_release(struct evtdev_user *u);

/* For tests: the irq behind a bound port (-1 if none). */
int evtdev_port_irq(struct evtdev_user *u, evtchn_port_t port);

#endif
