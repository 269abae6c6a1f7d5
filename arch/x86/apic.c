/*
 * Local APIC.  x2APIC (registers as MSRs) when the CPU offers it, else
 * xAPIC through its MMIO page, mapped uncached.  Xen emulates it for PVH
 * guests; xenith uses it for the per-vCPU event-channel upcall vector,
 * which needs the APIC software-enabled and an EOI per interrupt.  Timers
 * are Xen's (VIRQ_TIMER, kernel/timer.c).
 */
#include <xenith/apic.h>
#include <xenith/paging.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/traps.h>
#include <xenith/x86.h>

#define MSR_APIC_BASE   0x1b
#define APIC_BASE_EN    (1u << 11)
#define APIC_BASE_EXTD  (1u << 10)
#define XAPIC_MMIO      0xfee00000ul

/* Register offsets (xAPIC MMIO); the x2APIC MSR is 0x800 + off/16. */
#define APIC_ID         0x020
#define APIC_EOI        0x0b0
#define APIC_SVR        0x0f0
#define SVR_ENABLE      (1u << 8)

static bool x2apic;

static uint32_t apic_read(unsigned int off)
{
    if (x2apic)
        return rdmsr(0x800 + (off >> 4));
    return *(volatile uint32_t *)(XAPIC_MMIO + off);
}

static void apic_write(unsigned int off, uint32_t v)
{
    if (x2apic)
        wrmsr(0x800 + (off >> 4), v);
    else
        *(volatile uint32_t *)(XAPIC_MMIO + off) = v;
}

void apic_eoi(void)
{
    apic_write(APIC_EOI, 0);
}

uint32_t apic_id(void)
{
    return x2apic ? apic_read(APIC_ID) : apic_read(APIC_ID) >> 24;
}

/* Software-enable this vCPU's LAPIC: the per-vCPU upcall vector is
 * delivered through it. */
void apic_cpu_init(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE) | APIC_BASE_EN;

    if (x2apic)
        base |= APIC_BASE_EXTD;
    wrmsr(MSR_APIC_BASE, base);
    apic_write(APIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

void apic_init(void)
{
    uint32_t a, b, c, d;

    cpuid(1, &a, &b, &c, &d);
    x2apic = c & (1u << 21);
    if (!x2apic &&
        paging_map_page(XAPIC_MMIO, XAPIC_MMIO,
                        PTE_W | PTE_PCD | PTE_PWT | PTE_NX))
        panic("apic: cannot map the xAPIC page");
    apic_cpu_init();
    pr_info("apic: %s, id %u\n", x2apic ? "x2APIC" : "xAPIC", apic_id());
}
