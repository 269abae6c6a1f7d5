/*
 * The PV console ring: a domU's console.  The toolstack gives the ring's
 * frame (HVM_PARAM_CONSOLE_PFN) and an interdomain port to the backend
 * (xenconsoled) (HVM_PARAM_CONSOLE_EVTCHN); `xl console` and the guest
 * log read what we put in out[].
 *
 * Everything here runs under console_lock (drivers/console.c), interrupts
 * off: writes from console_write, flushes from console_flush.  That lock
 * is what serialises a ring's state (prod, stalled, broken, dropped) and
 * the use of its port: a waiter clears the port's pending bit and polls,
 * and a second vCPU doing the same at once would clear the wake-up meant
 * for the first.  So nothing here takes a lock or relies on an interrupt:
 * the port is not bound to an irq (it stays masked; SCHEDOP_poll still
 * sees it pending).
 *  - Flow control: output never overwrites what the backend has not read.
 *    A full ring means: publish, notify, poll the port until the backend
 *    frees space; after DRAIN_BOUND_NS without progress the rest of that
 *    write is dropped and counted (a dead backend must not hang the
 *    kernel), and said once on port 0xe9.
 *  - out_cons is the backend's, read once per check and validated: a
 *    consumer index more than a ring ahead of or behind ours marks the
 *    ring broken, and output goes to port 0xe9 from then on.
 *  - "\n" goes out as "\r\n" (a terminal's expectation).
 *  - A flush waits (bounded) until the backend has read everything: the
 *    shutdown path calls console_flush before SCHEDOP_shutdown, so the
 *    verdict is never lost.
 * Output before the ring is mapped (early boot) is kept in a small buffer
 * and written once it is.
 */
#include <xenith/xencons.h>
#include <xenith/console.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/mm.h>
#include <xenith/paging.h>
#include <xenith/ring.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xen/errno.h>
#include <xen/io/console.h>

#define DRAIN_BOUND_NS  (2 * NSEC_PER_SEC)
#define POLL_SLICE_NS   (10 * NSEC_PER_MSEC)
#define EARLY_MAX       4096

static struct xencons own;               /* this domU's console */
static char early[EARLY_MAX];
static unsigned int early_len;

/* A publisher between reading our index and storing it as out_prod
 * (regress.console_flush_vs_write holds a flush here). */
DEFINE_INJECT(xencons_publish, "xencons.publish");

bool xencons_active(void)
{
    return own.ring && !own.broken;
}

uint64_t xencons_dropped(void)
{
    return own.dropped;
}

static void notify(struct xencons *c)
{
    /* A failed send only delays the backend until our next one. */
    (void)evtchn_send(c->port);
}

static void publish(struct xencons *c)
{
    XENCONS_RING_IDX p = c->prod;

    inject(&inject_xencons_publish, c->port);
    smp_wmb();                          /* bytes before the index */
    __atomic_store_n(&c->ring->out_prod, p, __ATOMIC_RELEASE);
    notify(c);
}

/* Free bytes in out[], or -1 if the backend's index is out of range. */
static int space(struct xencons *c)
{
    XENCONS_RING_IDX cons = ring_peer_read(&c->ring->out_cons);
    XENCONS_RING_IDX used = c->prod - cons;

    if (used > sizeof(c->ring->out)) {
        c->broken = true;
        early_puts("xencons: backend's out_cons is out of range; "
                   "console output goes to port 0xe9\n");
        return -1;
    }
    return (int)(sizeof(c->ring->out) - used);
}

/* Sleep until the backend signals (or a slice passes). */
static void poll_port(struct xencons *c)
{
    struct sched_poll p = {
        .nr_ports = 1, .timeout = time_now_ns() + POLL_SLICE_NS,
    };
    evtchn_port_t pt = c->port;

    set_xen_guest_handle(p.ports, &pt);
    evtchn_port_clear_pending(c->port);
    if (hyp_sched_op(SCHEDOP_poll, &p))
        cpu_relax();
}

/* Wait for room for one byte; false if the backend made none in time.
 * After one such timeout the backend counts as stalled: output is dropped
 * at once (not after another bound per byte) until it frees space. */
static bool wait_room(struct xencons *c)
{
    uint64_t until = time_now_ns() + DRAIN_BOUND_NS;
    int s;

    publish(c);
    if (c->stalled)
        return false;
    while ((s = space(c)) == 0) {
        if (time_now_ns() > until) {
            c->stalled = true;
            early_puts("xencons: the backend stopped reading; dropping "
                       "console output until it reads again\n");
            return false;
        }
        poll_port(c);
    }
    return s > 0;
}

static bool put(struct xencons *c, char ch)
{
    int s = space(c);

    if (s > 0 && c->stalled) {
        c->stalled = false;             /* it reads again */
        early_puts("xencons: the backend reads again\n");
    }

    if (s < 0 || (s == 0 && !wait_room(c)))
        return false;
    c->ring->out[MASK_XENCONS_IDX(c->prod, c->ring->out)] = ch;
    c->prod++;
    return true;
}

void xencons_ring_write(struct xencons *c, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !c->broken; i++) {
        if ((s[i] == '\n' && !put(c, '\r')) || !put(c, s[i])) {
            c->dropped += n - i;
            break;
        }
    }
    if (!c->broken)
        publish(c);
}

bool xencons_ring_flush(struct xencons *c)
{
    uint64_t until = time_now_ns() + DRAIN_BOUND_NS;
    int s;

    if (!c->ring || c->broken)
        return true;
    if (c->stalled)
        return false;
    publish(c);
    /* All read is all space free: one fetch of out_cons per look, the
     * one space() checked, rather than a second, unchecked one. */
    while ((s = space(c)) >= 0 && s != (int)sizeof(c->ring->out)) {
        if (time_now_ns() > until)
            return false;
        poll_port(c);
    }
    return !c->broken;
}

int xencons_ring_init(struct xencons *c, struct xencons_interface *ring,
                      evtchn_port_t port)
{
    *c = (struct xencons){
        .ring = ring, .port = port,
        .prod = ring_peer_read(&ring->out_prod),
    };
    return space(c) < 0 ? -XEN_EINVAL : 0;
}

void xencons_write(const char *s, size_t n)
{
    if (!own.ring) {
        for (size_t i = 0; i < n && early_len < EARLY_MAX; i++)
            early[early_len++] = s[i];
        return;
    }
    xencons_ring_write(&own, s, n);
}

bool xencons_flush(void)
{
    return xencons_ring_flush(&own);
}

size_t xencons_early(const char **buf)
{
    *buf = early;
    return early_len;
}

/* In the new domain after a resume, under console_lock: the ring's frame
 * and port from the params again (the port is a new one).  Our index
 * stays: the ring came with the domain, and the new backend reads on
 * from its out_cons. */
int xencons_resume(void)
{
    void *page;
    evtchn_port_t port;
    int rc;

    if (!own.ring)
        return 0;
    rc = xen_ring_attach(HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN,
                         &page, &port);
    if (rc)
        return rc;
    own.ring = page;
    own.port = port;
    own.stalled = false;
    evtchn_reserve_port(port, "console ring");
    return 0;
}

int xencons_init(void)
{
    void *page;
    evtchn_port_t port;
    int rc = xen_ring_attach(HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN,
                             &page, &port);

    if (rc)
        return rc;
    evtchn_reserve_port(port, "console ring");
    rc = xencons_ring_init(&own, page, port);
    if (rc)
        return rc;
    xencons_write(early, early_len);
    early_len = 0;
    return 0;
}
