/*
 * What a torture worker does: one operation drawn at random, on its own
 * slots or on what every vCPU shares (pv-locks, the evtchn device,
 * cross-vCPU calls, xenstore, the injection points).  Every operation
 * ends by itself within a bound: the conductor reads a worker that stops
 * counting operations as a hang.
 */
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/evtdev.h>
#include <xenith/inject.h>
#include <xenith/irq.h>
#include <xenith/selftest.h>
#include <xenith/string.h>
#include <xenith/suspend.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xen/errno.h>

#include "torture.h"

/* How often each worker op is drawn, out of the sum. */
static const unsigned char weight[OP_XENSTORE + 1] = {
    [OP_BIND] = 14, [OP_UNBIND] = 10, [OP_SEND] = 20, [OP_STORM] = 6,
    [OP_MASK] = 6, [OP_MOVE] = 10, [OP_EVTDEV] = 3, [OP_LOCK] = 12,
    [OP_NESTED_LOCK] = 6, [OP_CALL] = 6, [OP_INJECT] = 4, [OP_XENSTORE] = 3,
};

static struct slot *pick_slot(struct tworker *w, bool bound)
{
    unsigned int at = trand_below(w, TORTURE_SLOTS);

    for (unsigned int i = 0; i < TORTURE_SLOTS; i++) {
        struct slot *s = &w->slots[(at + i) % TORTURE_SLOTS];

        if ((s->kind != SK_NONE) == bound)
            return s;
    }
    return NULL;
}

static long op_bind(struct tworker *w, unsigned int *kind)
{
    struct slot *s = pick_slot(w, false);
    enum slot_kind k;

    if (!s)
        return 1;                       /* all bound: nothing to do */
    k = 1 + trand_below(w, NR_SLOT_KINDS - 1);
    if ((k == SK_PIRQ && !torture.pirq_ok) ||
        (k == SK_GVIRQ && !torture.gvirq_ok))
        k = SK_LOOP;
    *kind = k;
    return slot_bind(w, s, k);
}

/* On a bound slot of the kinds the op wants (any, if kinds is 0). */
static long on_slot(struct tworker *w, unsigned int *kind, unsigned int kinds,
                    int (*fn)(struct tworker *, struct slot *))
{
    struct slot *s = pick_slot(w, true);

    if (!s || (kinds && !(kinds & (1u << s->kind))))
        return 1;
    *kind = s->kind;
    return fn(w, s);
}

static int unbind_settled(struct tworker *w, struct slot *s)
{
    return slot_unbind(w, s, true);
}

/* The device a user process would open: bind a loopback pair through
 * it, notify, read what came, and close with events maybe in flight
 * (bug A: the close must not wait for a handler holding its lock). */
static long op_evtdev(struct tworker *w)
{
    struct evtdev_user *u = evtdev_open();
    evtchn_port_t got[8];
    long p, q, rc = 0;
    uint64_t until;
    bool seen = false;

    if (!u)
        return -XEN_ENOMEM;
    p = evtdev_bind_unbound_port(u, DOMID_SELF);
    q = p < 0 ? p : evtdev_bind_interdomain(u, DOMID_SELF, p);
    if (q < 0) {
        evtdev_release(u);
        return q;
    }
    for (unsigned int i = 1 + trand_below(w, 8); i; i--)
        if ((rc = evtdev_notify(u, q)))
            break;
    if (!rc && trand_below(w, 2)) {
        until = time_now_ns() + TORTURE_LOST_NS;
        while (!seen && !torture_over() && time_now_ns() < until) {
            long n = evtdev_read(u, got, ARRAY_SIZE(got));

            if (n < 0) {
                rc = n;
                break;
            }
            for (long i = 0; i < n; i++)
                seen |= got[i] == (evtchn_port_t)p;
            if (n)
                (void)evtdev_reenable(u, got, n);
            cpu_relax();
        }
        if (!seen && !rc && !torture_over())
            torture_fail(w->cpu, "evtchn device: port %ld notified, never "
                         "read", p);
    }
    evtdev_release(u);
    if (rc)
        torture_fail(w->cpu, "evtchn device: %ld", rc);
    return rc;
}

/* Mostly a few pauses; one hold in 8 lasts 20-200 us, long enough for
 * a queue of waiters to form and fall asleep in the pv slow path, where
 * the unlock must kick each of them (bug C). */
static void hold_briefly(struct tworker *w)
{
    uint64_t until;

    if (trand_below(w, 8)) {
        for (unsigned int i = trand_below(w, 64); i; i--)
            cpu_relax();
        return;
    }
    until = time_now_ns() + (20 + trand_below(w, 180)) * NSEC_PER_USEC;
    while (time_now_ns() < until)
        cpu_relax();
}

static unsigned long take(unsigned int l)
{
    unsigned long f = 0;

    if (l == TORTURE_IRQ_LOCK)
        f = spin_lock_irqsave(&torture.locks[l]);
    else
        spin_lock(&torture.locks[l]);   /* interrupts on: waits nest */
    if (__atomic_exchange_n(&torture.owner[l], smp_processor_id() + 1,
                            __ATOMIC_ACQ_REL))
        torture_fail(smp_processor_id(), "lock %u: two holders at once", l);
    torture.held[l]++;
    return f;
}

static void give(unsigned int l, unsigned long f)
{
    __atomic_store_n(&torture.owner[l], 0, __ATOMIC_RELEASE);
    if (l == TORTURE_IRQ_LOCK)
        spin_unlock_irqrestore(&torture.locks[l], f);
    else
        spin_unlock(&torture.locks[l]);
}

static long op_lock(struct tworker *w, bool nested)
{
    unsigned int a = trand_below(w, TORTURE_LOCKS), b;
    unsigned long fa, fb;

    if (!nested || a == TORTURE_LOCKS - 1) {
        fa = take(a);
        hold_briefly(w);
        give(a, fa);
        return 0;
    }
    /* Always in index order, so nesting never deadlocks by itself. */
    b = a + 1 + trand_below(w, TORTURE_LOCKS - 1 - a);
    fa = take(a);
    hold_briefly(w);
    fb = take(b);
    hold_briefly(w);
    give(b, fb);
    give(a, fa);
    return 0;
}

static void call_fn(void *arg)
{
    __atomic_fetch_add(&torture.calls, 1, __ATOMIC_RELAXED);
}

/* A delay at any injection point, 1-200 us: the windows regress cases
 * hold open by hand, opened at random. */
static long op_inject(struct tworker *w)
{
    unsigned int n;
    struct inject_point *p = inject_points(&n);

    if (!n)
        return 1;
    p += trand_below(w, n);
    return inject_arm_delay(p, (1 + trand_below(w, 200)) * NSEC_PER_USEC)
           ? 0 : 1;
}

static void watch_cb(struct xs_watch *watch, const char *path)
{
    struct tworker *w = watch->data;

    __atomic_fetch_add(&w->watch_fired, 1, __ATOMIC_RELEASE);
}

/* Watch callbacks run from the idle loop, and under torture no vCPU
 * idles: the waiter runs them itself. */
static bool wait_fired(struct tworker *w, int n)
{
    uint64_t until = time_now_ns() + TORTURE_LOST_NS;

    while (__atomic_load_n(&w->watch_fired, __ATOMIC_ACQUIRE) < n) {
        if (torture_over() || time_now_ns() > until)
            return false;
        xs_run_watches();
        cpu_relax();
    }
    return true;
}

/* A domU's xenstore: write, read back, and a watch that must fire. */
static long op_xenstore(struct tworker *w)
{
    char val[24], back[24];
    long rc;

    if (!torture.xs_ok)
        return 1;
    snprintf(val, sizeof(val), "%lu", w->ops[OP_XENSTORE]);
    if (trand_below(w, 2)) {
        rc = xs_write(0, w->xs_path, val);
        if (!rc)
            rc = xs_read(0, w->xs_path, back, sizeof(back));
        if (rc >= 0 && strcmp(val, back))
            torture_fail(w->cpu, "xenstore: wrote '%s' to %s, read '%s'",
                         val, w->xs_path, back);
        return rc < 0 ? rc : 0;
    }
    w->watch.path = w->xs_path;
    w->watch.cb = watch_cb;
    w->watch.data = w;
    __atomic_store_n(&w->watch_fired, 0, __ATOMIC_RELEASE);
    rc = xs_watch(&w->watch);
    if (rc)
        return rc;
    /* Xen fires a watch once when it is set, then on each change. */
    if (wait_fired(w, 1)) {
        rc = xs_write(0, w->xs_path, val);
        if (!rc && !wait_fired(w, 2) && !torture_over())
            torture_fail(w->cpu, "xenstore: watch on %s never fired for a "
                         "write", w->xs_path);
    } else if (!torture_over()) {
        torture_fail(w->cpu, "xenstore: watch on %s never fired when set",
                     w->xs_path);
    }
    (void)xs_unwatch(&w->watch);
    return rc;
}

static enum torture_op draw(struct tworker *w)
{
    unsigned int sum = 0, at;
    enum torture_op op;

    for (op = 0; op <= OP_XENSTORE; op++)
        sum += weight[op];
    at = trand_below(w, sum);
    for (op = 0; at >= weight[op]; op++)
        at -= weight[op];
    return op;
}

void torture_op(struct tworker *w)
{
    enum torture_op op = draw(w);
    unsigned int kind = 0;
    long rc;

    suspend_point();
    switch (op) {
    case OP_BIND:
        rc = op_bind(w, &kind);
        break;
    case OP_UNBIND:
        rc = on_slot(w, &kind, 0, unbind_settled);
        break;
    case OP_SEND:
        rc = on_slot(w, &kind, ~(1u << SK_STORM), slot_send);
        break;
    case OP_STORM:
        rc = on_slot(w, &kind, 1u << SK_STORM, slot_storm);
        break;
    case OP_MASK:
        rc = on_slot(w, &kind, ~(1u << SK_STORM), slot_mask);
        break;
    case OP_MOVE:
        rc = on_slot(w, &kind, 0, slot_move);
        break;
    case OP_EVTDEV:
        rc = op_evtdev(w);
        break;
    case OP_LOCK:
    case OP_NESTED_LOCK:
        rc = op_lock(w, op == OP_NESTED_LOCK);
        break;
    case OP_CALL:
        rc = smp_call_on(trand_online(w), call_fn, NULL, true);
        break;
    case OP_INJECT:
        rc = op_inject(w);
        break;
    default:
        rc = op_xenstore(w);
        break;
    }
    __atomic_fetch_add(&w->progress, 1, __ATOMIC_RELEASE);
    if (rc == 1)
        return;                         /* nothing to do it on */
    torture_log(w, op, kind, rc, 0, 0);
    w->ops[op]++;
    if (rc)
        w->refused[op]++;
}

/* The end: every slot unbound (its events handled first). */
void torture_worker_teardown(struct tworker *w)
{
    for (unsigned int i = 0; i < TORTURE_SLOTS; i++)
        if (w->slots[i].kind != SK_NONE)
            slot_unbind(w, &w->slots[i], true);
}
