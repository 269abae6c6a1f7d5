/*
 * vCPU states.  Every vCPU the domain has is in exactly one; only the
 * vCPU itself or the controller bringing it up or down changes it, with
 * release ordering, and the hot paths read it with one acquire load.
 *
 *   OFFLINE -> PREPARING -> BOOTING -> ONLINE -> DYING -> DEAD -> PREPARING
 *
 * PREPARING: the controller sets up what the vCPU needs before it runs
 *            (per-vCPU irqs: timer, IPIs), outside the allocation lock.
 * BOOTING:   VCPUOP_up issued; the vCPU loads its tables and reports,
 *            or, if cpu_up's bound passed first, finds DEAD and parks.
 * ONLINE:    takes events, runs work, counts for grace periods.
 * DYING:     its irqs are being moved away (kernel/cpu_hotplug.c).
 * DEAD:      VCPUOP_down done; its per-vCPU irqs are unbound next.
 */
#ifndef XENITH_CPU_H
#define XENITH_CPU_H

#include <xenith/types.h>

struct mutex;

enum cpu_state {
    CPU_OFFLINE,
    CPU_PREPARING,
    CPU_BOOTING,
    CPU_ONLINE,
    CPU_DYING,
    CPU_DEAD,
};

const char *cpu_state_name(enum cpu_state s);
enum cpu_state cpu_state(unsigned int cpu);
void cpu_set_state(unsigned int cpu, enum cpu_state s);
bool cpu_online(unsigned int cpu);
/* On a started vCPU: BOOTING -> ONLINE, unless the controller has given
 * up on it (then false, and the vCPU must park itself). */
bool cpu_arrive(unsigned int cpu);

/* kernel/cpu.c: bring vCPU cpu up (boot, and again after cpu_down). */
int cpu_up(unsigned int cpu);
/* kernel/cpu_hotplug.c: run-time offline / online of vCPU cpu > 0, from
 * thread context on another vCPU.  0 or -errno. */
int cpu_down(unsigned int cpu);
int cpu_online_again(unsigned int cpu);
/* percpu_area[cpu].die_request (atomic): the controller posts REQUESTED
 * and may withdraw it (back to NONE) until the vCPU takes it (TAKEN). */
enum { DIE_NONE, DIE_REQUESTED, DIE_TAKEN };
/* Pins for self-test cases: cpu_pin (false unless cpu is online) keeps
 * the toolstack's cpu_toolstack_set off cpu (-XEN_EBUSY) until
 * cpu_unpin_all; the case itself may still take it down and up. */
bool cpu_pin(unsigned int cpu);
void cpu_unpin_all(void);
int cpu_toolstack_set(unsigned int cpu, bool up);
/* The dying vCPU's part, from its idle loop. */
void cpu_die_self(void);
/* After a resume (kernel/suspend.c). */
int cpu_resume_vcpu_info(unsigned int cpu);
/* How long cpu_up waits for a started vCPU to come online, and cpu_down
 * for a vCPU to take its down request, before giving up (5 s each);
 * tests lower them to reach the give-up paths. */
extern uint64_t cpu_up_bound_ns, cpu_down_bound_ns;
extern struct mutex hotplug_lock;

/* Online vCPUs, for loops that must visit each: cpu is the variable. */
#define for_each_online_cpu(cpu)                                            \
    for ((cpu) = 0; (cpu) < smp_domain_vcpus(); (cpu)++)                    \
        if (!cpu_online(cpu)) {} else

#endif
