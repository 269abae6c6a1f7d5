/*
 * Time from the pvclock: Xen keeps, per vCPU, a (tsc_timestamp,
 * system_time, mul, shift) tuple in vcpu_info.time; now = system_time +
 * scale(rdtsc - tsc_timestamp).  The tuple is read under its version
 * counter (odd = being updated).  Readings on different vCPUs are made
 * monotonic by never returning less than the largest value returned so
 * far, unless Xen promises a stable TSC.
 */
#include <xenith/time.h>
#include <xenith/xen.h>
#include <xenith/percpu.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/x86.h>

static uint64_t last_ns;                /* atomic: the monotonic floor */
static bool tsc_stable;

static inline struct vcpu_time_info *my_time(void)
{
    return &this_cpu()->vcpu_info->time;
}

static uint64_t scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

static void snapshot(struct vcpu_time_info *out, uint64_t *tsc)
{
    volatile struct vcpu_time_info *t = my_time();
    uint32_t v;

    do {
        v = t->version;
        smp_rmb();
        out->tsc_timestamp = t->tsc_timestamp;
        out->system_time = t->system_time;
        out->tsc_to_system_mul = t->tsc_to_system_mul;
        out->tsc_shift = t->tsc_shift;
        out->flags = t->flags;
        *tsc = rdtsc_ordered();
        smp_rmb();
    } while ((v & 1) || v != t->version);
}

uint64_t time_local_ns(void)
{
    struct vcpu_time_info t;
    uint64_t tsc;

    snapshot(&t, &tsc);
    return t.system_time + scale(tsc - t.tsc_timestamp, t.tsc_to_system_mul,
                                 t.tsc_shift);
}

uint64_t time_now_ns(void)
{
    uint64_t now = time_local_ns(), last;

    if (tsc_stable)
        return now;
    last = __atomic_load_n(&last_ns, __ATOMIC_RELAXED);
    do {
        if (now <= last)
            return last;
    } while (!__atomic_compare_exchange_n(&last_ns, &last, now, false,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return now;
}

uint64_t tsc_delta_to_ns(uint64_t delta)
{
    struct vcpu_time_info t;
    uint64_t tsc;

    snapshot(&t, &tsc);
    return scale(delta, t.tsc_to_system_mul, t.tsc_shift);
}

/*
 * A delay is never short: it counts this vCPU's own TSC, scaled by its
 * own pvclock.  time_now_ns() would not do: its floor can jump to a later
 * reading taken on another vCPU, whose pvclock runs ahead of ours (in
 * the xl rig's domU, udelay(10000) once took under 9.8 ms by the TSC).
 */
void ndelay(uint64_t ns)
{
    uint64_t t0 = rdtsc_ordered();

    while (tsc_delta_to_ns(rdtsc_ordered() - t0) < ns)
        cpu_relax();
}

void udelay(uint64_t us) { ndelay(us * NSEC_PER_USEC); }
void mdelay(uint64_t ms) { ndelay(ms * NSEC_PER_MSEC); }

/*
 * In the new domain after a resume: Xen's system time is the new host's
 * uptime, and the TSC may be another's.  On the same host (xl save and
 * restore, a local migration) it has only moved on; on another it may be
 * behind what we read before.  Time must never go backwards, so then the
 * monotonic floor holds it at the last reading until Xen's catches up.
 * Returns how far it was behind (0: not at all).
 */
uint64_t time_resume(uint64_t before_ns)
{
    struct vcpu_time_info t;
    uint64_t tsc, now;

    snapshot(&t, &tsc);
    /* Another host may not promise a stable TSC: then the floor is
     * needed from now on. */
    if (!(t.flags & XEN_PVCLOCK_TSC_STABLE_BIT))
        tsc_stable = false;
    now = time_local_ns();
    if (now >= before_ns)
        return 0;
    __atomic_store_n(&last_ns, before_ns, __ATOMIC_RELAXED);
    tsc_stable = false;
    return before_ns - now;
}

void time_init(void)
{
    struct vcpu_time_info t;
    uint64_t tsc;

    snapshot(&t, &tsc);
    if (!t.tsc_to_system_mul)
        panic("pvclock: Xen has not filled vcpu_time_info");
    tsc_stable = t.flags & XEN_PVCLOCK_TSC_STABLE_BIT;
    pr_info("time: pvclock mul %u shift %d%s, now %lu ms\n",
            t.tsc_to_system_mul, t.tsc_shift,
            tsc_stable ? ", stable TSC" : "", time_now_ns() / NSEC_PER_MSEC);
}
