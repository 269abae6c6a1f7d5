/*
 * Local APIC.  x2APIC (registers as MSRs) when the CPU offers it, else
 * xAPIC through its MMIO page, mapped uncached.  Xen emulates it for PVH
 * guests; xenith uses it for its timer (the self-test watchdog) and, with
 * event channels, for the per-vCPU upcall vector, which needs the APIC
 * software-enabled and an EOI per interrupt.
 */
#include <xenith/apic.h>
#include <xenith/paging.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/selftest.h>
#include <xenith/time.h>
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
#define APIC_LVT_TIMER  0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_CUR  0x390
#define APIC_TIMER_DIV  0x3e0
#define LVT_MASKED      (1u << 16)
#define SVR_ENABLE      (1u << 8)

static bool x2apic;
static uint64_t timer_ticks_per_ms;

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

void apic_timer_oneshot(uint64_t ns)
{
    uint64_t ticks = ns * timer_ticks_per_ms / NSEC_PER_MSEC;

    if (ticks == 0)
        ticks = 1;
    if (ticks > 0xffffffffu)
        ticks = 0xffffffffu;
    apic_write(APIC_LVT_TIMER, VEC_APIC_TIMER);         /* one-shot */
    apic_write(APIC_TIMER_INIT, ticks);
}

void apic_timer_stop(void)
{
    apic_write(APIC_TIMER_INIT, 0);
}

static void apic_timer_interrupt(struct cpu_regs *r)
{
    apic_eoi();
    selftest_watchdog_tick();
}

/* Count APIC timer ticks over a pvclock-measured interval: Xen's emulated
 * APIC bus runs at a fixed rate, but measuring beats assuming. */
static void calibrate(void)
{
    const uint64_t interval_ns = 5 * NSEC_PER_MSEC;
    uint64_t t0, t1;
    uint32_t left;

    apic_write(APIC_TIMER_DIV, 0xb);                    /* divide by 1 */
    apic_write(APIC_LVT_TIMER, LVT_MASKED | VEC_APIC_TIMER);
    t0 = time_now_ns();
    apic_write(APIC_TIMER_INIT, 0xffffffffu);
    ndelay(interval_ns);
    left = apic_read(APIC_TIMER_CUR);
    t1 = time_now_ns();
    apic_write(APIC_TIMER_INIT, 0);
    timer_ticks_per_ms = (uint64_t)(0xffffffffu - left) * NSEC_PER_MSEC /
                         (t1 - t0);
    if (!timer_ticks_per_ms)
        panic("apic: timer did not count during calibration");
}

static void apic_enable_this_cpu(void)
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
    apic_enable_this_cpu();
    set_vector_handler(VEC_APIC_TIMER, apic_timer_interrupt);
    calibrate();
    pr_info("apic: %s, id %u, timer %lu ticks/ms\n",
            x2apic ? "x2APIC" : "xAPIC", apic_id(), timer_ticks_per_ms);
}
