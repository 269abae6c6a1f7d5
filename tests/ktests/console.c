/*
 * The PV console ring (drivers/xencons.c), as a domU.  As dom0 there is
 * no ring (the Xen console is CONSOLEIO_write): the cases skip.
 */
#include <xenith/selftest.h>
#include <xenith/console.h>
#include <xenith/printk.h>
#include <xenith/xen.h>
#include <xenith/xencons.h>

/* Enough output to go round the 2 KiB ring several times: flow control
 * must hold the writer back instead of overwriting unread bytes. */
SELFTEST(console, ring_wraps)
{
    uint64_t dropped = xencons_dropped();

    if (xen.is_dom0)
        SKIP("dom0 has no PV console ring");
    if (!xencons_active())
        SKIP("no PV console ring attached");
    for (int i = 0; i < 64; i++)
        ktap("    # ring_wraps line %02d: 0123456789abcdefghijklmnopqrstuvwxyz"
             "ABCDEFGHIJKLMNOPQRSTUVWXYZ\n", i);
    CHECK(console_flush());
    CHECK(xencons_dropped() == dropped);
    return TEST_RESULT();
}

/* What the shutdown path relies on: after a burst, flush returns once the
 * backend has read every byte (the verdict line is never cut off). */
SELFTEST(console, no_loss_at_shutdown)
{
    if (xen.is_dom0)
        SKIP("dom0 has no PV console ring");
    if (!xencons_active())
        SKIP("no PV console ring attached");
    for (int i = 0; i < 16; i++)
        ktap("    # flush burst %02d\n", i);
    CHECK(console_flush());
    CHECK(xencons_dropped() == 0);
    return TEST_RESULT();
}
