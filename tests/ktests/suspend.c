/*
 * control.suspend_resume_under_load: a domU suspended by the toolstack
 * (xl save -c, xl save + xl restore, xl migrate) while every vCPU works,
 * driven by tests/xl (check_save_restore, check_migrate).
 *
 * The rig writes data/xenith-suspend = "drive" before the domain runs.
 * The case then loads every online vCPU, says "waiting", and goes on
 * until the rig says "done" (in whichever domain it then runs in):
 *  - cross-vCPU calls flow from every vCPU to every other, up to
 *    CALLS_IN_FLIGHT per pair at once (an IPI storm), each carrying its
 *    sequence number: the target checks it is exactly the next one, so a
 *    lost call, a call run twice or out of order is seen where it runs;
 *  - all vCPUs contend for one spinlock around a shared counter;
 *  - each reads the clock on every turn and counts readings that went
 *    back.
 * Every worker passes a safe point (suspend_point) on every turn, which
 * is where a suspend parks it.  At the end every call sent must have run
 * exactly once (the in-flight ones are waited for, bounded), the lock
 * counter must match, the clock never went back, at least one suspend
 * happened, and right after each resume the consistency oracle agreed
 * with Xen.  A call IPI lost across the suspend (an IPI not bound again,
 * mutant R; a pending event not raised again) shows as a pair whose
 * calls stop.
 */
#include <xenith/control.h>
#include <xenith/evtdev.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
#include <xenith/percpu.h>
#include <xenith/selftest.h>
#include <xenith/smp.h>
#include <xenith/spinlock.h>
#include <xenith/string.h>
#include <xenith/suspend.h>
#include <xenith/time.h>
#include <xenith/xen.h>
#include <xenith/xenstore.h>
#include <xen/errno.h>

#define LOAD_VCPUS      8               /* vCPUs that take part, at most */
#define CALLS_IN_FLIGHT 4
#define KEY             "data/xenith-suspend"
#define DRIVE_BOUND_NS  (300 * NSEC_PER_SEC)    /* the rig's whole run */
#define DRAIN_BOUND_NS  (5 * NSEC_PER_SEC)

static struct {
    int stop;                           /* atomic */
    unsigned int n;                     /* vCPUs 0..n-1 take part */
    uint64_t sent[LOAD_VCPUS][LOAD_VCPUS];     /* [from][to], by from */
    uint64_t ran[LOAD_VCPUS][LOAD_VCPUS];      /* [from][to], by to */
    uint64_t misordered;                /* atomic: not the next number */
    uint64_t send_failed;               /* atomic */
    uint64_t clock_back;                /* atomic */
    spinlock_t lock;
    uint64_t locked;                    /* under lock */
    uint64_t took[LOAD_VCPUS];          /* by each vCPU */
    uint64_t last_ns[LOAD_VCPUS];
} L;

/* A call's whole message in its argument: no allocation to lose. */
static void *encode(unsigned int from, unsigned int to, uint64_t seq)
{
    return (void *)(((uint64_t)from << 56) | ((uint64_t)to << 48) | seq);
}

static void on_call(void *arg)
{
    uint64_t v = (uint64_t)arg;
    unsigned int from = v >> 56, to = (v >> 48) & 0xff;
    uint64_t seq = v & ((1ull << 48) - 1);
    uint64_t *ran = &L.ran[from][to];

    if (to != smp_processor_id() ||
        seq != __atomic_load_n(ran, __ATOMIC_RELAXED) + 1)
        __atomic_fetch_add(&L.misordered, 1, __ATOMIC_RELAXED);
    __atomic_store_n(ran, seq, __ATOMIC_RELEASE);
}

static void one_turn(unsigned int me)
{
    uint64_t now;

    for (unsigned int to = 0; to < L.n; to++) {
        uint64_t *sent = &L.sent[me][to];
        uint64_t seq = *sent + 1;

        if (to == me || seq > __atomic_load_n(&L.ran[me][to],
                                              __ATOMIC_ACQUIRE) +
                                  CALLS_IN_FLIGHT)
            continue;
        if (smp_call_on(to, on_call, encode(me, to, seq), false))
            __atomic_fetch_add(&L.send_failed, 1, __ATOMIC_RELAXED);
        else
            __atomic_store_n(sent, seq, __ATOMIC_RELEASE);
    }
    spin_lock(&L.lock);
    L.locked++;
    L.took[me]++;
    spin_unlock(&L.lock);
    now = time_now_ns();
    if (now < L.last_ns[me])
        __atomic_fetch_add(&L.clock_back, 1, __ATOMIC_RELAXED);
    L.last_ns[me] = now;
    suspend_point();
}

static void worker(void *arg)
{
    unsigned int me = smp_processor_id();

    while (!__atomic_load_n(&L.stop, __ATOMIC_ACQUIRE))
        one_turn(me);
}

/* A call may run before its sender has counted it sent: in flight is
 * what was counted sent and has not run. */
static void totals(uint64_t *sent, uint64_t *ran, uint64_t *flying)
{
    *sent = *ran = *flying = 0;
    for (unsigned int f = 0; f < L.n; f++)
        for (unsigned int t = 0; t < L.n; t++) {
            uint64_t r = __atomic_load_n(&L.ran[f][t], __ATOMIC_ACQUIRE);
            uint64_t s = __atomic_load_n(&L.sent[f][t], __ATOMIC_ACQUIRE);

            *sent += s;
            *ran += r;
            *flying += s > r ? s - r : 0;
        }
}

static void say_counters(const char *when)
{
    uint64_t sent, ran, flying;

    totals(&sent, &ran, &flying);
    test_diag("%s: %lu calls sent, %lu run, %lu in flight, %lu lock turns, "
              "%lu misordered, %lu clock steps back, %u resumes, %u "
              "cancels", when, sent, ran, flying, L.locked,
              L.misordered, L.clock_back, suspend_resumes(),
              suspend_cancels());
}

static bool key_is(const char *want)
{
    char v[16];

    return xs_read(0, KEY, v, sizeof(v)) > 0 && !strcmp(v, want);
}

/* Calls in flight at the stop have a bound to run in. */
static bool drained(void)
{
    uint64_t until = time_now_ns() + DRAIN_BOUND_NS, sent, ran, flying;

    for (;;) {
        totals(&sent, &ran, &flying);
        if (sent == ran)
            return true;
        if (time_now_ns() > until)
            return false;
        mdelay(1);
    }
}

static void pairs_report(void)
{
    for (unsigned int f = 0; f < L.n; f++)
        for (unsigned int t = 0; t < L.n; t++)
            if (L.sent[f][t] != L.ran[f][t])
                test_diag("vCPU%u -> vCPU%u: %lu calls sent, %lu run", f, t,
                          L.sent[f][t], L.ran[f][t]);
}

SELFTEST(control, suspend_resume_under_load, .timeout_ms = 400000,
         .min_vcpus = 2)
{
    static struct cpu_work work[LOAD_VCPUS];
    unsigned int me = smp_processor_id(), events = 0, seen, resumed;
    struct evtdev_user *user;
    evtchn_port_t got[4];
    long lost, rd;
    uint64_t until, sum = 0;
    bool oracle_ok = true;

    if (xen.is_dom0)
        SKIP("a dom0 cannot be saved or migrated: only a domU is");
    if (!xenstore_available())
        SKIP("no xenstore (a dom0 started by Xen alone has none)");
    if (!key_is("drive"))
        SKIP("no toolstack drives xl save (" KEY " unset)");
    memset(&L, 0, sizeof(L));
    L.lock = (spinlock_t)SPINLOCK_INIT;
    L.n = smp_nr_vcpus() < LOAD_VCPUS ? smp_nr_vcpus() : LOAD_VCPUS;
    REQUIRE(me < L.n);
    for (unsigned int c = 0; c < L.n; c++)
        if (c != me)
            REQUIRE(smp_work_queue(c, &work[c], worker, NULL) == 0);
    /* An evtchn device user with a port to nobody yet: a new domain
     * has no such port, and the device must say so to its reader. */
    user = evtdev_open();
    REQUIRE(user);
    lost = evtdev_bind_unbound_port(user, DOMID_SELF);
    REQUIRE(lost > 0);
    seen = suspend_resumes() + suspend_cancels();
    resumed = suspend_resumes();
    REQUIRE(xs_write(0, KEY, "waiting") == 0);
    say_counters("load running, waiting for the toolstack");
    until = time_now_ns() + DRIVE_BOUND_NS;
    while (!key_is("done") && time_now_ns() < until) {
        for (unsigned int i = 0; i < 64; i++)
            one_turn(me);
        xs_run_watches();               /* the suspend may run here */
        if (suspend_resumes() + suspend_cancels() != seen) {
            seen = suspend_resumes() + suspend_cancels();
            events++;
            say_counters("back from a suspend");
            if (evtchn_oracle_check()) {
                test_diag("the oracle disagrees with Xen right after it");
                oracle_ok = false;
            }
        }
    }
    __atomic_store_n(&L.stop, 1, __ATOMIC_RELEASE);
    for (unsigned int c = 0; c < L.n; c++)
        if (c != me && !smp_work_wait(&work[c], test_bound_ns(DRAIN_BOUND_NS)))
            test_diag("vCPU%u's worker did not stop", c);
    if (!key_is("done"))
        test_diag("the toolstack never said done in %lu s",
                  DRIVE_BOUND_NS / NSEC_PER_SEC);
    CHECK(drained());
    say_counters("stopped");
    pairs_report();
    for (unsigned int c = 0; c < L.n; c++)
        sum += L.took[c];
    /* The evtchn device user: told once after a resume, never after a
     * cancel alone; its port's irq lost its port in a new domain. */
    rd = evtdev_read(user, got, 4);
    if (suspend_resumes() != resumed) {
        if (rd != -XEN_ENOTCONN || evtdev_read(user, got, 4) != 0)
            test_diag("evtchn device after a resume: read gave %ld, not "
                      "-ENOTCONN once", rd);
        CHECK(rd == -XEN_ENOTCONN);
        CHECK(evtchn_port_lost(evtdev_port_irq(user, (evtchn_port_t)lost)));
    } else {
        CHECK(rd == 0);
    }
    evtdev_release(user);
    CHECK(key_is("done"));
    CHECK(events > 0);
    CHECK(oracle_ok);
    CHECK(L.misordered == 0);
    CHECK(L.send_failed == 0);
    CHECK(L.clock_back == 0);
    CHECK(L.locked == sum);
    return TEST_RESULT();
}
