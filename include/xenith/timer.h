/*
 * Per-vCPU timers on Xen's VIRQ_TIMER (VCPUOP_set_singleshot_timer).
 * Each online vCPU also ticks every TIMER_TICK_NS (once more per 8 vCPUs
 * online) while it is up: the tick runs the self-test watchdog, so a
 * test stuck with interrupts off on one vCPU is still caught by the
 * others.
 */
#ifndef XENITH_TIMER_H
#define XENITH_TIMER_H

#include <xenith/types.h>
#include <xenith/time.h>

#define TIMER_TICK_NS (100 * NSEC_PER_MSEC)

struct timer {
    uint64_t expires;           /* pvclock ns */
    void (*fn)(struct timer *t);
    void *data;
    struct timer *next;
    unsigned int cpu;
    bool armed;
};

/* On each vCPU once its VIRQ_TIMER is bound: start ticking. */
void timer_cpu_start(void);
void timer_interrupt(int irq, void *data);
/* Arm t on this vCPU to run fn (interrupts off) after delay_ns. */
void timer_arm(struct timer *t, uint64_t delay_ns);
/* Disarm t if it has not run; true if it was still armed. */
bool timer_cancel(struct timer *t);
/* Wait with interrupts on, halted in between; thread context only. */
void sleep_ns(uint64_t ns);
static inline void msleep(unsigned int ms) { sleep_ns(ms * NSEC_PER_MSEC); }
/* VIRQ_TIMER interrupts taken on this vCPU (tests). */
uint64_t timer_ticks(unsigned int cpu);
/* Stop (true) or restart this vCPU's housekeeping tick. */
void timer_quiet_self(bool quiet);

#endif
