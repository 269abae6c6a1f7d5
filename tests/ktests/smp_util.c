/* Helpers shared by the self-tests that take vCPUs up and down. */
#include "smp_util.h"
#include <xenith/cpu.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>

static void whoami(void *arg)
{
    *(unsigned int *)arg = smp_processor_id();
}

bool vcpu_answers(unsigned int cpu)
{
    unsigned int who = ~0u;

    return smp_call_on(cpu, whoami, &who, true) == 0 && who == cpu;
}

void cpu_down_work(void *arg)
{
    struct cpu_down_arg *a = arg;

    a->rc = cpu_down(a->cpu);
}
