/* Helpers shared by the benchmark suites (bench.c, bench_lock.c): the
 * "bench:" report lines tests/bench.sh reads, and small statistics. */
#ifndef XENITH_TESTS_BENCH_UTIL_H
#define XENITH_TESTS_BENCH_UTIL_H

#include <xenith/types.h>

uint64_t tsc_ns(uint64_t from, uint64_t to);
void sort_u64(uint64_t *v, unsigned int n);
/* Sorts v. */
uint64_t median_u64(uint64_t *v, unsigned int n);

void report_skip(const char *label, const char *why);
/* goal < 0: a figure with no goal. */
void report_hc(const char *label, uint64_t ops, uint64_t hc, int goal);

#endif
