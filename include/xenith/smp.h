/*
 * vCPUs: bring-up (arch/x86/smp.c, kernel/cpu.c) and cross-vCPU calls
 * (kernel/smp_call.c).
 */
#ifndef XENITH_SMP_H
#define XENITH_SMP_H

#include <xenith/types.h>
#include <xenith/compiler.h>

/* vCPUs the domain has (VCPUOP_is_up answers for them). */
unsigned int smp_domain_vcpus(void);
/* vCPUs online and running xenith: what tests may use. */
unsigned int smp_nr_vcpus(void);
/* Count the domain's vCPUs and bring every one of them online. */
void smp_init(void);
void smp_resume_forget(void);         /* after a resume */
/* Bring vCPU cpu (> 0) online: PREPARE then BRINGUP.  0 or -errno. */
int cpu_up(unsigned int cpu);

/* arch/x86/smp.c */
bool smp_stack_guard(paddr_t pa);
long arch_vcpu_start(unsigned int cpu);
void arch_vcpu_park(void) __noreturn;
/* kernel/idle.c: what an online vCPU does when it has nothing to do. */
void cpu_idle_loop(void) __noreturn;
void idle_run_work(void);
/* IPI every other online vCPU so its idle loop runs (deferred work).
 * Returns the number of sends Xen refused (tests want 0). */
unsigned int smp_kick_idle(void);

/*
 * Cross-vCPU calls.  smp_call_on() runs fn in the target's IPI handler
 * (interrupts off, like an irq handler: no sleeping locks); with wait it
 * returns once fn has returned.  smp_call_each() does that on every online
 * vCPU, this one included, and waits.  A cpu_work runs in the target's
 * idle loop with interrupts on (thread context: may bind, unbind, wait),
 * and its owner waits for it with a bound.
 */
typedef void (*smp_fn_t)(void *arg);

int smp_call_on(unsigned int cpu, smp_fn_t fn, void *arg, bool wait);
void smp_call_each(smp_fn_t fn, void *arg);
/* The IPI_CALL handler's body (events/ calls it). */
void smp_call_interrupt(void);

struct cpu_work {
    smp_fn_t fn;
    void *arg;
    struct cpu_work *next;
    int done;                   /* atomic: set after fn returned */
};

/* 0, or -EINVAL if cpu is not online (or went down meanwhile). */
int smp_work_queue(unsigned int cpu, struct cpu_work *w, smp_fn_t fn,
                   void *arg);
/*
 * Hotplug, on the vCPU itself.  smp_calls_close: if no call or work is
 * queued here and take() agrees (it takes the down request), stop
 * accepting both, in one step under the call lock: true.  Otherwise
 * false, and the idle loop runs what is queued before it tries again.
 * smp_calls_open: on the way up, before the vCPU is online.
 */
bool smp_calls_close(bool (*take)(void));
void smp_calls_open(void);
/* Take back what is queued to cpu as fn(arg), wait for it if running
 * (the self-test runner's cleanup; kernel/smp_call.c says more).  How
 * many were taken back, or -XEN_ETIMEDOUT if one still runs. */
int smp_retire(unsigned int cpu, smp_fn_t fn, void *arg, uint64_t timeout_ns);
/* true once w ran; false if it has not within timeout_ns. */
bool smp_work_wait(struct cpu_work *w, uint64_t timeout_ns);
static inline bool smp_work_done(struct cpu_work *w)
{
    return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

#endif
