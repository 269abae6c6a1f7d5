#ifndef XENITH_SMP_H
#define XENITH_SMP_H

/* vCPUs the domain has (VCPUOP_is_up answers for them). */
unsigned int smp_domain_vcpus(void);
/* vCPUs online and running xenith: what tests may use. */
unsigned int smp_nr_vcpus(void);
void smp_init(void);

#endif
