/*
 * The PV console ring of a domU (drivers/xencons.c).  console_write uses
 * it as the "xen" sink whenever the kernel is not dom0.
 *
 * Everything here runs under console_lock (drivers/console.c): writes
 * through console_write, flushes through console_flush.  A ring's state
 * (our index, stalled, broken) and its port's pending bit, which a waiter
 * clears before it polls, belong to whoever holds that lock.
 */
#ifndef XENITH_XENCONS_H
#define XENITH_XENCONS_H

#include <xenith/types.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/io/console.h>

/* One console ring, our side of it. */
struct xencons {
    struct xencons_interface *ring;
    evtchn_port_t port;         /* to the backend; masked, only polled */
    XENCONS_RING_IDX prod;      /* ours; published as out_prod */
    bool broken;                /* the backend's index went out of range */
    bool stalled;               /* a wait for space timed out */
    uint64_t dropped;
};

/* Map this domU's ring (after paging_init).  0, or -errno: no ring (dom0). */
int xencons_init(void);
int xencons_resume(void);       /* console_resume, after a resume */
/* Copy out to this domU's ring (or the early buffer before it exists),
 * waiting (bounded) for the backend. */
void xencons_write(const char *s, size_t n);
/* Wait (bounded) until the backend has read everything; false if not. */
bool xencons_flush(void);
bool xencons_active(void);
uint64_t xencons_dropped(void);
/* What was written before the ring existed (for a fallback sink). */
size_t xencons_early(const char **buf);

/* Any ring, e.g. a self-test's stand-in whose "backend" is the test: a
 * page it owns and one end of a loopback port pair.  -EINVAL if the
 * page's indices are already out of range. */
int xencons_ring_init(struct xencons *c, struct xencons_interface *ring,
                      evtchn_port_t port);
void xencons_ring_write(struct xencons *c, const char *s, size_t n);
bool xencons_ring_flush(struct xencons *c);

#endif
