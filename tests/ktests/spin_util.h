/* Helpers shared by the pv-spinlock self-tests and benchmarks. */
#ifndef XENITH_TESTS_SPIN_UTIL_H
#define XENITH_TESTS_SPIN_UTIL_H

#include <xenith/percpu.h>
#include <xenith/spinlock.h>

/*
 * Every online vCPU takes c->lock in a loop: rounds times each, or (when
 * rounds is 0) until total acquisitions are done between them, or (when
 * run_ns is set) for that long: a timer on the calling vCPU then sets
 * stop, and each vCPU leaves after the acquisition it is waiting for.
 * Inside, a non-atomic counter and an overlap detector; hold_relax
 * pauses widen the critical section.  spin_lock(), interrupts on.
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
    unsigned long kicks_skipped;/* the kicker was still pending */
    unsigned long lost_kicks;   /* polls that timed out on a lock already
                                   the waiter's (lock/pvlock.c) */
    /* queue_first: the first holder keeps the lock until every other vCPU
     * has queued behind it and one of them sleeps in the slow path (or
     * queue_bound_ns passes), so that a run with two vCPUs or more is
     * sure to contend, whatever the host's scheduling: its checks then
     * judge at least one full queue and one poll/kick hand-off.
     * queued_first: tickets queued behind it when it let go. */
    bool queue_first;
    uint64_t queue_bound_ns;
    unsigned int queued_first;
    unsigned long polls0;       /* pv_polls summed, before the start */
    uint64_t ns;                /* wall time of the run */
    /* Timed mode (rounds and total 0): counter counts only acquisitions
     * made before stop; window_ns is from the start to the stop. */
    uint64_t run_ns;
    int stop;                   /* atomic */
    uint64_t t_stop, window_ns;
    /* With sample_every N, one acquisition in N per vCPU is timed, from
     * before it takes its ticket to holding the lock; under lock. */
    unsigned int sample_every;
    unsigned long waits_timed;
    uint64_t wait_worst_ns, wait_sum_ns;
    /* Timed mode: where the window went, summed over the vCPUs from
     * their runstate areas (RUNSTATE_running .. offline, ns); rs_ok
     * false if a vCPU has no area. */
    bool rs_ok;
    uint64_t rs_start[RUNSTATE_offline + 1], rs_window[RUNSTATE_offline + 1];
};

void contend_init(struct contend *c, unsigned int rounds,
                  unsigned long total_per_cpu);
/* Run on every online vCPU (this one too); false if any did not finish
 * within bound_ns (every vCPU is then kicked so none stays asleep). */
bool contend_run(struct contend *c, uint64_t bound_ns);

void spin_threshold_set(unsigned int n);
/* test_defer action: the threshold back to its boot value, however the
 * case ends (a lowered one would change the next cases' behaviour). */
void spin_threshold_restore(void *unused);
/* Wait until vCPU cpu sleeps (or is about to) on lock l. */
bool wait_until_waiting(unsigned int cpu, void *l, uint64_t timeout_ns);
/* Kicks that never came, all vCPUs: polls that timed out on a lock
 * already the waiter's.  Every lock test wants none. */
uint64_t spin_lost_kicks(void);
/* Kicks that failed to send, all vCPUs (a send to a closed port). */
uint64_t spin_kick_errors(void);
/* Kicks the unlocks on vCPU cpu decided to give: sent, or skipped because
 * the kicker was still pending (a kick not yet consumed: as good). */
uint64_t spin_kicks_given(unsigned int cpu);
/* Recovery after a test caught a lost wake-up: kick vCPU cpu. */
void spin_kick(unsigned int cpu);

/*
 * Stop (quiet) or restart vCPU cpu's 100 ms housekeeping tick, from any
 * vCPU (nothing if it is offline: it ticks again when it comes up).  Any
 * event ends a poll, so a waiter whose tick runs survives a lost kick
 * with a 100 ms stall: a case whose property is "no lost wake-up" quiets
 * the waiter, and restores it with test_defer(tick_restore, (void *)cpu)
 * however it ends.
 */
void tick_quiet(unsigned int cpu, bool quiet);
void tick_restore(void *cpu);

#endif
