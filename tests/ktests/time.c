/* Suite `time`: the pvclock is monotonic and runs at a plausible rate. */
#include <xenith/selftest.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xenith/xen.h>

SELFTEST(time, monotonic)
{
    uint64_t prev = time_now_ns(), first = prev;

    /* Under TCG each read costs tens of microseconds (rdtsc is emulated),
     * so 20000 reads is already a second of hammering. */
    for (int i = 0; i < 20000; i++) {
        uint64_t now = time_now_ns();
        if (now < prev) {
            test_diag("time went back %lu ns at read %d", prev - now, i);
            return TEST_FAIL;
        }
        prev = now;
    }
    CHECK(prev > first);                /* and it moved */
    return TEST_RESULT();
}

/* Cross-check the pvclock against the TSC and the TSC frequency Xen
 * reports in its CPUID leaf 4: two independent sources must agree. */
SELFTEST(time, rate)
{
    uint32_t flags, mode, khz, inc;
    uint64_t t0, c0, t1, c1, pv_ns, tsc_ns;

    cpuid_count(xen.cpuid_base + 3, 0, &flags, &mode, &khz, &inc);
    if (!khz)
        SKIP("Xen reports no TSC frequency");
    t0 = time_now_ns();
    c0 = rdtsc_ordered();
    mdelay(50);
    t1 = time_now_ns();
    c1 = rdtsc_ordered();
    pv_ns = t1 - t0;
    tsc_ns = (c1 - c0) * 1000000ull / khz;
    test_diag("50 ms delay: pvclock %lu us, TSC at %u kHz %lu us",
              pv_ns / 1000, khz, tsc_ns / 1000);
    CHECK(pv_ns >= 50 * NSEC_PER_MSEC);
    /* Agreement within 2%: the two use the same TSC but different
     * calibrations, so a wrong mul/shift shows up as a large ratio. */
    CHECK(pv_ns * 100 >= tsc_ns * 98 && pv_ns * 100 <= tsc_ns * 102);
    return TEST_RESULT();
}

SELFTEST(time, delay)
{
    uint64_t t0 = time_now_ns();

    udelay(10000);
    CHECK(time_now_ns() - t0 >= 10 * NSEC_PER_MSEC);
    t0 = time_now_ns();
    ndelay(0);
    CHECK(time_now_ns() - t0 < NSEC_PER_SEC);
    return TEST_RESULT();
}
