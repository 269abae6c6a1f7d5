/*
 * The boot story, in order.  head.S has checked the start-info magic,
 * zeroed .bss, and entered long mode on the boot stack.
 */
#include <xenith/boot.h>
#include <xenith/apic.h>
#include <xenith/cmdline.h>
#include <xenith/hypercall.h>
#include <xenith/console.h>
#include <xenith/control.h>
#include <xenith/events.h>
#include <xenith/mm.h>
#include <xenith/paging.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/pvlock.h>
#include <xenith/selftest.h>
#include <xenith/smp.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/traps.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xenith/xenstore.h>

/* Problems with the command line print whatever loglevel= says: the
 * line that asked for silence may be the one that is wrong. */
static void report_cmdline(void)
{
    const struct boot_options *o = &boot_options;

    pr_info("cmdline (%lu bytes): '%s'\n", strlen(boot_info.cmdline),
            boot_info.cmdline);
    for (unsigned int i = 0; i < o->nr_diags; i++)
        ktap("cmdline: %s: %s\n", o->diags[i].is_error ? "error" : "warning",
             o->diags[i].msg);
    if (o->nr_errors + o->nr_warnings > o->nr_diags)
        ktap("cmdline: %u more problems not shown\n",
             o->nr_errors + o->nr_warnings - o->nr_diags);
}

static void banner(void)
{
    pr_notice("xenith: PVH %s on Xen %u.%u, start info v%u\n",
              xen.is_dom0 ? "dom0" : "domU", xen.version >> 16,
              xen.version & 0xffff, boot_info.start_info_version);
}

/* head.S lays out vCPU0's stacks as guard, stack, guard, stack, ... */
static void boot_stack_table(struct stack s[NR_STACKS])
{
    static const size_t size[NR_STACKS] = {
        BOOT_STACK_SIZE, BOOT_IST_SIZE, BOOT_IST_SIZE,
    };
    uintptr_t at = (uintptr_t)boot_stacks;

    for (unsigned int i = 0; i < NR_STACKS; i++) {
        s[i].bottom = at + PAGE_SIZE;
        s[i].top = s[i].bottom + size[i];
        at = s[i].top;
    }
}

/* vCPU0's own PREPARE and ONLINE steps: its timer and IPIs. */
static void boot_cpu_online(void)
{
    int rc = events_prepare_cpu(0);

    if (rc)
        panic("events: cannot bind vCPU0's timer and IPIs: %d", rc);
    timer_cpu_start();
    cpu_set_state(0, CPU_ONLINE);
    irq_enable();
}

/* A domU's xenstore, before the other vCPUs come up: the toolstack says
 * which of them it wants online (maxvcpus above vcpus). */
static void attach_xenstore(void)
{
    int rc = xenstore_init();

    if (rc)
        pr_warn("xenstore: none attached (%d)\n", rc);
}

/* offline=LIST: through the run-time hotplug path, as a test would. */
static void offline_requested(void)
{
    for (unsigned int cpu = 1; cpu < MAX_VCPUS; cpu++) {
        int rc;

        if (!cpumask_test(&boot_options.offline, cpu))
            continue;
        rc = cpu_down(cpu);
        if (rc)
            pr_err("hotplug: offline=%u: %d%s\n", cpu, rc,
                   cpu >= smp_domain_vcpus() ? " (no such vCPU)" : "");
        else
            pr_info("hotplug: vCPU%u offline (offline=)\n", cpu);
    }
}

void kernel_main(paddr_t start_info_pa)
{
    struct stack stacks[NR_STACKS];

    boot_stack_table(stacks);
    percpu_init(0, stacks);
#ifdef CONFIG_LOCK_ORDER
    lockorder_live = true;              /* every vCPU has its area now */
#endif
    traps_init();
    boot_info_init(start_info_pa);
    cmdline_parse(boot_info.cmdline, BOOT_CMDLINE_MAX, &boot_options);
    boot_trace_start(boot_options.loglevel);
    if (boot_info.cmdline_truncated)
        cmdline_error(&boot_options, "command line longer than 1023 bytes");
    if (!xen_detect())
        early_fatal("not running under Xen (no Xen CPUID leaves); stopping");
    boot_step("entry");

    xen_init();
    console_init(boot_options.console);
    console_loglevel = boot_options.loglevel;
    banner();
    report_cmdline();
    boot_step("xen+console");
    mm_init();
    paging_init();
    mm_init_high();
    boot_step("memory");
    if (!xen.is_dom0)
        console_attach_ring();
    time_init();
    boot_step("time");
    pvlock_set_default(boot_options.pvspin);
    boot_step("pvlock");
    apic_init();
    boot_step("apic");
    events_init();
    boot_cpu_online();
    boot_step("events");
    if (!xen.is_dom0)
        attach_xenstore();
    boot_step("xenstore");
    smp_init();
    boot_step("smp");
    control_init();
    offline_requested();
    boot_step("control");

    ready_tsc = rdtsc();
    ready_hypercalls = hypercall_total();
    boot_trace_report();
    verdict_exit(selftest_run_all());
}
