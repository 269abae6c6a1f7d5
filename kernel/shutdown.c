/*
 * How a run's verdict leaves the machine (exit=): a byte to QEMU's
 * isa-debug-exit port (0 pass, 1 fail, 2 panic; QEMU exits with 1, 3, 5),
 * or SCHEDOP_shutdown (poweroff = pass, crash = fail or panic; reboot),
 * or a halt that keeps the domain for inspection.
 */
#include <xenith/selftest.h>
#include <xenith/cmdline.h>
#include <xenith/console.h>
#include <xenith/hypercall.h>
#include <xenith/xen.h>
#include <xenith/x86.h>
#include <xenith/control.h>

#define QEMU_EXIT_PORT 0xf4

static void __noreturn stop(void)
{
    for (;;) {
        irq_disable();
        halt();
    }
}

void verdict_exit(enum verdict v)
{
    static int exiting;
    unsigned int reason;
    long rc;

    irq_disable();
    /* Leaving twice means the first attempt faulted (a broken hypercall
     * page, say): take the one way out that needs nothing, then stop. */
    if (__atomic_fetch_add(&exiting, 1, __ATOMIC_SEQ_CST)) {
        outb(QEMU_EXIT_PORT, VERDICT_PANIC);
        stop();
    }
    switch (boot_options.exit) {
    case EXIT_QEMU:
        outb(QEMU_EXIT_PORT, v);
        early_puts("xenith: still running after the QEMU exit port write"
                   " (no isa-debug-exit device?); halting\n");
        stop();
    case EXIT_HALT:
        stop();
    case EXIT_REBOOT:
        reason = SHUTDOWN_reboot;
        break;
    case EXIT_POWEROFF:
    default:
        reason = v == VERDICT_PASS ? SHUTDOWN_poweroff : SHUTDOWN_crash;
        break;
    }
    /* The toolstack asked (xl shutdown / reboot): its reason, unless the
     * run failed, which must still show as a crash. */
    if (control_shutdown_requested() >= 0 && v == VERDICT_PASS)
        reason = (unsigned int)control_shutdown_requested();
    if (!xen.hypercall_msr)
        stop();                 /* not under Xen: nobody to ask */
    /* The verdict must reach the backend before the domain goes. */
    if (!console_flush())
        early_puts("xenith: the console backend did not drain in time\n");
    rc = xen_shutdown(reason);
    early_puts(rc ? "xenith: SCHEDOP_shutdown failed; halting\n"
                  : "xenith: SCHEDOP_shutdown returned; halting\n");
    stop();
}
