/*
 * The PV console ring: a domU's console.  The toolstack gives the ring's
 * frame (HVM_PARAM_CONSOLE_PFN) and an interdomain port to the backend
 * (xenconsoled) (HVM_PARAM_CONSOLE_EVTCHN); `xl console` and the guest
 * log read what we put in out[].
 *
 * Writes come from console_write, under console_lock with interrupts off,
 * so nothing here takes a lock or relies on an interrupt: the port is not
 * bound to an irq (it stays masked; SCHEDOP_poll still sees it pending).
 *  - Flow control: output never overwrites what the backend has not read.
 *    A full ring means: publish, notify, poll the port until the backend
 *    frees space; after DRAIN_BOUND_NS without progress the rest of that
 *    write is dropped and counted (a dead backend must not hang the
 *    kernel), and said once on port 0xe9.
 *  - out_cons is the backend's, read once per check and validated: a
 *    consumer index more than a ring ahead of or behind ours marks the
 *    ring broken, and output goes to port 0xe9 from then on.
 *  - "\n" goes out as "\r\n" (a terminal's expectation).
 *  - xencons_flush() waits (bounded) until the backend has read
 *    everything: the shutdown path calls it before SCHEDOP_shutdown, so
 *    the verdict is never lost.
 * Output before the ring is mapped (early boot) is kept in a small buffer
 * and written once it is.
 */
#include <xenith/xencons.h>
#include <xenith/console.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/mm.h>
#include <xenith/paging.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xen/errno.h>
#include <xen/io/console.h>

#define DRAIN_BOUND_NS  (2 * NSEC_PER_SEC)
#define POLL_SLICE_NS   (10 * NSEC_PER_MSEC)
#define EARLY_MAX       4096

static struct xencons_interface *ring;
static evtchn_port_t port;
static XENCONS_RING_IDX prod;           /* ours; published as out_prod */
static bool broken;
static bool stalled;                    /* a wait for space timed out */
static uint64_t dropped;
static char early[EARLY_MAX];
static unsigned int early_len;

bool xencons_active(void)
{
    return ring && !broken;
}

uint64_t xencons_dropped(void)
{
    return dropped;
}

static void notify(void)
{
    /* A failed send only delays the backend until our next one. */
    (void)evtchn_send(port);
}

static void publish(void)
{
    smp_wmb();                          /* bytes before the index */
    __atomic_store_n(&ring->out_prod, prod, __ATOMIC_RELEASE);
    notify();
}

/* Free bytes in out[], or -1 if the backend's index is out of range. */
static int space(void)
{
    XENCONS_RING_IDX cons = __atomic_load_n(&ring->out_cons,
                                            __ATOMIC_ACQUIRE);
    XENCONS_RING_IDX used = prod - cons;

    if (used > sizeof(ring->out)) {
        broken = true;
        early_puts("xencons: backend's out_cons is out of range; "
                   "console output goes to port 0xe9\n");
        return -1;
    }
    return (int)(sizeof(ring->out) - used);
}

/* Sleep until the backend signals (or a slice passes). */
static void poll_port(void)
{
    struct sched_poll p = {
        .nr_ports = 1, .timeout = time_now_ns() + POLL_SLICE_NS,
    };
    evtchn_port_t pt = port;

    set_xen_guest_handle(p.ports, &pt);
    evtchn_port_clear_pending(port);
    if (hyp_sched_op(SCHEDOP_poll, &p))
        cpu_relax();
}

/* Wait for room for one byte; false if the backend made none in time.
 * After one such timeout the backend counts as stalled: output is dropped
 * at once (not after another bound per byte) until it frees space. */
static bool wait_room(void)
{
    uint64_t until = time_now_ns() + DRAIN_BOUND_NS;
    int s;

    publish();
    if (stalled)
        return false;
    while ((s = space()) == 0) {
        if (time_now_ns() > until) {
            stalled = true;
            early_puts("xencons: the backend stopped reading; dropping "
                       "console output until it reads again\n");
            return false;
        }
        poll_port();
    }
    return s > 0;
}

static bool put(char c)
{
    int s = space();

    if (s > 0 && stalled) {
        stalled = false;                /* it reads again */
        early_puts("xencons: the backend reads again\n");
    }

    if (s < 0 || (s == 0 && !wait_room()))
        return false;
    ring->out[MASK_XENCONS_IDX(prod, ring->out)] = c;
    prod++;
    return true;
}

void xencons_write(const char *s, size_t n)
{
    if (!ring) {
        for (size_t i = 0; i < n && early_len < EARLY_MAX; i++)
            early[early_len++] = s[i];
        return;
    }
    for (size_t i = 0; i < n && !broken; i++) {
        if ((s[i] == '\n' && !put('\r')) || !put(s[i])) {
            dropped += n - i;
            break;
        }
    }
    if (!broken)
        publish();
}

bool xencons_flush(void)
{
    uint64_t until = time_now_ns() + DRAIN_BOUND_NS;

    if (!xencons_active())
        return true;
    if (stalled)
        return false;
    publish();
    while (space() >= 0 && __atomic_load_n(&ring->out_cons,
                                           __ATOMIC_ACQUIRE) != prod) {
        if (time_now_ns() > until)
            return false;
        poll_port();
    }
    return !broken;
}

size_t xencons_early(const char **buf)
{
    *buf = early;
    return early_len;
}

int xencons_init(void)
{
    void *page;
    int rc = xen_ring_attach(HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN,
                             &page, &port);

    if (rc)
        return rc;
    evtchn_reserve_port(port, "console ring");
    prod = __atomic_load_n(&((struct xencons_interface *)page)->out_prod,
                           __ATOMIC_ACQUIRE);
    ring = page;
    if (space() < 0)
        return -XEN_EINVAL;
    xencons_write(early, early_len);
    early_len = 0;
    return 0;
}
