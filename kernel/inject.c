/*
 * Injection points (see include/xenith/inject.h).  A held vCPU spins with
 * whatever interrupt state its path had: the point is there to hold it
 * inside exactly that state (an irq handler, a half-done unbind).
 */
#include <xenith/inject.h>
#include <xenith/percpu.h>
#include <xenith/selftest.h>
#include <xenith/string.h>
#include <xenith/time.h>

#define HOLD_BOUND_NS (5 * NSEC_PER_SEC)

extern struct inject_point __inject_points_start[], __inject_points_end[];

/* A torture delay: the taker stalls, then goes on by itself. */
static void serve_delay(struct inject_point *ip)
{
    uint64_t until = time_now_ns() + ip->delay_ns;

    __atomic_store_n(&ip->held, 1, __ATOMIC_RELEASE);
    while (time_now_ns() < until)
        cpu_relax();
    ip->delays++;
    __atomic_store_n(&ip->held, 0, __ATOMIC_RELEASE);
}

void inject_hit(struct inject_point *ip, long key)
{
    int one = 1;
    uint64_t until;

    if (ip->key != INJECT_ANY && ip->key != key)
        return;
    if (!__atomic_compare_exchange_n(&ip->armed, &one, 0, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return;                         /* another vCPU took it */
    if (ip->delay_ns) {
        serve_delay(ip);
        return;
    }
    ip->hits++;
    __atomic_fetch_add(&ip->case_reached, 1, __ATOMIC_RELAXED);
    ip->held_cpu = smp_processor_id();
    __atomic_store_n(&ip->held, 1, __ATOMIC_RELEASE);
    /* Scaled like the cases' own waits, which it must outlast. */
    until = time_now_ns() + test_bound_ns(HOLD_BOUND_NS);
    while (!__atomic_load_n(&ip->release, __ATOMIC_ACQUIRE)) {
        if (time_now_ns() > until) {
            ip->timed_out = true;
            __atomic_fetch_add(&ip->case_timeouts, 1, __ATOMIC_RELAXED);
            break;
        }
        cpu_relax();
    }
    __atomic_store_n(&ip->held, 0, __ATOMIC_RELEASE);
}

bool inject_fire_hit(struct inject_point *ip)
{
    int one = 1;

    if (!__atomic_compare_exchange_n(&ip->armed, &one, 0, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return false;
    if (ip->delay_ns) {
        serve_delay(ip);                /* a delay, never a fault */
        return false;
    }
    ip->hits++;
    __atomic_fetch_add(&ip->case_reached, 1, __ATOMIC_RELAXED);
    return true;
}

void inject_arm(struct inject_point *ip, long key)
{
    ip->delay_ns = 0;
    ip->case_arms++;
    ip->key = key;
    ip->timed_out = false;
    __atomic_store_n(&ip->release, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ip->armed, 1, __ATOMIC_RELEASE);
}

bool inject_arm_delay(struct inject_point *ip, uint64_t delay_ns)
{
    int zero = 0;

    if (!delay_ns || __atomic_load_n(&ip->held, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&ip->armed, __ATOMIC_ACQUIRE))
        return false;
    ip->key = INJECT_ANY;
    ip->delay_ns = delay_ns;
    /* Published by the exchange: a taker sees delay_ns set. */
    if (!__atomic_compare_exchange_n(&ip->armed, &zero, 1, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return false;
    return true;
}

struct inject_point *inject_points(unsigned int *n)
{
    *n = __inject_points_end - __inject_points_start;
    return __inject_points_start;
}

void inject_arm_optional(struct inject_point *ip, long key)
{
    ip->case_optional = true;
    inject_arm(ip, key);
}

void inject_disarm(struct inject_point *ip)
{
    __atomic_store_n(&ip->armed, 0, __ATOMIC_RELEASE);
}

bool inject_wait_held(struct inject_point *ip, uint64_t timeout_ns)
{
    uint64_t until = time_now_ns() + timeout_ns;

    while (!__atomic_load_n(&ip->held, __ATOMIC_ACQUIRE)) {
        if (time_now_ns() > until)
            return false;
        cpu_relax();
    }
    return true;
}

void inject_release(struct inject_point *ip)
{
    inject_disarm(ip);
    __atomic_store_n(&ip->release, 1, __ATOMIC_RELEASE);
}

struct inject_point *inject_find(const char *name)
{
    for (struct inject_point *ip = __inject_points_start;
         ip < __inject_points_end; ip++)
        if (!strcmp(ip->name, name))
            return ip;
    return NULL;
}

/*
 * The self-test runner, after each case: a case that returned early may
 * have left a point armed (a later path, in another case, would stop
 * there) or a vCPU held (spinning for up to HOLD_BOUND_NS inside a path
 * whose data may be the case's frame).  Disarm every point, release every
 * held vCPU, and wait (bounded) until none is held.  Returns how many
 * points were armed or held; *stuck is set if one is still held.
 */
unsigned int inject_reset_all(uint64_t timeout_ns, bool *stuck)
{
    unsigned int n = 0;
    uint64_t until = time_now_ns() + timeout_ns;

    *stuck = false;
    for (struct inject_point *ip = __inject_points_start;
         ip < __inject_points_end; ip++) {
        bool armed = __atomic_exchange_n(&ip->armed, 0, __ATOMIC_ACQ_REL);

        if (armed || __atomic_load_n(&ip->held, __ATOMIC_ACQUIRE))
            n++;
        __atomic_store_n(&ip->release, 1, __ATOMIC_RELEASE);
    }
    for (struct inject_point *ip = __inject_points_start;
         ip < __inject_points_end; ip++)
        while (__atomic_load_n(&ip->held, __ATOMIC_ACQUIRE)) {
            if (time_now_ns() > until) {
                *stuck = true;
                break;
            }
            cpu_relax();
        }
    return n;
}

void inject_case_begin(void)
{
    for (struct inject_point *ip = __inject_points_start;
         ip < __inject_points_end; ip++) {
        ip->case_arms = 0;
        __atomic_store_n(&ip->case_reached, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&ip->case_timeouts, 0, __ATOMIC_RELAXED);
        ip->case_optional = false;
    }
}

/* After inject_reset_all: nothing is armed or held any more, so the
 * counts are final.  An arm is one window: each must have been reached
 * (a hold or a fire), and no hold may have ended by its bound. */
unsigned int inject_case_check(void (*bad)(const struct inject_point *ip,
                                           const char *why))
{
    unsigned int n = 0;

    for (struct inject_point *ip = __inject_points_start;
         ip < __inject_points_end; ip++) {
        unsigned int reached = __atomic_load_n(&ip->case_reached,
                                               __ATOMIC_ACQUIRE);

        if (!ip->case_arms || ip->case_optional)
            continue;
        if (reached < ip->case_arms) {
            bad(ip, "armed but never reached: the window it opens was not "
                    "tested");
            n++;
        }
        if (__atomic_load_n(&ip->case_timeouts, __ATOMIC_ACQUIRE)) {
            bad(ip, "held a vCPU until the hold bound let it go, not the "
                    "case: the window closed on its own");
            n++;
        }
    }
    return n;
}
