/* Local APIC, in x2APIC mode (MSR access, no MMIO mapping needed). */
#ifndef XENITH_APIC_H
#define XENITH_APIC_H

#include <xenith/types.h>

void apic_init(void);
void apic_eoi(void);
/* One-shot LAPIC timer interrupt on VEC_APIC_TIMER after ns. */
void apic_timer_oneshot(uint64_t ns);
void apic_timer_stop(void);
uint32_t apic_id(void);

#endif
