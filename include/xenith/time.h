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
uint64_t time_resume(uint64_t before_ns);        /* kernel/suspend.c */
uint64_t time_now_ns(void);
/* This vCPU's own pvclock, without time_now_ns()'s floor (the latest
 * reading of any vCPU, which another vCPU's clock running ahead can lift
 * by milliseconds in a nested domU): for intervals measured on one vCPU
 * against another clock, as time.rate does. */
uint64_t time_local_ns(void);
/* Convert a TSC delta to ns with the pvclock's scale. */
uint64_t tsc_delta_to_ns(uint64_t delta);
void ndelay(uint64_t ns);
void udelay(uint64_t us);
void mdelay(uint64_t ms);

#endif
