/*
 * The boot story, in order.  head.S has checked the start-info magic,
 * zeroed .bss, and entered long mode on the boot stack.
 */
#include <xenith/boot.h>
#include <xenith/apic.h>
#include <xenith/cmdline.h>
#include <xenith/hypercall.h>
#include <xenith/console.h>
#include <xenith/mm.h>
#include <xenith/paging.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/selftest.h>
#include <xenith/smp.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/traps.h>
#include <xenith/x86.h>
#include <xenith/xen.h>

static void report_cmdline(void)
{
    const struct boot_options *o = &boot_options;

    pr_info("cmdline: '%s'\n", boot_info.cmdline);
    for (unsigned int i = 0; i < o->nr_diags; i++)
        printk(o->diags[i].is_error ? LOG_ERR : LOG_WARN, "cmdline: %s: %s\n",
               o->diags[i].is_error ? "error" : "warning", o->diags[i].msg);
    if (o->nr_errors + o->nr_warnings > o->nr_diags)
        pr_err("cmdline: %u more problems not shown\n",
               o->nr_errors + o->nr_warnings - o->nr_diags);
}

static void banner(void)
{
    pr_notice("xenith: PVH %s on Xen %u.%u, start info v%u\n",
              xen.is_dom0 ? "dom0" : "domU", xen.version >> 16,
              xen.version & 0xffff, boot_info.start_info_version);
}

void kernel_main(paddr_t start_info_pa)
{
    percpu_init(0, (uintptr_t)boot_stack_bottom, (uintptr_t)boot_stack_top,
                (uintptr_t)boot_ist_bottom, (uintptr_t)boot_ist_top);
    traps_init();
    boot_info_init(start_info_pa);
    cmdline_parse(boot_info.cmdline, BOOT_CMDLINE_MAX, &boot_options);
    if (boot_info.cmdline_truncated)
        cmdline_error(&boot_options, "command line longer than 1023 bytes");
    else if (strlen(boot_info.cmdline) == BOOT_CMDLINE_MAX - 1)
        cmdline_warning(&boot_options, "command line is exactly 1023 bytes:"
                        " Xen passes no more, so it may have been cut");
    if (!xen_detect())
        early_fatal("not running under Xen (no Xen CPUID leaves); stopping");

    xen_init();
    console_init(boot_options.console);
    console_loglevel = boot_options.loglevel;
    banner();
    report_cmdline();
    mm_init();
    paging_init();
    time_init();
    apic_init();
    smp_init();

    ready_tsc = rdtsc();
    ready_hypercalls = hypercall_total();
    irq_enable();
    verdict_exit(selftest_run_all());
}
