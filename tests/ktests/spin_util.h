/* Helpers shared by the pv-spinlock self-tests and benchmarks. */
#ifndef XENITH_TESTS_SPIN_UTIL_H
#define XENITH_TESTS_SPIN_UTIL_H

#include <xenith/percpu.h>
#include <xenith/spinlock.h>

/*
 * Every online vCPU takes c->lock in a loop: rounds times each, or (when
 * rounds is 0) until total acquisitions are done between them.  Inside,
 * a non-atomic counter and an overlap detector; hold_relax pauses widen
 * the critical section.
 */
struct contend {
    spinlock_t lock;
    unsigned int rounds;
    unsigned long total;
    unsigned int threshold;     /* pvlock_spin_threshold for the run */
    unsigned int hold_relax;
    int ready;                  /* atomic: vCPUs at the start line */
    int go;                     /* atomic: start together */
    int inside;                 /* atomic */
    int overlap;                /* atomic: two vCPUs were inside at once */
    unsigned long counter;      /* under lock */
    unsigned int per_cpu[MAX_VCPUS];
    /* FIFO check, under lock: who held it last and whether tickets were
     * queued behind it then; if so, it must not be next again. */
    unsigned int last_cpu;
    bool last_queued;
    unsigned long contended, fifo_violations;
    unsigned int nr_cpus, cpus[MAX_VCPUS];
    unsigned long polls, kicks; /* pv slow path, summed over vCPUs */
    uint64_t ns;                /* wall time of the run */
};

void contend_init(struct contend *c, unsigned int rounds,
                  unsigned long total_per_cpu);
/* Run on every online vCPU (this one too); false if any did not finish
 * within bound_ns (every vCPU is then kicked so none stays asleep). */
bool contend_run(struct contend *c, uint64_t bound_ns);

void spin_threshold_set(unsigned int n);
/* Wait until vCPU cpu sleeps (or is about to) on lock l. */
bool wait_until_waiting(unsigned int cpu, void *l, uint64_t timeout_ns);
/* Recovery after a test caught a lost wake-up: kick vCPU cpu. */
void spin_kick(unsigned int cpu);

#endif
