/*
 * The evtchn device: Linux's /dev/xen/evtchn semantics as an in-kernel
 * API (include/xenith/evtdev.h).
 *
 * Locks, per user (outermost first, and above everything in events/):
 *   bind_lock (mutex): serialises bind, unbind, re-enable, notify, reset,
 *       release, and protects the port table.
 *   ring_prod_lock (spinlock, irqs off): the producer side of the ring;
 *       the event handler takes it.
 *   ring_cons_lock (spinlock, irqs off): the consumer side (read, reset).
 *
 * Bug A: never hold ring_prod_lock (or anything else the handler takes)
 * across disable/free/synchronize of the port's irq.  Unbind holds only
 * bind_lock, which the handler never takes: unbind() masks the port and
 * waits for a handler running on another vCPU to leave, and only then is
 * the port record freed, so the handler finds its record through its own
 * irq data without any lock and never sees it stale.
 */
#include <xenith/lockorder.h>
#include <xenith/evtdev.h>
#include <xenith/events.h>
#include <xenith/inject.h>
#include <xenith/mm.h>
#include <xenith/mutex.h>
#include <xenith/panic.h>
#include <xenith/string.h>
#include <xenith/suspend.h>
#include <xen/errno.h>

#define RECORD_MAGIC 0xe7de7de7u

struct evtdev_port {
    uint32_t magic;             /* RECORD_MAGIC while bound (tests) */
    evtchn_port_t port;
    int irq;
    bool enabled;               /* under ring_prod_lock */
    struct evtdev_user *user;
};

struct evtdev_user {
    struct mutex bind_lock;
    struct evtdev_port *ports[EVTDEV_MAX_PORTS];        /* bind_lock */
    spinlock_t ring_prod_lock;
    spinlock_t ring_cons_lock;
    evtchn_port_t ring[EVTDEV_RING_SIZE];
    unsigned int prod, cons;    /* free-running; prod under prod lock */
    bool overflow;              /* under ring_prod_lock */
    unsigned int resumes;       /* suspend_resumes() last told the user */
};

DEFINE_INJECT(evtdev_handler, "evtdev.handler");

struct evtdev_user *evtdev_open(void)
{
    struct evtdev_user *u = kmalloc(sizeof(*u));

    if (!u)
        return NULL;
    memset(u, 0, sizeof(*u));
    u->bind_lock = (struct mutex)MUTEX_INIT_RANKED(RANK_EVTDEV_BIND,
                                                  "evtdev bind_lock");
    u->ring_prod_lock =
        (spinlock_t)SPINLOCK_INIT_RANKED(RANK_EVTDEV_PROD, "ring_prod_lock");
    u->ring_cons_lock =
        (spinlock_t)SPINLOCK_INIT_RANKED(RANK_EVTDEV_CONS, "ring_cons_lock");
    u->resumes = suspend_resumes();
    return u;
}

/* Runs with interrupts off; the port stays masked (late EOI) until the
 * user re-enables it. */
static void evtdev_interrupt(int irq, void *data)
{
    struct evtdev_port *p = data;
    struct evtdev_user *u = p->user;
    /* From the irq, not the record: a bind may still be filling p->port
     * in when the first event arrives. */
    evtchn_port_t port = irq_to_port(irq);

    inject(&inject_evtdev_handler, port);
    BUG_ON(p->magic != RECORD_MAGIC);           /* a stale record */
    spin_lock(&u->ring_prod_lock);
    p->enabled = false;
    if (u->prod - __atomic_load_n(&u->cons, __ATOMIC_ACQUIRE) <
        EVTDEV_RING_SIZE) {
        u->ring[u->prod % EVTDEV_RING_SIZE] = port;
        __atomic_store_n(&u->prod, u->prod + 1, __ATOMIC_RELEASE);
    } else {
        u->overflow = true;
    }
    spin_unlock(&u->ring_prod_lock);
}

static struct evtdev_port **slot_of(struct evtdev_user *u, evtchn_port_t port)
{
    for (unsigned int i = 0; i < EVTDEV_MAX_PORTS; i++)
        if (u->ports[i] && u->ports[i]->port == port)
            return &u->ports[i];
    return NULL;
}

static struct evtdev_port **free_slot(struct evtdev_user *u)
{
    for (unsigned int i = 0; i < EVTDEV_MAX_PORTS; i++)
        if (!u->ports[i])
            return &u->ports[i];
    return NULL;
}

/* bind_lock held.  how() binds with the action and returns the irq. */
typedef int (*bind_fn)(const struct evt_action *a, const void *arg);

static long bind_to_user(struct evtdev_user *u, bind_fn how, const void *arg)
{
    struct evtdev_port **slot = free_slot(u), *p;
    struct evt_action a = { .handler = evtdev_interrupt, .name = "evtdev",
                            .late_eoi = true };
    int irq;

    if (!slot)
        return -XEN_ENOSPC;
    p = kmalloc(sizeof(*p));
    if (!p)
        return -XEN_ENOMEM;
    *p = (struct evtdev_port){ .magic = RECORD_MAGIC, .user = u,
                               .enabled = true };
    a.data = p;
    irq = how(&a, arg);                 /* fills p->port and p->irq */
    if (irq < 0) {
        kfree(p);
        return irq;
    }
    *slot = p;
    return p->port;
}

struct virq_arg { unsigned int virq; evtchn_port_t *out; };

static int do_bind_virq(const struct evt_action *a, const void *arg)
{
    const struct virq_arg *v = arg;
    struct evtdev_port *p = a->data;
    int irq = bind_virq(v->virq, 0, a);

    if (irq >= 0) {
        p->irq = irq;
        p->port = irq_to_port(irq);
    }
    return irq;
}

long evtdev_bind_virq(struct evtdev_user *u, unsigned int virq)
{
    struct virq_arg v = { .virq = virq };
    long rc;

    if (virq == VIRQ_TIMER || virq == VIRQ_DEBUG || virq == VIRQ_XENOPROF ||
        virq == VIRQ_XENPMU)
        return -XEN_EINVAL;             /* per-vCPU: not through the device */
    mutex_lock(&u->bind_lock);
    rc = bind_to_user(u, do_bind_virq, &v);
    mutex_unlock(&u->bind_lock);
    return rc;
}

struct interdomain_arg { domid_t dom; evtchn_port_t remote; };

static int do_bind_interdomain(const struct evt_action *a, const void *arg)
{
    const struct interdomain_arg *i = arg;
    struct evtdev_port *p = a->data;
    int irq = bind_interdomain(i->dom, i->remote, a);

    if (irq >= 0) {
        p->irq = irq;
        p->port = irq_to_port(irq);
    }
    return irq;
}

long evtdev_bind_interdomain(struct evtdev_user *u, domid_t dom,
                             evtchn_port_t remote_port)
{
    struct interdomain_arg i = { .dom = dom, .remote = remote_port };
    long rc;

    mutex_lock(&u->bind_lock);
    rc = bind_to_user(u, do_bind_interdomain, &i);
    mutex_unlock(&u->bind_lock);
    return rc;
}

static int do_bind_port(const struct evt_action *a, const void *arg)
{
    evtchn_port_t port = *(const evtchn_port_t *)arg;
    struct evtdev_port *p = a->data;
    int irq;

    p->port = port;                     /* before the irq can fire */
    irq = bind_evtchn(port, a);
    if (irq >= 0)
        p->irq = irq;
    return irq;
}

long evtdev_bind_unbound_port(struct evtdev_user *u, domid_t remote_dom)
{
    evtchn_port_t port;
    long rc;

    mutex_lock(&u->bind_lock);
    rc = evtchn_alloc_unbound(remote_dom, &port);
    if (!rc) {
        rc = bind_to_user(u, do_bind_port, &port);
        if (rc < 0)
            (void)evtchn_close(port);
    }
    mutex_unlock(&u->bind_lock);
    return rc;
}

/* bind_lock held: tear one record down and free it. */
static void unbind_record(struct evtdev_user *u, struct evtdev_port *p)
{
#ifdef BUG_A_UNBIND_UNDER_HANDLER_LOCK
    /* Mutant A: the historic unbind held the lock the handler takes
     * (port_user_lock in Linux) while it disabled the irq; disable_irq
     * waits for a handler on another vCPU, which spins on that lock. */
    {
        unsigned long f = spin_lock_irqsave(&u->ring_prod_lock);
        disable_irq(p->irq);
        spin_unlock_irqrestore(&u->ring_prod_lock, f);
    }
#endif
    /* Masks the port and waits for handlers everywhere; holds only
     * bind_lock, which the handler never takes (bug A). */
    unbind(p->irq);
    p->magic = 0;
    kfree(p);
}

long evtdev_unbind(struct evtdev_user *u, evtchn_port_t port)
{
    struct evtdev_port **slot, *p;

    mutex_lock(&u->bind_lock);
    slot = slot_of(u, port);
    if (!slot) {
        mutex_unlock(&u->bind_lock);
        return -XEN_ENOTCONN;
    }
    p = *slot;
    *slot = NULL;
    unbind_record(u, p);
    mutex_unlock(&u->bind_lock);
    return 0;
}

long evtdev_notify(struct evtdev_user *u, evtchn_port_t port)
{
    long rc;

    mutex_lock(&u->bind_lock);
    rc = slot_of(u, port) ? evtchn_send(port) : -XEN_ENOTCONN;
    mutex_unlock(&u->bind_lock);
    return rc;
}

long evtdev_read(struct evtdev_user *u, evtchn_port_t *ports, unsigned int n)
{
    unsigned long f = spin_lock_irqsave(&u->ring_cons_lock);
    unsigned int prod = __atomic_load_n(&u->prod, __ATOMIC_ACQUIRE);
    unsigned int got = 0;
    long rc;

    if (u->resumes != suspend_resumes()) {
        /* The domain was restored or migrated since the last read: the
         * user's ports went with the old one (or, VIRQs, have new
         * numbers).  Said once; unbind them (by the numbers it has) and
         * bind again. */
        u->resumes = suspend_resumes();
        rc = -XEN_ENOTCONN;
    } else if (__atomic_load_n(&u->overflow, __ATOMIC_ACQUIRE)) {
        rc = -XEN_EOVERFLOW;
    } else {
        while (got < n && u->cons + got != prod) {
            ports[got] = u->ring[(u->cons + got) % EVTDEV_RING_SIZE];
            got++;
        }
        __atomic_store_n(&u->cons, u->cons + got, __ATOMIC_RELEASE);
        rc = got;
    }
    spin_unlock_irqrestore(&u->ring_cons_lock, f);
    return rc;
}

long evtdev_reenable(struct evtdev_user *u, const evtchn_port_t *ports,
                     unsigned int n)
{
    long rc = 0;

    mutex_lock(&u->bind_lock);
    for (unsigned int i = 0; i < n; i++) {
        struct evtdev_port **slot = slot_of(u, ports[i]);
        unsigned long f;
        bool was;

        if (!slot) {
            rc = -XEN_ENOTCONN;
            continue;
        }
        f = spin_lock_irqsave(&u->ring_prod_lock);
        was = (*slot)->enabled;
        (*slot)->enabled = true;
        spin_unlock_irqrestore(&u->ring_prod_lock, f);
        if (!was)
            irq_eoi((*slot)->irq);      /* unmask; a pending event fires */
    }
    mutex_unlock(&u->bind_lock);
    return rc;
}

void evtdev_reset(struct evtdev_user *u)
{
    unsigned long f;

    mutex_lock(&u->bind_lock);
    f = spin_lock_irqsave(&u->ring_cons_lock);
    spin_lock(&u->ring_prod_lock);
    u->cons = u->prod;
    u->overflow = false;
    spin_unlock(&u->ring_prod_lock);
    spin_unlock_irqrestore(&u->ring_cons_lock, f);
    mutex_unlock(&u->bind_lock);
}

void evtdev_release(struct evtdev_user *u)
{
    mutex_lock(&u->bind_lock);
    for (unsigned int i = 0; i < EVTDEV_MAX_PORTS; i++) {
        struct evtdev_port *p = u->ports[i];

        if (p) {
            u->ports[i] = NULL;
            unbind_record(u, p);
        }
    }
    mutex_unlock(&u->bind_lock);
    kfree(u);
}

int evtdev_port_irq(struct evtdev_user *u, evtchn_port_t port)
{
    struct evtdev_port **slot;
    int irq;

    mutex_lock(&u->bind_lock);
    slot = slot_of(u, port);
    irq = slot ? (*slot)->irq : -1;
    mutex_unlock(&u->bind_lock);
    return irq;
}
