/* Helpers shared by the self-tests that take vCPUs up and down. */
#ifndef XENITH_TESTS_SMP_UTIL_H
#define XENITH_TESTS_SMP_UTIL_H

#include <xenith/types.h>

/* cpu runs a call over an IPI and says who it is: it is really there. */
bool vcpu_answers(unsigned int cpu);

/* cpu_work body: a->rc = cpu_down(a->cpu). */
struct cpu_down_arg {
    unsigned int cpu;
    int rc;
};
void cpu_down_work(void *arg);

#endif
