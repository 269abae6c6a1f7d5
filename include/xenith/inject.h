/*
 * Injection points: named places in the bind, unbind, upcall and device
 * paths where a self-test can hold a vCPU to open a race window on
 * purpose.  Unarmed, a point costs one load and a predictable branch.
 *
 *   DEFINE_INJECT(unbind_after_shutdown, "unbind.after_shutdown");
 *   ...
 *   inject(&inject_unbind_after_shutdown, port);
 *
 * A test arms a point for a key (a port, an irq; INJECT_ANY matches all):
 * the first vCPU to pass it with that key disarms it and spins there until
 * the test releases it, or until a bound passes (then it goes on and the
 * point records that it timed out, so a broken test cannot wedge a vCPU).
 */
#ifndef XENITH_INJECT_H
#define XENITH_INJECT_H

#include <xenith/types.h>
#include <xenith/compiler.h>

#define INJECT_ANY (-1L)

struct inject_point {
    const char *name;
    int armed;                  /* atomic */
    long key;
    int held;                   /* atomic: a vCPU is spinning here */
    int held_cpu;
    int release;                /* atomic */
    unsigned int hits;
    bool timed_out;
    /* Since the runner's inject_case_begin (kernel/selftest.c checks
     * them after the case): arms, holds and fires, and bound expiries. */
    unsigned int case_arms, case_reached, case_timeouts;
    bool case_optional;         /* inject_arm_optional: not checked */
    /* inject_arm_delay: the first vCPU to pass waits this long and goes
     * on by itself (no release); a fault point so armed never fires. */
    uint64_t delay_ns;
    unsigned int delays;        /* delays served, since boot */
};

#define DEFINE_INJECT(id, str)                                              \
    struct inject_point inject_##id __used __section(".inject_points")      \
        __aligned(8) = { .name = (str) }
#define DECLARE_INJECT(id) extern struct inject_point inject_##id

void inject_hit(struct inject_point *ip, long key);

static __always_inline void inject(struct inject_point *ip, long key)
{
    if (unlikely(__atomic_load_n(&ip->armed, __ATOMIC_RELAXED)))
        inject_hit(ip, key);
}

/*
 * A fault point rather than a hold: true once after inject_arm (the code
 * then corrupts what it was about to use, as a hostile peer would), false
 * otherwise; the same single branch when nobody armed it.
 */
bool inject_fire_hit(struct inject_point *ip);

static __always_inline bool inject_fire(struct inject_point *ip)
{
    return unlikely(__atomic_load_n(&ip->armed, __ATOMIC_RELAXED)) &&
           inject_fire_hit(ip);
}

void inject_arm(struct inject_point *ip, long key);
/* The same, for a case that arms a point its path may legitimately not
 * reach (it must say why where it calls this): the runner's check that
 * every armed point was reached skips it for the rest of the case. */
void inject_arm_optional(struct inject_point *ip, long key);
void inject_disarm(struct inject_point *ip);
/*
 * Torture's arm (tests/torture): the first vCPU to pass the point, with
 * any key, stalls there for delay_ns in whatever state its path has, then
 * goes on, so a window a regress case widens by hand is widened at
 * random.  False if the point was armed or held already (left alone).
 * Not a case's window: the runner's reached/bound checks ignore it.
 */
bool inject_arm_delay(struct inject_point *ip, uint64_t delay_ns);
/* Every point, for torture to draw from: the first and the count. */
struct inject_point *inject_points(unsigned int *n);
/* Wait (bounded) until a vCPU is held at ip; true if one is. */
bool inject_wait_held(struct inject_point *ip, uint64_t timeout_ns);
void inject_release(struct inject_point *ip);
/* Disarm every point and release every held vCPU (the self-test
 * runner's cleanup after a case); kernel/inject.c says more. */
unsigned int inject_reset_all(uint64_t timeout_ns, bool *stuck);
/*
 * The self-test runner's rule: a case that armed a point nobody reached,
 * or whose held vCPU was let go by the hold bound rather than by the
 * case, did not open the window it was written for, whatever its
 * CHECKs say.  inject_case_begin() zeroes the counts before a case;
 * inject_case_check() calls bad(point, why) for each such point after
 * it, and returns how many there were.
 */
void inject_case_begin(void);
unsigned int inject_case_check(void (*bad)(const struct inject_point *ip,
                                           const char *why));
/* Look a point up by name (command line, tests). */
struct inject_point *inject_find(const char *name);

#endif
