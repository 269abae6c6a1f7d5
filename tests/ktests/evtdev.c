/*
 * The evtchn device: Linux /dev/xen/evtchn semantics (bind, read,
 * re-enable), and release of a user with many ports while other vCPUs
 * keep firing them (concurrency.md scenario 2, bug A's second form).
 */
#include <xenith/selftest.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
#include <xenith/evtdev.h>
#include <xenith/inject.h>
#include <xenith/irq.h>
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

/*
 * Scenario 2: 64 bound ports, events keep coming from other vCPUs, and
 * their handlers run on other vCPUs, while the user is released.  Not
 * left to timing: a handler of the first port the release tears down
 * is held at evtdev.handler (inside the handler, on vCPU hv) across the
 * release.  The release must wait for it (unbind drains handlers), and
 * the handler, let go, must still find its record (drivers/evtchn.c's
 * BUG_ON on the record's magic is the use-after-free check).
 *
 * Roles: cpu[0] sends; cpu[1] releases (a work item: vCPU0 must be free
 * to let the handler go); hv is cpu[2], or cpu[0] with only two picked
 * (then vCPU0 keeps the storm going while hv is held).
 */
#define STORM_PORTS 64

DECLARE_INJECT(evtdev_handler);

struct storm_arg {
    evtchn_port_t ports[STORM_PORTS];
    unsigned int n;
    int stop;                   /* atomic */
    unsigned long sends;
};

static void send_all(const struct storm_arg *s, unsigned long *sends)
{
    /* Sends to ports being closed under us may fail: that is fine. */
    for (unsigned int i = 0; i < s->n; i++, (*sends)++)
        (void)evtchn_send(s->ports[i]);
}

static void sender(void *arg)
{
    struct storm_arg *s = arg;

    while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
        send_all(s, &s->sends);
}

static void release_work(void *arg)
{
    evtdev_release(arg);
}

/* Consume and re-enable for up to ns, so the storm keeps going; stop
 * early once a vCPU is held at ip (if ip).  True if one is. */
static bool consume(struct evtdev_user *u, uint64_t ns,
                    struct inject_point *ip)
{
    uint64_t until = time_now_ns() + ns;
    evtchn_port_t got[64];

    while (time_now_ns() < until) {
        long k;

        if (ip && inject_wait_held(ip, 0))
            return true;
        k = evtdev_read(u, got, 64);
        if (k > 0)
            (void)evtdev_reenable(u, got, k);
        else if (k < 0)
            evtdev_reset(u);
    }
    return ip && inject_wait_held(ip, 0);
}

/* Whether port's handler is gone (free_irq ran: the release reached it). */
static bool handler_removed(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);

    return !d || !__atomic_load_n(&d->handler, __ATOMIC_ACQUIRE);
}

SELFTEST(evtdev, release_under_storm, .min_vcpus = 3)
{
    struct inject_point *ip = &inject_evtdev_handler;
    struct evtdev_user *u;
    static struct storm_arg s;
    struct cpu_work ws, wr;
    unsigned int cpu[TEST_MAX_PICK], ncpu = 2, hv;
    evtchn_port_t held_port = 0;
    int held_irq = -1;
    bool reached, early;
    unsigned long own_sends = 0;
    uint64_t until;

    PICK_CPUS(2, cpu);
    while (ncpu < TEST_MAX_PICK && test_pick_cpus(1, &cpu[ncpu]))
        ncpu++;
    hv = ncpu > 2 ? cpu[2] : cpu[0];
    u = evtdev_open();
    REQUIRE(u != NULL);
    memset(&s, 0, sizeof(s));
    /* 32 loopback pairs inside the user; the handlers spread over the
     * picked vCPUs; the sends go to the other end of each pair. */
    while (s.n + 1 < STORM_PORTS) {
        long a = evtdev_bind_unbound_port(u, DOMID_SELF), b;

        if (a <= 0)
            break;
        b = evtdev_bind_interdomain(u, DOMID_SELF, a);
        if (b <= 0)
            break;
        s.ports[s.n] = b;
        s.ports[s.n + 1] = a;
        (void)irq_set_affinity(evtdev_port_irq(u, a), cpu[s.n % ncpu]);
        (void)irq_set_affinity(evtdev_port_irq(u, b),
                               cpu[(s.n + 1) % ncpu]);
        if (!held_port) {
            /* The first bound: the first the release tears down. */
            held_port = a;
            held_irq = evtdev_port_irq(u, a);
        }
        s.n += 2;
    }
    CHECK(s.n == STORM_PORTS);
    if (!held_port || irq_set_affinity(held_irq, hv) ||
        test_work_queue(cpu[0], &ws, sender, &s)) {
        evtdev_release(u);
        REQUIRE(!"the storm started, its first port's handler on hv");
    }
    consume(u, 100 * NSEC_PER_MSEC, NULL);

    /* Hold a handler of the first port, in the storm. */
    inject_arm(ip, held_port);
    if (!consume(u, test_bound_ns(NSEC_PER_SEC), ip)) {
        inject_disarm(ip);
        test_diag("no handler of port %u reached evtdev.handler on vCPU%u",
                  held_port, hv);
        test_fail_at(__FILE__, __LINE__, "a handler held");
        evtdev_release(u);
        goto stop;
    }
    if (test_work_queue(cpu[1], &wr, release_work, u)) {
        inject_release(ip);
        evtdev_release(u);
        test_fail_at(__FILE__, __LINE__, "release queued");
        goto stop;
    }
    /* The release starts with the held port: free_irq removes its
     * handler, then waits for ours to leave.  Keep the storm going from
     * here meanwhile (hv may be the sender). */
    until = time_now_ns() + test_bound_ns(NSEC_PER_SEC);
    while (!(reached = handler_removed(held_irq)) && time_now_ns() < until)
        send_all(&s, &own_sends);
    /* A release that does not wait for the handler ends in this time. */
    until = time_now_ns() + 100 * NSEC_PER_MSEC;
    while (!smp_work_done(&wr) && time_now_ns() < until)
        send_all(&s, &own_sends);
    early = smp_work_done(&wr);
    if (!reached)
        test_diag("the release on vCPU%u never reached port %u", cpu[1],
                  held_port);
    if (early)
        test_diag("the release on vCPU%u returned while the handler of port "
                  "%u was held on vCPU%u: its record is freed under it",
                  cpu[1], held_port, hv);
    CHECK(reached);
    CHECK(!early);
    /* Let it go: it must find its record intact, and the release end. */
    inject_release(ip);
    if (!smp_work_wait(&wr, test_bound_ns(2 * NSEC_PER_SEC))) {
        test_diag("the release on vCPU%u did not end after the handler on "
                  "vCPU%u was let go", cpu[1], hv);
        test_abort_run("a vCPU is stuck releasing an evtchn device user");
        __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
        return TEST_FAIL;
    }
stop:
    __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
    CHECK(smp_work_wait(&ws, test_bound_ns(2 * NSEC_PER_SEC)));
    test_diag("released %u ports after %lu sends, a handler held on vCPU%u",
              s.n, s.sends + own_sends, hv);
    return TEST_RESULT();
}
