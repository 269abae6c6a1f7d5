/*
 * Time from Xen's pvclock (vcpu_time_info in shared_info): monotonic
 * nanoseconds since the domain started, and busy-wait delays.
 */
#ifndef XENITH_TIME_H
#define XENITH_TIME_H

#include <xenith/types.h>

#define NSEC_PER_USEC 1000ul
#define NSEC_PER_MSEC 1000000ul
#define NSEC_PER_SEC  1000000000ul

void time_init(void);
uint64_t time_now_ns(void);
/* Convert a TSC delta to ns with the pvclock's scale. */
uint64_t tsc_delta_to_ns(uint64_t delta);
void ndelay(uint64_t ns);
void udelay(uint64_t us);
void mdelay(uint64_t ms);

#endif
