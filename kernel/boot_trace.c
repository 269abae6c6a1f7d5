/*
 * Where boot time goes, from PVH entry to ready: kernel_main marks the
 * end of each step with the TSC and the hypercalls made so far (all
 * vCPUs'), and the report, after ready, gives each step's microseconds
 * and hypercalls (make bench collects them).
 *
 * Only at loglevel=8: under QEMU TCG, Xen emulates rdtsc for the domain,
 * so every mark is a VM exit (tens of microseconds there); a boot that
 * marks its steps is slower than one that does not.  Before the command
 * line says the level, head.S reads the TSC twice whatever it is (two
 * reads a boot): once .bss is zeroed ("bss") and once paging is on
 * ("long-mode": the CR4, EFER and CR0 writes that Xen intercepts, under
 * TCG by far the dearest instructions of the boot, the first of a kind
 * running Xen's emulation code for the first time).  "entry" is the C
 * code after: the per-vCPU area, the IDT, the start-info copy, the
 * command line.
 */
#include <xenith/boot.h>
#include <xenith/compiler.h>
#include <xenith/hypercall.h>
#include <xenith/printk.h>
#include <xenith/time.h>
#include <xenith/x86.h>

#define MAX_STEPS 16

static struct step {
    const char *name;
    uint64_t tsc, hypercalls;
} steps[MAX_STEPS];
static unsigned int nr_steps;           /* vCPU0, before ready: no lock */
static bool tracing;

void boot_trace_start(int loglevel)
{
    static const char *const early[] = { "bss", "long-mode" };

    tracing = loglevel >= LOGLEVEL_MAX;
    /* head.S's two marks, taken before any hypercall, are the first. */
    for (unsigned int i = 0; tracing && i < ARRAY_SIZE(early); i++)
        steps[nr_steps++] = (struct step){ early[i], boot_tsc_steps[i], 0 };
}

void boot_step(const char *name)
{
    if (tracing && nr_steps < MAX_STEPS)
        steps[nr_steps++] = (struct step){ name, rdtsc(), hypercall_total() };
}

void boot_trace_report(void)
{
    uint64_t tsc = boot_tsc, hc = 0;

    for (unsigned int i = 0; i < nr_steps; i++) {
        pr_debug("boot: step %-11s %7lu us %4lu hypercalls\n", steps[i].name,
                 tsc_delta_to_ns(steps[i].tsc - tsc) / NSEC_PER_USEC,
                 steps[i].hypercalls - hc);
        tsc = steps[i].tsc;
        hc = steps[i].hypercalls;
    }
}
