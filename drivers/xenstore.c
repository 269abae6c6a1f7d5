/*
 * The xenstore client (include/xenith/xenstore.h) over the shared ring of
 * xen/io/xs_wire.h: requests go into req[], replies and watch events come
 * back in rsp[], each as a struct xsd_sockmsg header and a payload.
 *
 * The backend is not trusted (drivers/xenstore_wire.c reads what it
 * writes, tests/fuzz fuzzes that).  Every index it writes (req_cons, rsp_prod)
 * is read once into a local and checked (never more than a ring apart from
 * ours); a header is copied out of the ring before it is looked at, its
 * length checked against XENSTORE_PAYLOAD_MAX, and the payload copied out
 * before it is used: nothing is read twice from shared memory.  A broken
 * index fails the requests in flight with -EIO, and nothing past it is
 * consumed; the next event starts over from the indices then found.
 *
 * Locks (ranks in include/xenith/lockorder.h):
 *   xs_req_lock (mutex): one writer of req[] at a time; a request is
 *     written whole.  Outermost here; no lock is held while waiting for a
 *     reply, so requests from several vCPUs are in flight together.
 *   xs_lock (spinlock, irqs off, a leaf): the table of requests waiting
 *     for replies, the watch list and the queue of fired watches.
 * Replies are matched to requests by req_id in the event handler, which
 * runs on one vCPU at a time (edge flow).  Watch callbacks never run in
 * the handler: fired watches are queued (each at most once, nothing
 * allocated) and run by xs_run_watches(), from
 * idle loops, between self-tests, and by tests waiting for one.
 */
#include <xenith/xenstore.h>
#include <xenith/xenstore_wire.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/lockorder.h>
#include <xenith/mm.h>
#include <xenith/mutex.h>
#include <xenith/paging.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xenith/spinlock.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xen/errno.h>
#include <xen/io/xs_wire.h>

#define REPLY_BOUND_NS  (10 * NSEC_PER_SEC)
#define MAX_INFLIGHT    32
#define MAX_TX_RETRIES  16

static struct xenstore_domain_interface *ring;
static evtchn_port_t port;
static int xs_irq = -1;
static struct mutex xs_req_lock = MUTEX_INIT_RANKED(RANK_XS_REQ, "xs_req_lock");
static spinlock_t xs_lock = SPINLOCK_INIT_RANKED(RANK_XS, "xs_lock");
static struct xs_pending inflight[MAX_INFLIGHT];         /* xs_lock */
static struct xs_watch *watches;                      /* xs_lock */
static struct xs_watch *fired_head, **fired_tail = &fired_head; /* xs_lock */
static uint32_t next_req_id = 1, next_watch_id = 1;   /* atomic */
static int runner_busy;                               /* atomic */
static unsigned int broken_events;                    /* atomic */
/* A reply on its way in: its handler's alone (an irq runs on one vCPU at
 * a time), and the resume path's while the domain was suspended. */
static struct xs_wire_rx rx;
static char rx_payload[XENSTORE_PAYLOAD_MAX + 1];

/* Pretend the backend wrote garbage in rsp_prod (bad_backend_indices). */
DEFINE_INJECT(xenstore_bad_rsp_prod, "xenstore.bad_rsp_prod");
/* A runner back from a callback, still the runner, before it looks at the
 * queue again (regress.watch_deferred_wakeup). */
DEFINE_INJECT(xenstore_after_callback, "xenstore.after_callback");

bool xenstore_available(void)
{
    return ring != NULL;
}

unsigned int xenstore_broken_events(void)
{
    return __atomic_load_n(&broken_events, __ATOMIC_RELAXED);
}

static void notify(void)
{
    (void)evtchn_send(port);    /* a lost notify: the next one covers it */
}

/* ---- the event handler: replies and watch events ---------------------- */

static void fail_inflight(long err)
{
    unsigned long f = spin_lock_irqsave(&xs_lock);

    for (unsigned int i = 0; i < MAX_INFLIGHT; i++) {
        if (inflight[i].req_id && !inflight[i].done) {
            inflight[i].err = err;
            __atomic_store_n(&inflight[i].done, 1, __ATOMIC_RELEASE);
        }
    }
    spin_unlock_irqrestore(&xs_lock, f);
}

static void deliver_reply(const struct xsd_sockmsg *h, const char *payload)
{
    unsigned long f = spin_lock_irqsave(&xs_lock);

    for (unsigned int i = 0; i < MAX_INFLIGHT; i++) {
        struct xs_pending *p = &inflight[i];

        if (p->req_id != h->req_id || p->done)
            continue;
        xs_wire_complete(p, h, payload);
        spin_unlock_irqrestore(&xs_lock, f);
        return;
    }
    spin_unlock_irqrestore(&xs_lock, f);
    pr_warn("xenstore: reply %u matches no request; dropped\n", h->req_id);
}

/* Queue w to run (once, however often it fires first); xs_lock held. */
static void fired_push(struct xs_watch *w)
{
    if (!w->fired) {
        w->fired = true;
        w->fired_next = NULL;
        *fired_tail = w;
        fired_tail = &w->fired_next;
    }
}

/* "path\0token\0": mark the watch whose token it names as fired.  No
 * allocation: a watch fired again before its callback ran is queued once
 * (its callback re-reads what it watches), with the latest path. */
static void deliver_watch(const char *payload, size_t len)
{
    unsigned int id;
    struct xs_watch *w;
    unsigned long f;

    if (!xs_wire_watch_token(payload, len, &id))
        return;                         /* no token: malformed, ignore */
    f = spin_lock_irqsave(&xs_lock);
    for (w = watches; w && w->id != id; w = w->next)
        ;
    if (w) {
        strlcpy(w->fired_path, payload, sizeof(w->fired_path));
        w->not_cpu = -1;                /* news: anyone may run it */
        fired_push(w);
    }
    spin_unlock_irqrestore(&xs_lock, f);
}

/* xs_wire_receive's hands: the table and the watch list under xs_lock. */
static void rx_reply(void *ctx, const struct xsd_sockmsg *h,
                     const char *payload)
{
    deliver_reply(h, payload);
}

static void rx_watch(void *ctx, const char *payload, size_t len)
{
    deliver_watch(payload, len);
    *(bool *)ctx = true;
}

static void rx_broken(void *ctx, const char *what, uint32_t prod,
                      uint32_t cons, uint32_t len)
{
    __atomic_fetch_add(&broken_events, 1, __ATOMIC_RELAXED);
    pr_err("xenstore: backend broke the ring: %s (rsp_prod %u, rsp_cons %u, "
           "length %u, max %u); failing the requests in flight\n", what, prod,
           cons, len, XENSTORE_PAYLOAD_MAX);
    fail_inflight(-XEN_EIO);
}

static void rx_consumed(void *ctx)
{
    notify();
}

static bool rx_corrupt_prod(void *ctx)
{
    return inject_fire(&inject_xenstore_bad_rsp_prod);
}

static void xs_interrupt(int irq, void *data)
{
    static const struct xs_wire_ops ops = {
        .reply = rx_reply, .watch = rx_watch, .broken = rx_broken,
        .consumed = rx_consumed, .corrupt_prod = rx_corrupt_prod,
    };
    bool fired = false;

    xs_wire_receive(ring, &rx, rx_payload, &ops, &fired);
    if (fired)
        smp_kick_idle();                /* an idle vCPU runs the callback */
}

/* ---- requests ---------------------------------------------------------- */

/* Copy n bytes into req[], waiting (bounded) for the backend to make
 * room; its req_cons is checked like any index it writes. */
static long req_put(XENSTORE_RING_IDX *prod, const void *src, size_t n)
{
    uint64_t until = time_now_ns() + REPLY_BOUND_NS;

    for (size_t i = 0; i < n;) {
        long put = xs_wire_put(ring, prod, (const char *)src + i, n - i);

        if (put < 0) {
            pr_err("xenstore: backend req_cons is out of range (req_prod "
                   "%u)\n", *prod);
            return put;
        }
        if (!put) {                     /* full: let the backend read */
            __atomic_store_n(&ring->req_prod, *prod, __ATOMIC_RELEASE);
            notify();
            if (time_now_ns() > until)
                return -XEN_ETIMEDOUT;
            cpu_relax();
        }
        i += (size_t)put;
    }
    return 0;
}

/* A piece of a request's payload: strings go with their NUL. */
struct part {
    const void *p;
    size_t n;
};

static struct part str(const char *s)
{
    return (struct part){ s, strlen(s) + 1 };
}

static long send_request(uint32_t type, uint32_t req_id, xs_tx_t tx,
                         const struct part parts[], unsigned int nparts)
{
    struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx };
    XENSTORE_RING_IDX prod;
    long rc;

    for (unsigned int i = 0; i < nparts; i++)
        h.len += parts[i].n;
    if (h.len > XENSTORE_PAYLOAD_MAX)
        return -XEN_E2BIG;
    mutex_lock(&xs_req_lock);
    prod = ring->req_prod;
    rc = req_put(&prod, &h, sizeof(h));
    for (unsigned int i = 0; !rc && i < nparts; i++)
        rc = req_put(&prod, parts[i].p, parts[i].n);
    if (!rc) {
        __atomic_store_n(&ring->req_prod, prod, __ATOMIC_RELEASE);
        notify();
    }
    mutex_unlock(&xs_req_lock);
    return rc;
}

static struct xs_pending *slot_get(uint32_t req_id, char *buf, size_t cap)
{
    unsigned long f = spin_lock_irqsave(&xs_lock);

    for (unsigned int i = 0; i < MAX_INFLIGHT; i++) {
        struct xs_pending *p = &inflight[i];

        if (!p->req_id) {
            *p = (struct xs_pending){ .req_id = req_id, .buf = buf, .cap = cap };
            spin_unlock_irqrestore(&xs_lock, f);
            return p;
        }
    }
    spin_unlock_irqrestore(&xs_lock, f);
    return NULL;
}

static void slot_put(struct xs_pending *p)
{
    unsigned long f = spin_lock_irqsave(&xs_lock);

    p->req_id = 0;
    spin_unlock_irqrestore(&xs_lock, f);
}

/*
 * One request, one reply: the reply payload (cap bytes at most) lands in
 * buf.  Returns its length, or -errno (an XS_ERROR reply mapped).
 */
static long xs_talk(uint32_t type, xs_tx_t tx, const struct part parts[],
                    unsigned int nparts, char *buf, size_t cap)
{
    char none[1];
    uint32_t id;
    uint64_t until;
    struct xs_pending *p;
    long rc;

    if (!ring)
        return -XEN_ENODEV;
    if (!buf) {
        buf = none;                     /* replies we only check */
        cap = 0;
    }
    do
        id = __atomic_fetch_add(&next_req_id, 1, __ATOMIC_RELAXED);
    while (!id);                        /* 0 marks a free slot */
    p = slot_get(id, buf, cap);
    if (!p)
        return -XEN_EBUSY;
    rc = send_request(type, id, tx, parts, nparts);
    until = time_now_ns() + REPLY_BOUND_NS;
    while (!rc && !__atomic_load_n(&p->done, __ATOMIC_ACQUIRE)) {
        if (time_now_ns() > until)
            rc = -XEN_ETIMEDOUT;
        cpu_relax();
    }
    if (!rc && p->err)
        rc = p->err;
    if (!rc && p->type == XS_ERROR)
        rc = xs_wire_error(p->errstr);
    if (!rc && cap && p->full > cap)
        rc = -XEN_E2BIG;                /* cut off: the caller's buffer */
    if (!rc)
        rc = (long)p->len;
    /* A timed-out slot stays taken: a late reply must not reach the next
     * request that would reuse it. */
    if (rc != -XEN_ETIMEDOUT)
        slot_put(p);
    return rc;
}

long xs_read(xs_tx_t tx, const char *path, char *buf, size_t size)
{
    struct part parts[] = { str(path) };
    long n;

    if (size < 2)
        return -XEN_EINVAL;
    n = xs_talk(XS_READ, tx, parts, 1, buf, size - 1);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

long xs_write(xs_tx_t tx, const char *path, const char *value)
{
    /* "path\0value": the value goes without its NUL. */
    struct part parts[] = { str(path), { value, strlen(value) } };
    long rc = xs_talk(XS_WRITE, tx, parts, 2, NULL, 0);

    return rc < 0 ? rc : 0;
}

long xs_rm(xs_tx_t tx, const char *path)
{
    struct part parts[] = { str(path) };
    long rc = xs_talk(XS_RM, tx, parts, 1, NULL, 0);

    return rc < 0 ? rc : 0;
}

long xs_directory(xs_tx_t tx, const char *path, char *buf, size_t size)
{
    struct part parts[] = { str(path) };
    long n = xs_talk(XS_DIRECTORY, tx, parts, 1, buf, size), count = 0;

    if (n < 0)
        return n;
    if (n > 0 && buf[n - 1] != '\0')
        return -XEN_E2BIG;              /* cut off: buf too small */
    for (long i = 0; i < n; i++)
        count += buf[i] == '\0';
    return count;
}

long xs_transaction_start(xs_tx_t *tx)
{
    struct part parts[] = { str("") };
    char id[16];
    long n = xs_talk(XS_TRANSACTION_START, 0, parts, 1, id, sizeof(id) - 1);
    uint32_t v = 0;

    if (n < 0)
        return n;
    id[n] = '\0';
    for (const char *c = id; *c >= '0' && *c <= '9'; c++)
        v = v * 10 + (uint32_t)(*c - '0');
    if (!v)
        return -XEN_EIO;                /* not a transaction id */
    *tx = v;
    return 0;
}

long xs_transaction_end(xs_tx_t tx, bool commit)
{
    struct part parts[] = { str(commit ? "T" : "F") };
    long rc = xs_talk(XS_TRANSACTION_END, tx, parts, 1, NULL, 0);

    return rc < 0 ? rc : 0;
}

long xs_transaction(long (*fn)(xs_tx_t tx, void *arg), void *arg,
                    unsigned int *retries)
{
    long rc;

    *retries = 0;
    for (;;) {
        xs_tx_t tx;

        rc = xs_transaction_start(&tx);
        if (rc)
            return rc;
        rc = fn(tx, arg);
        if (rc) {
            (void)xs_transaction_end(tx, false);
            return rc;
        }
        rc = xs_transaction_end(tx, true);
        /* EAGAIN: someone changed what we read; do it all again. */
        if (rc != -XEN_EAGAIN || *retries == MAX_TX_RETRIES)
            return rc;
        (*retries)++;
    }
}

/* ---- watches ------------------------------------------------------------ */

/* On the watch list with a fresh token: events naming it now find it. */
static void watch_add(struct xs_watch *w)
{
    unsigned long f;

    w->id = __atomic_fetch_add(&next_watch_id, 1, __ATOMIC_RELAXED);
    w->fired = false;
    w->not_cpu = -1;
    f = spin_lock_irqsave(&xs_lock);
    w->next = watches;
    watches = w;
    spin_unlock_irqrestore(&xs_lock, f);
}

long xs_watch(struct xs_watch *w)
{
    char token[12];
    struct part parts[2];
    long rc;

    watch_add(w);
    snprintf(token, sizeof(token), "%u", w->id);
    parts[0] = str(w->path);
    parts[1] = str(token);
    rc = xs_talk(XS_WATCH, 0, parts, 2, NULL, 0);
    if (rc < 0) {
        (void)xs_unwatch(w);
        return rc;
    }
    return 0;
}

/* Off the watch list and off the fired queue, and no runner inside its
 * callback any more. */
static void watch_forget(struct xs_watch *w)
{
    struct xs_watch **wp;
    unsigned long f = spin_lock_irqsave(&xs_lock);

    for (wp = &watches; *wp; wp = &(*wp)->next) {
        if (*wp == w) {
            *wp = w->next;
            break;
        }
    }
    if (w->fired) {
        for (wp = &fired_head; *wp != w; wp = &(*wp)->fired_next)
            ;
        *wp = w->fired_next;
        if (fired_tail == &w->fired_next)
            fired_tail = wp;
        w->fired = false;
    }
    spin_unlock_irqrestore(&xs_lock, f);
    /* A runner may be inside w's callback right now: wait it out. */
    while (__atomic_load_n(&runner_busy, __ATOMIC_ACQUIRE))
        cpu_relax();
}

long xs_unwatch(struct xs_watch *w)
{
    char token[12];
    struct part parts[2];
    long rc;

    snprintf(token, sizeof(token), "%u", w->id);
    parts[0] = str(w->path);
    parts[1] = str(token);
    rc = xs_talk(XS_UNWATCH, 0, parts, 2, NULL, 0);
    watch_forget(w);
    return rc < 0 ? rc : 0;
}

/* Put w back on the fired queue for a vCPU other than not_cpu to run
 * (its callback found work this vCPU cannot do: take itself down). */
void xs_watch_defer(struct xs_watch *w, unsigned int not_cpu)
{
    unsigned long f = spin_lock_irqsave(&xs_lock);

    w->not_cpu = (int)not_cpu;
    fired_push(w);
    spin_unlock_irqrestore(&xs_lock, f);
    smp_kick_idle();
}

/* The first fired watch this vCPU may run, off the queue; xs_lock held. */
static struct xs_watch *fired_take(int me)
{
    struct xs_watch **pp;

    for (pp = &fired_head; *pp; pp = &(*pp)->fired_next) {
        struct xs_watch *w = *pp;

        if (w->not_cpu == me)
            continue;
        *pp = w->fired_next;
        if (fired_tail == &w->fired_next)
            fired_tail = pp;
        w->fired = false;
        w->not_cpu = -1;
        return w;
    }
    return NULL;
}

/* Is a fired watch queued that vCPU me may run?  False with the queue
 * empty or holding only watches deferred away from me. */
static bool fired_for(int me)
{
    unsigned long f = spin_lock_irqsave(&xs_lock);
    struct xs_watch *w;

    for (w = fired_head; w && w->not_cpu == me; w = w->fired_next)
        ;
    spin_unlock_irqrestore(&xs_lock, f);
    return w != NULL;
}

/*
 * For the idle loop's last look before it halts, interrupts off: a fired
 * watch this vCPU may run, and no runner that will hand it on.  A vCPU
 * that found the runner busy may take the runner's kick (the IPI runs
 * and is gone) before it turns its interrupts off to halt; without this
 * look it then halted with the watch still queued.  With interrupts off,
 * a kick that comes after the look stays pending and ends the halt.
 */
bool xs_watches_waiting(void)
{
    return __atomic_load_n(&fired_head, __ATOMIC_SEQ_CST) &&
           !__atomic_load_n(&runner_busy, __ATOMIC_SEQ_CST) &&
           fired_for((int)smp_processor_id());
}

/*
 * One runner at a time: a vCPU that finds another one running returns
 * (and an idle one halts), trusting the runner with the queue.  So the
 * runner, once it is no longer the runner, looks at the queue again: a
 * watch queued after its last look (by the event handler, or by its own
 * callback deferring it away from this vCPU) would otherwise wait for an
 * unrelated wake-up, since every vCPU kicked for it may have found the
 * runner busy (regress.watch_deferred_wakeup).  What it may run, it runs;
 * what only others may run, it kicks them for.
 */
void xs_run_watches(void)
{
    int me = (int)smp_processor_id();

    for (;;) {
        int idle = 0;

        if (!__atomic_load_n(&fired_head, __ATOMIC_ACQUIRE) ||
            !__atomic_compare_exchange_n(&runner_busy, &idle, 1, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        for (;;) {
            char path[sizeof(((struct xs_watch *)0)->fired_path)];
            unsigned long f = spin_lock_irqsave(&xs_lock);
            struct xs_watch *w = fired_take(me);

            if (w)
                strlcpy(path, w->fired_path, sizeof(path));
            spin_unlock_irqrestore(&xs_lock, f);
            if (!w)
                break;
            w->cb(w, path);
            inject(&inject_xenstore_after_callback, (long)w->id);
        }
        /* Seq_cst: the store is ordered before the queue is read again,
         * against a kicked vCPU's queue check then runner_busy read. */
        __atomic_store_n(&runner_busy, 0, __ATOMIC_SEQ_CST);
        if (fired_for(me))
            continue;
        if (__atomic_load_n(&fired_head, __ATOMIC_ACQUIRE))
            smp_kick_idle();            /* deferred away from us */
        return;
    }
}

/* ---- self-test hooks: watches without a backend (a PVH dom0 has none) --- */

void xs_watch_test_add(struct xs_watch *w)
{
    watch_add(w);
}

/* What xs_interrupt does with an XS_WATCH_EVENT naming w's token. */
void xs_watch_test_event(struct xs_watch *w, const char *path)
{
    char payload[64];
    size_t plen = strlen(path) + 1;

    if (plen + 12 > sizeof(payload))
        return;
    strlcpy(payload, path, sizeof(payload));
    snprintf(payload + plen, sizeof(payload) - plen, "%u", w->id);
    deliver_watch(payload, plen + strlen(payload + plen) + 1);
    smp_kick_idle();
}

void xs_watch_test_remove(struct xs_watch *w)
{
    watch_forget(w);
}

/* ---- attach ------------------------------------------------------------- */

int xenstore_init(void)
{
    static const struct evt_action a = {
        .handler = xs_interrupt, .name = "xenstore",
    };
    void *page;
    int irq, rc = xen_ring_attach(HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN,
                                  &page, &port);

    if (rc)
        return rc;
    ring = page;
    irq = bind_evtchn(port, &a);
    if (irq < 0) {
        ring = NULL;
        return irq;
    }
    xs_irq = irq;
    pr_info("xenstore: ring at %p, port %u\n", page, port);
    return 0;
}

/*
 * In the new domain after a resume (kernel/suspend.c), thread context:
 * the ring and its port from the HVM params again, our irq on the new
 * port, replies the old xenstored left unread dropped (nobody waits for
 * them: no request is in flight over a suspend), and every watch
 * registered again with its token, since the new xenstored knows none.
 */
#define RESUME_MAX_WATCHES 16

int xenstore_resume(void)
{
    struct xs_watch *again[RESUME_MAX_WATCHES];
    unsigned int n = 0;
    void *page;
    evtchn_port_t p;
    unsigned long f;
    int rc;

    if (!ring)
        return 0;
    rc = xen_ring_attach(HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN,
                         &page, &p);
    if (rc)
        return rc;
    ring = page;
    memset(&rx, 0, sizeof(rx));         /* a half message died with the old */
    __atomic_store_n(&ring->rsp_cons,
                     __atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE),
                     __ATOMIC_RELEASE);
    port = p;
    rc = evtchn_resume_attach(xs_irq, p);
    if (rc)
        return rc;
    f = spin_lock_irqsave(&xs_lock);
    for (struct xs_watch *w = watches; w && n < RESUME_MAX_WATCHES;
         w = w->next)
        again[n++] = w;
    spin_unlock_irqrestore(&xs_lock, f);
    for (unsigned int i = 0; i < n; i++) {
        char token[12];
        struct part parts[2];
        long r;

        snprintf(token, sizeof(token), "%u", again[i]->id);
        parts[0] = str(again[i]->path);
        parts[1] = str(token);
        r = xs_talk(XS_WATCH, 0, parts, 2, NULL, 0);
        if (r < 0) {
            pr_warn("xenstore: watch on %s not registered again: %ld\n",
                    again[i]->path, r);
            rc = (int)r;
        }
    }
    pr_info("xenstore: resumed on port %u, %u watches registered again\n",
            p, n);
    return rc;
}
