/*
 * The evtchn device: Linux /dev/xen/evtchn semantics (bind, read,
 * re-enable), and release of a user with many ports while other vCPUs
 * keep firing them (concurrency.md scenario 2, bug A's second form).
 */
#include <xenith/selftest.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
#include <xenith/evtdev.h>
#include <xenith/percpu.h>
#include <xenith/string.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xen/errno.h>

/* Wait (bounded) until port is read; other ports read meanwhile (the
 * console VIRQ fires whenever Xen prints) are skipped.  Returns how many
 * times port was read. */
static int read_port(struct evtdev_user *u, evtchn_port_t port)
{
    uint64_t until = time_now_ns() + NSEC_PER_SEC;
    evtchn_port_t got[8];
    int seen = 0;

    while (!seen && time_now_ns() < until) {
        long n = evtdev_read(u, got, 8);
        for (long i = 0; i < n; i++)
            seen += got[i] == port;
    }
    return seen;
}

/* Like read_port, but only reads what is there now. */
static int read_port_now(struct evtdev_user *u, evtchn_port_t port)
{
    evtchn_port_t got[8];
    long n = evtdev_read(u, got, 8);
    int seen = 0;

    for (long i = 0; i < n; i++)
        seen += got[i] == port;
    return seen;
}

SELFTEST(evtdev, bind_read_reenable)
{
    struct evtdev_user *u = evtdev_open();
    evtchn_port_t got[4];
    long a, b, v;
    evtchn_port_t pa;

    REQUIRE(u != NULL);
    a = evtdev_bind_unbound_port(u, DOMID_SELF);
    CHECK(a > 0);
    b = a > 0 ? evtdev_bind_interdomain(u, DOMID_SELF, a) : -1;
    CHECK(b > 0);
    v = evtdev_bind_virq(u, VIRQ_CONSOLE);
    CHECK(v > 0);
    CHECK(evtdev_bind_virq(u, VIRQ_TIMER) == -XEN_EINVAL);
    CHECK(evtchn_oracle_check() == 0);
    if (a > 0 && b > 0) {
        /* b -> a: a is queued once, then stays masked. */
        pa = a;
        CHECK(evtdev_notify(u, b) == 0);
        CHECK(read_port(u, pa) == 1);
        CHECK(evtdev_notify(u, b) == 0);
        mdelay(20);
        CHECK(read_port_now(u, pa) == 0);
        /* Re-enable: the event that came while masked is delivered. */
        CHECK(evtdev_reenable(u, &pa, 1) == 0);
        CHECK(read_port(u, pa) == 1);
        /* A port the user does not own. */
        CHECK(evtdev_notify(u, 0) == -XEN_ENOTCONN);
        CHECK(evtdev_unbind(u, b) == 0);
        CHECK(evtdev_unbind(u, b) == -XEN_ENOTCONN);
    }
    evtdev_reset(u);
    CHECK(evtdev_read(u, got, 4) == 0);
    evtdev_release(u);
    return TEST_RESULT();
}

/* Scenario 2: 64 bound ports, events keep coming from other vCPUs, and
 * their handlers run on other vCPUs, while the user is released. */
#define STORM_PORTS 64

struct storm_arg {
    evtchn_port_t ports[STORM_PORTS];
    int stop;                   /* atomic */
    unsigned long sends;
};

static void sender(void *arg)
{
    struct storm_arg *s = arg;

    /* Sends to ports being closed under us may fail: that is fine. */
    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
        for (unsigned int i = 0; i < STORM_PORTS; i++, s->sends++)
            (void)evtchn_send(s->ports[i]);
}

SELFTEST(evtdev, release_under_storm, .min_vcpus = 2)
{
    struct evtdev_user *u;
    static struct storm_arg s;
    struct cpu_work w;
    evtchn_port_t got[64];
    unsigned int n = 0, cpu[TEST_MAX_PICK], ncpu = 1;
    uint64_t until;

    /* Every vCPU it can have (up to TEST_MAX_PICK): the first sends, the
     * handlers spread over all of them. */
    PICK_CPUS(1, cpu);
    while (ncpu < TEST_MAX_PICK && test_pick_cpus(1, &cpu[ncpu]))
        ncpu++;
    u = evtdev_open();
    REQUIRE(u != NULL);
    memset(&s, 0, sizeof(s));
    /* 32 loopback pairs inside the user; the handlers spread over the
     * picked vCPUs; the sends go to the other end of each pair. */
    while (n + 1 < STORM_PORTS) {
        long a = evtdev_bind_unbound_port(u, DOMID_SELF), b;

        if (a <= 0)
            break;
        b = evtdev_bind_interdomain(u, DOMID_SELF, a);
        if (b <= 0)
            break;
        s.ports[n] = b;
        s.ports[n + 1] = a;
        (void)irq_set_affinity(evtdev_port_irq(u, a), cpu[n % ncpu]);
        (void)irq_set_affinity(evtdev_port_irq(u, b), cpu[(n + 1) % ncpu]);
        n += 2;
    }
    CHECK(n == STORM_PORTS);
    if (test_work_queue(cpu[0], &w, sender, &s)) {
        evtdev_release(u);
        REQUIRE(!"test_work_queue(cpu[0], &w, sender, &s) == 0");
    }
    /* Consume and re-enable for a while, so the storm keeps going. */
    until = time_now_ns() + 100 * NSEC_PER_MSEC;
    while (time_now_ns() < until) {
        long k = evtdev_read(u, got, 64);
        if (k > 0)
            (void)evtdev_reenable(u, got, k);
        else if (k < 0)
            evtdev_reset(u);
    }
    evtdev_release(u);                  /* under the storm */
    __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
    CHECK(smp_work_wait(&w, test_bound_ns(2 * NSEC_PER_SEC)));
    test_diag("released %u ports after %lu sends", n, s.sends);
    return TEST_RESULT();
}
