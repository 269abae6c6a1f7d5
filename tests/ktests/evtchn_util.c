/* Helpers shared by the event-channel self-tests. */
#include "evtchn_util.h"
#include <xenith/selftest.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xen/errno.h>

#define WAIT_NS test_bound_ns(NSEC_PER_SEC)

int loopback_open(struct loopback *lo, irq_handler_t ha, void *da,
                  irq_handler_t hb, void *db)
{
    struct evt_action a = { .handler = ha, .data = da, .name = "lo-a" };
    struct evt_action b = { .handler = hb, .data = db, .name = "lo-b" };

    return loopback_open_actions(lo, &a, &b);
}

int loopback_open_actions(struct loopback *lo, const struct evt_action *a,
                          const struct evt_action *b)
{
    long rc;

    lo->irq_a = lo->irq_b = -1;
    rc = evtchn_alloc_unbound(DOMID_SELF, &lo->port_a);
    if (rc)
        return rc;
    lo->irq_a = bind_evtchn(lo->port_a, a);
    if (lo->irq_a < 0) {
        (void)evtchn_close(lo->port_a);
        return lo->irq_a;
    }
    lo->irq_b = bind_interdomain(DOMID_SELF, lo->port_a, b);
    if (lo->irq_b < 0) {
        unbind(lo->irq_a);
        lo->irq_a = -1;
        return lo->irq_b;
    }
    lo->port_b = irq_to_port(lo->irq_b);
    return 0;
}

void loopback_close(struct loopback *lo)
{
    if (lo->irq_b >= 0)
        unbind(lo->irq_b);
    if (lo->irq_a >= 0)
        unbind(lo->irq_a);
    lo->irq_a = lo->irq_b = -1;
}

bool wait_count(int *v, int n)
{
    return wait_count_ns(v, n, WAIT_NS);
}

bool wait_count_ns(const int *v, int n, uint64_t timeout_ns)
{
    uint64_t until = time_now_ns() + timeout_ns;

    while (__atomic_load_n(v, __ATOMIC_ACQUIRE) < n) {
        if (time_now_ns() > until)
            return false;
        cpu_relax();
    }
    return true;
}

bool wait_hits(struct counter *c, int n)
{
    return wait_count(&c->hits, n);
}

bool wait_flag(int *flag)
{
    return wait_count(flag, 1);
}

void count_handler_util(int irq, void *data)
{
    struct counter *c = data;

    c->last_cpu = smp_processor_id();
    __atomic_fetch_add(&c->hits, 1, __ATOMIC_RELEASE);
}

static void tick_set(void *quiet)
{
    timer_quiet_self(quiet != NULL);
}

static void tick_restore(void *cpu)
{
    (void)smp_call_on((unsigned int)(uintptr_t)cpu, tick_set, NULL, true);
}

int quiet_tick_for_case(unsigned int cpu)
{
    int rc = smp_call_on(cpu, tick_set, (void *)1, true);

    if (!rc)
        test_defer(tick_restore, (void *)(uintptr_t)cpu);
    return rc;
}

void unbind_irq_work(void *arg)
{
    unbind(*(int *)arg);
}

int bind_unrouted_pirq(const struct evt_action *a, unsigned int *pirq)
{
    int irq = -XEN_ENOENT;

    for (unsigned int p = 16; p < 64; p++) {
        if (pirq_to_irq(p) >= 0)
            continue;
        irq = bind_pirq(p, false, a);
        if (irq >= 0) {
            *pirq = p;
            return irq;
        }
        if (irq != -XEN_EEXIST)
            break;                      /* EINVAL: past Xen's nr_pirqs */
    }
    return irq;
}

/*
 * Xen 4.17 binds pirqs for a PVH dom0 (the hardware domain holds the irq
 * permissions; it boots as one under make run and tests/xenrun.py), so
 * there a pirq that cannot be bound fails the case: a PIRQ path must
 * never vanish from a run silently.  A domU from xl may be given none;
 * then the case prints why it did not test the path.
 */
int bind_test_pirq(const struct evt_action *a, unsigned int *pirq,
                   const char *what)
{
    int irq = bind_unrouted_pirq(a, pirq);

    if (irq >= 0)
        return irq;
    if (xen.is_dom0) {
        test_diag("%s: EVTCHNOP_bind_pirq refused dom0 a free pirq "
                  "(%d)", what, irq);
        test_fail_at(__FILE__, __LINE__, "a pirq bound as dom0");
    } else {
        test_diag("%s not tested: a domU, and Xen binds it no pirq "
                  "(EVTCHNOP_bind_pirq: %d)", what, irq);
    }
    return irq;
}
