/*
 * vCPUs.  For now xenith runs on vCPU0 only and counts the vCPUs the
 * domain has; bringing them up (VCPUOP_initialise/up) comes with the
 * SMP work.
 */
#include <xenith/smp.h>
#include <xenith/hypercall.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>

static unsigned int domain_vcpus = 1, online_vcpus = 1;

unsigned int smp_domain_vcpus(void) { return domain_vcpus; }
unsigned int smp_nr_vcpus(void) { return online_vcpus; }

void smp_init(void)
{
    unsigned int n = 0;

    /* VCPUOP_is_up answers 0 or 1 for a vCPU the domain has and -ENOENT
     * (or -EINVAL) past the last one. */
    while (n < MAX_VCPUS && hyp_vcpu_op(VCPUOP_is_up, n, NULL) >= 0)
        n++;
    domain_vcpus = n ? n : 1;
    pr_info("smp: the domain has %u vCPUs; xenith runs on vCPU0\n",
            domain_vcpus);
}
