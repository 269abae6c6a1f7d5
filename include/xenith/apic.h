/* Local APIC: x2APIC (MSRs) or xAPIC (MMIO), for the upcall vector. */
#ifndef XENITH_APIC_H
#define XENITH_APIC_H

#include <xenith/types.h>

void apic_init(void);
void apic_eoi(void);
void apic_cpu_init(void);       /* each vCPU, on itself */
uint32_t apic_id(void);

#endif
