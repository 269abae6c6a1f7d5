/* Helpers shared by the benchmark suites (see bench_util.h). */
#include "bench_util.h"
#include <xenith/selftest.h>
#include <xenith/string.h>
#include <xenith/time.h>

uint64_t tsc_ns(uint64_t from, uint64_t to)
{
    return to > from ? tsc_delta_to_ns(to - from) : 0;
}

void sort_u64(uint64_t *v, unsigned int n)
{
    for (unsigned int gap = n / 2; gap; gap /= 2)
        for (unsigned int i = gap; i < n; i++) {
            uint64_t x = v[i];
            unsigned int j = i;

            for (; j >= gap && v[j - gap] > x; j -= gap)
                v[j] = v[j - gap];
            v[j] = x;
        }
}

uint64_t median_u64(uint64_t *v, unsigned int n)
{
    sort_u64(v, n);
    return v[n / 2];
}

void report_skip(const char *label, const char *why)
{
    test_diag("bench: skip | %s | %s", label, why);
}

void report_hc(const char *label, uint64_t ops, uint64_t hc, int goal)
{
    char g[12] = "-";

    if (goal >= 0)
        snprintf(g, sizeof(g), "%d", goal);
    test_diag("bench: hc | %s | %lu | %lu | %s", label, (unsigned long)ops,
              (unsigned long)hc, g);
}
