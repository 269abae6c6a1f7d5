/*
 * A hung self-test's report: where every vCPU that is not offline
 * stands, so that a hang seen once (a lost IPI, a vCPU parked with work
 * queued, a waiter nobody kicks) can be told apart afterwards from the
 * log alone.  Printed by the selftest watchdog after its timeout line, as
 * KTAP diagnostics.
 *
 * Last words: the hung test may still run on other vCPUs and may hold any
 * lock, so nothing here takes one; each value is one atomic load and may
 * be mid-change.  Queues are only said to be empty or not, never walked
 * (their entries live on other vCPUs' stacks).
 */
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/hang_report.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>

static const char *empty_or_not(void *head)
{
    return head ? "queued" : "empty";
}

static void report_cpu(unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];
    void *wait_lock = __atomic_load_n(&pc->wait_lock, __ATOMIC_ACQUIRE);

    ktap("    # vCPU%u: %s%s, irq nesting %u; calls %s, work %s%s\n", cpu,
         cpu_state_name(cpu_state(cpu)),
         __atomic_load_n(&pc->die_request, __ATOMIC_ACQUIRE)
             ? " (down requested)" : "",
         __atomic_load_n(&pc->irq_nesting, __ATOMIC_RELAXED),
         empty_or_not(__atomic_load_n(&pc->calls, __ATOMIC_ACQUIRE)),
         empty_or_not(__atomic_load_n(&pc->work, __ATOMIC_ACQUIRE)),
         __atomic_load_n(&pc->calls_closed, __ATOMIC_ACQUIRE)
             ? " (closed)" : "");
    if (wait_lock)
        ktap("    #   sleeps on lock %p for ticket %u\n", wait_lock,
             __atomic_load_n(&pc->wait_want, __ATOMIC_ACQUIRE));
    if (__atomic_load_n(&pc->pv_lost_kicks, __ATOMIC_RELAXED))
        ktap("    #   %lu lock kicks lost (its poll timed out on a lock "
             "already its own)\n", (unsigned long)__atomic_load_n(
                 &pc->pv_lost_kicks, __ATOMIC_RELAXED));
    evtchn_report_cpu(cpu);
}

void hang_report(void)
{
    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (cpu_state(c) != CPU_OFFLINE)
            report_cpu(c);
    evtchn_report_pending();
}
