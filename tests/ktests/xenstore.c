/*
 * The xenstore client (drivers/xenstore.c) and what the toolstack asks
 * through it (kernel/control.c).  These need a xenstore: a domU created by
 * xl has one; a PVH dom0 started by Xen alone has none, and they skip.
 * Keys live under the domain's data/ directory (relative paths are the
 * domain's home), removed again by each case.
 */
#include <xenith/selftest.h>
#include <xenith/control.h>
#include <xenith/cpu.h>
#include <xenith/inject.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/xenstore.h>
#include <xen/errno.h>
#include <xen/sched.h>

DECLARE_INJECT(xenstore_bad_rsp_prod);

#define NEED_STORE() do { if (!xenstore_available())                        \
    SKIP("no xenstore (a dom0 started by Xen alone has none)"); } while (0)
#define BASE "data/xenith-test"

/* Nothing at or past v[from] was written since it was filled with 0x5a. */
static bool untouched_from(const char *v, size_t from, size_t size)
{
    for (size_t i = from; i < size; i++)
        if (v[i] != 0x5a)
            return false;
    return true;
}

SELFTEST(xenstore, read_write)
{
    char v[64];
    long n;

    NEED_STORE();
    CHECK(xs_write(0, BASE "/a", "hello") == 0);
    CHECK(xs_read(0, BASE "/a", v, sizeof(v)) == 5 && !strcmp(v, "hello"));
    /* A buffer exactly big enough: the value and its NUL. */
    memset(v, 0x5a, sizeof(v));
    CHECK(xs_read(0, BASE "/a", v, 6) == 5 && !strcmp(v, "hello"));
    CHECK(untouched_from(v, 6, sizeof(v)));
    /* One byte short: -E2BIG (xenstore.h: the length or -errno; a cut
     * value is not a value), and nothing written past the buffer. */
    memset(v, 0x5a, sizeof(v));
    n = xs_read(0, BASE "/a", v, 5);
    if (n != -XEN_E2BIG)
        test_diag("reading 5 bytes of value into a 5-byte buffer gave %ld, "
                  "not -E2BIG (%d)", n, -XEN_E2BIG);
    CHECK(n == -XEN_E2BIG);
    CHECK(untouched_from(v, 5, sizeof(v)));
    memset(v, 0x5a, sizeof(v));
    CHECK(xs_read(0, BASE "/a", v, 3) == -XEN_E2BIG);
    CHECK(untouched_from(v, 3, sizeof(v)));
    CHECK(xs_write(0, BASE "/a", "") == 0);
    CHECK(xs_read(0, BASE "/a", v, sizeof(v)) == 0 && v[0] == '\0');
    CHECK(xs_read(0, BASE "/nonexistent", v, sizeof(v)) == -XEN_ENOENT);
    CHECK(xs_rm(0, BASE) == 0);
    CHECK(xs_read(0, BASE "/a", v, sizeof(v)) == -XEN_ENOENT);
    return TEST_RESULT();
}

SELFTEST(xenstore, directory)
{
    char list[256];
    bool x = false, y = false, z = false;
    long n;

    NEED_STORE();
    CHECK(xs_write(0, BASE "/d/x", "1") == 0);
    CHECK(xs_write(0, BASE "/d/y", "2") == 0);
    CHECK(xs_write(0, BASE "/d/z", "3") == 0);
    n = xs_directory(0, BASE "/d", list, sizeof(list));
    CHECK(n == 3);
    for (char *e = list; n > 0 && e < list + sizeof(list) && *e;
         e += strlen(e) + 1) {
        x |= !strcmp(e, "x");
        y |= !strcmp(e, "y");
        z |= !strcmp(e, "z");
    }
    CHECK(x && y && z);
    CHECK(xs_directory(0, BASE "/nonexistent", list, sizeof(list)) ==
          -XEN_ENOENT);
    CHECK(xs_rm(0, BASE) == 0);
    return TEST_RESULT();
}

/* A reply longer than the ring (1024 bytes, header included) comes in
 * pieces: the client must take each piece out to make room for the next.
 * A client that waits for the whole message in the ring waits forever
 * (the bound ends it: -ETIMEDOUT).  1500 bytes stay under xenstored's
 * default entry quota (2048). */
#define LARGE 1500

SELFTEST(xenstore, large_reply)
{
    static char want[LARGE + 1], got[LARGE + 2];
    long n;

    NEED_STORE();
    for (size_t i = 0; i < LARGE; i++)
        want[i] = (char)('a' + (i * 7 + i / 26) % 26);
    want[LARGE] = '\0';
    CHECK(xs_write(0, BASE "/big", want) == 0);
    memset(got, 0, sizeof(got));
    n = xs_read(0, BASE "/big", got, sizeof(got));
    if (n != LARGE)
        test_diag("reading back %d bytes gave %ld", LARGE, n);
    CHECK(n == LARGE && !memcmp(got, want, LARGE + 1));
    /* The ring goes on after it: a small one still works. */
    CHECK(xs_write(0, BASE "/a", "after") == 0);
    CHECK(xs_read(0, BASE "/a", got, sizeof(got)) == 5 &&
          !strcmp(got, "after"));
    CHECK(xs_rm(0, BASE) == 0);
    return TEST_RESULT();
}

/* The first attempt reads the key, then the key changes outside the
 * transaction: the commit must answer EAGAIN and the helper run again. */
struct txarg {
    unsigned int attempts;
};

static long tx_body(xs_tx_t tx, void *arg)
{
    struct txarg *a = arg;
    char v[32];
    long rc = xs_read(tx, BASE "/t", v, sizeof(v));

    if (rc < 0)
        return rc;
    if (a->attempts++ == 0 && xs_write(0, BASE "/t", "meddled"))
        return -XEN_EIO;
    return xs_write(tx, BASE "/t", "committed");
}

SELFTEST(xenstore, transaction_retry)
{
    struct txarg a = { 0 };
    unsigned int retries = 0;
    char v[32];

    NEED_STORE();
    CHECK(xs_write(0, BASE "/t", "start") == 0);
    CHECK(xs_transaction(tx_body, &a, &retries) == 0);
    test_diag("%u attempts, %u retried after EAGAIN", a.attempts, retries);
    CHECK(retries >= 1 && a.attempts == retries + 1);
    CHECK(xs_read(0, BASE "/t", v, sizeof(v)) > 0 && !strcmp(v, "committed"));
    CHECK(xs_rm(0, BASE) == 0);
    return TEST_RESULT();
}

static int watch_hits;
static char watch_path[64];

static void watch_cb(struct xs_watch *w, const char *path)
{
    strlcpy(watch_path, path, sizeof(watch_path));
    __atomic_fetch_add(&watch_hits, 1, __ATOMIC_RELEASE);
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);

    return n >= t && !strcmp(s + n - t, tail);
}

static bool wait_watch(int n)
{
    uint64_t until = time_now_ns() + 3 * NSEC_PER_SEC;

    while (__atomic_load_n(&watch_hits, __ATOMIC_ACQUIRE) < n) {
        if (time_now_ns() > until)
            return false;
        xs_run_watches();
        cpu_relax();
    }
    return true;
}

SELFTEST(xenstore, watch_fires)
{
    struct xs_watch w = { .path = BASE "/w", .cb = watch_cb };

    NEED_STORE();
    watch_hits = 0;
    CHECK(xs_watch(&w) == 0);
    CHECK(wait_watch(1));               /* fires once when set */
    CHECK(xs_write(0, BASE "/w", "1") == 0);
    CHECK(wait_watch(2));
    CHECK(ends_with(watch_path, "xenith-test/w"));
    CHECK(xs_unwatch(&w) == 0);
    CHECK(xs_write(0, BASE "/w", "2") == 0);
    mdelay(100);
    xs_run_watches();
    CHECK(__atomic_load_n(&watch_hits, __ATOMIC_ACQUIRE) == 2);
    CHECK(xs_rm(0, BASE) == 0);
    return TEST_RESULT();
}

struct conc {
    int bad;                    /* atomic */
};

static void conc_work(void *arg)
{
    struct conc *c = arg;
    unsigned int me = smp_processor_id();
    char path[48], want[24], got[24];

    snprintf(path, sizeof(path), BASE "/c%u", me);
    for (unsigned int i = 0; i < 40; i++) {
        snprintf(want, sizeof(want), "%u-%u", me, i);
        if (xs_write(0, path, want) ||
            xs_read(0, path, got, sizeof(got)) < 0 || strcmp(got, want))
            __atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
    }
}

/* Requests from every vCPU at once: each reply reaches its own caller. */
SELFTEST(xenstore, concurrent_requests, .min_vcpus = 2, .timeout_ms = 60000)
{
    static struct cpu_work w[MAX_VCPUS];
    struct conc c = { 0 };
    unsigned int cpu, me = smp_processor_id();

    NEED_STORE();
    for_each_online_cpu(cpu)
        if (cpu != me)
            CHECK(test_work_queue(cpu, &w[cpu], conc_work, &c) == 0);
    conc_work(&c);
    for_each_online_cpu(cpu)
        if (cpu != me)
            CHECK(smp_work_wait(&w[cpu], test_bound_ns(30 * NSEC_PER_SEC)));
    CHECK(c.bad == 0);
    CHECK(xs_rm(0, BASE) == 0);
    return TEST_RESULT();
}

/* The backend's rsp_prod is corrupted as the client reads it: the request
 * in flight gets -EIO, nothing is consumed past it, and the next request
 * (indices sane again) works. */
SELFTEST(xenstore, bad_backend_indices)
{
    unsigned int broken = xenstore_broken_events();
    char v[32];
    long rc;

    NEED_STORE();
    CHECK(xs_write(0, BASE "/b", "sane") == 0);
    inject_arm(&inject_xenstore_bad_rsp_prod, INJECT_ANY);
    rc = xs_read(0, BASE "/b", v, sizeof(v));
    inject_disarm(&inject_xenstore_bad_rsp_prod);
    test_diag("read with a corrupted rsp_prod: %ld", rc);
    CHECK(rc == -XEN_EIO);
    CHECK(xenstore_broken_events() == broken + 1);
    CHECK(xs_read(0, BASE "/b", v, sizeof(v)) == 4 && !strcmp(v, "sane"));
    CHECK(xs_rm(0, BASE) == 0);
    return TEST_RESULT();
}

/* The real control/shutdown path, asked by ourselves: the watch fires, the
 * request is taken and acknowledged (node cleared); then taken back so
 * the run goes on. */
SELFTEST(control, shutdown_watch)
{
    uint64_t until = time_now_ns() + 3 * NSEC_PER_SEC;
    char v[16];

    NEED_STORE();
    CHECK(control_shutdown_requested() == -1);
    CHECK(xs_write(0, "control/shutdown", "reboot") == 0);
    while (control_shutdown_requested() == -1 && time_now_ns() < until) {
        xs_run_watches();
        cpu_relax();
    }
    CHECK(control_shutdown_requested() == SHUTDOWN_reboot);
    CHECK(xs_read(0, "control/shutdown", v, sizeof(v)) == 0);  /* acked */
    control_shutdown_forget();
    CHECK(xs_read(0, "control/feature-poweroff", v, sizeof(v)) == 1 &&
          v[0] == '1');
    return TEST_RESULT();
}

/*
 * xl vcpu-set, driven by tests/xl: the rig writes data/xenith-vcpu-set =
 * "drive" before the domain runs; this case says "waiting", sees the
 * toolstack take every vCPU but vCPU0 down, says "at-1", sees them all
 * come back, says "done".  Without the rig's key it skips.
 */
static bool wait_online_count(unsigned int n, uint64_t bound_ns)
{
    uint64_t until = time_now_ns() + bound_ns;

    while (smp_nr_vcpus() != n) {
        if (time_now_ns() > until)
            return false;
        xs_run_watches();
        mdelay(10);
    }
    return true;
}

SELFTEST(hotplug, toolstack_vcpu_set, .timeout_ms = 200000,
         .vcpus_may_change = true)
{
    unsigned int all = smp_domain_vcpus(), changes = control_vcpu_changes();
    char v[16];

    NEED_STORE();
    if (xs_read(0, "data/xenith-vcpu-set", v, sizeof(v)) <= 0 ||
        strcmp(v, "drive"))
        SKIP("no toolstack drives xl vcpu-set (data/xenith-vcpu-set unset)");
    CHECK(xs_write(0, "data/xenith-vcpu-set", "waiting") == 0);
    if (!wait_online_count(1, 90 * NSEC_PER_SEC)) {
        test_diag("still %u vCPUs online after 90 s", smp_nr_vcpus());
        return TEST_FAIL;
    }
    test_diag("xl vcpu-set 1: only vCPU0 online");
    CHECK(xs_write(0, "data/xenith-vcpu-set", "at-1") == 0);
    if (!wait_online_count(all, 90 * NSEC_PER_SEC)) {
        test_diag("%u of %u vCPUs online after 90 s", smp_nr_vcpus(), all);
        return TEST_FAIL;
    }
    test_diag("xl vcpu-set %u: all online again (%u toolstack changes)", all,
              control_vcpu_changes() - changes);
    CHECK(xs_write(0, "data/xenith-vcpu-set", "done") == 0);
    return TEST_RESULT();
}
