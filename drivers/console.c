/*
 * Console output.  Sinks: the Xen console of this domain (dom0:
 * CONSOLEIO_write; a domU: its PV console ring, drivers/xencons.c) and I/O
 * port 0xe9 (Xen's debug port; before Xen is detected it is the only
 * sink).
 *
 * console_lock: serialises whole writes so lines from different vCPUs do
 * not interleave, and everything done to a console ring (drivers/xencons.c:
 * our index, its stalled/broken state, clearing its port's pending bit
 * before a poll): writes and flushes alike.  A leaf lock: nothing is taken
 * under it.  Taken with interrupts off, since printk runs in interrupt
 * context too.
 */
#include <xenith/lockorder.h>
#include <xenith/console.h>
#include <xenith/hypercall.h>
#include <xenith/spinlock.h>
#include <xenith/x86.h>
#include <xenith/printk.h>
#include <xenith/xen.h>
#include <xenith/xencons.h>

static spinlock_t console_lock =
    SPINLOCK_INIT_RANKED(RANK_CONSOLE, "console_lock");
static unsigned int console_sinks = CONSOLE_E9;
static bool xen_console_failed;
static bool emergency;          /* last words: the lock may never come free */
static struct xencons *standin; /* console_lock: a self-test's extra ring */

void early_puts(const char *s)
{
    while (*s)
        outb(0xe9, *s++);
}

static void e9_write(const char *s, size_t n)
{
    __asm__ __volatile__("rep outsb" : "+S"(s), "+c"(n) : "d"(0xe9) : "memory");
}

static void xen_write(const char *s, size_t n)
{
    long rc = hyp_console_io(CONSOLEIO_write, n, s);

    /* A domain without console privileges gets -EPERM: keep the output
     * by falling back to port 0xe9 rather than losing it. */
    if (rc < 0 && !xen_console_failed) {
        xen_console_failed = true;
        console_sinks |= CONSOLE_E9;
        early_puts("xenith: CONSOLEIO_write failed, using port 0xe9\n");
    }
}

static void console_write_unlocked(const char *s, size_t n)
{
    if ((console_sinks & CONSOLE_XEN) && !xen.is_dom0)
        xencons_write(s, n);            /* the ring, or its early buffer */
    else if ((console_sinks & CONSOLE_XEN) && !xen_console_failed)
        xen_write(s, n);
    /* Read again: a failed Xen write has just added port 0xe9, and the
     * message that failed must not be lost. */
    if (console_sinks & CONSOLE_E9)
        e9_write(s, n);
    if (standin)
        xencons_ring_write(standin, s, n);
}

void console_write(const char *s, size_t n)
{
    unsigned long f;

    if (READ_ONCE(emergency)) {
        console_write_unlocked(s, n);
        return;
    }
    f = spin_lock_irqsave(&console_lock);
    console_write_unlocked(s, n);
    spin_unlock_irqrestore(&console_lock, f);
}

static bool console_flush_unlocked(void)
{
    bool ok = xencons_flush();

    if (standin)
        ok &= xencons_ring_flush(standin);
    return ok;
}

/*
 * Under console_lock, like a write: a flush publishes our index and polls
 * the ring's port, and done beside a write on another vCPU it stored an
 * index read before that write over the one the write had published
 * (out_prod went back under the backend), and cleared the port's pending
 * bit under the writer's poll (regress.console_flush_vs_write).  The
 * wait is bounded (DRAIN_BOUND_NS), as a write's is.  Last words skip the
 * lock, as writes then do.
 */
bool console_flush(void)
{
    unsigned long f;
    bool ok;

    if (READ_ONCE(emergency))
        return console_flush_unlocked();
    f = spin_lock_irqsave(&console_lock);
    ok = console_flush_unlocked();
    spin_unlock_irqrestore(&console_lock, f);
    return ok;
}

void console_standin(struct xencons *c)
{
    unsigned long f = spin_lock_irqsave(&console_lock);

    standin = c;
    spin_unlock_irqrestore(&console_lock, f);
}

void console_emergency(void)
{
    WRITE_ONCE(emergency, true);
}

void console_init(unsigned int sinks)
{
    console_sinks = sinks ? sinks : CONSOLE_XEN;
}

/* After a resume, before anything is printed: the ring's new port. */
void console_resume(void)
{
    unsigned long f = spin_lock_irqsave(&console_lock);
    int rc = xencons_resume();

    if (rc)
        console_sinks |= CONSOLE_E9;
    spin_unlock_irqrestore(&console_lock, f);
    if (rc)
        pr_warn("console: PV console ring lost in the resume (%d); using "
                "port 0xe9\n", rc);
}

/* A domU, once paging can map the ring: attach it, or fall back to port
 * 0xe9 with what was said so far. */
void console_attach_ring(void)
{
    unsigned long f = spin_lock_irqsave(&console_lock);
    int rc = xencons_init();
    const char *early;
    size_t n;

    if (rc && (console_sinks & CONSOLE_XEN)) {
        n = xencons_early(&early);
        if (!(console_sinks & CONSOLE_E9))
            e9_write(early, n);
        console_sinks |= CONSOLE_E9;
    }
    spin_unlock_irqrestore(&console_lock, f);
    if (rc)
        pr_warn("console: no PV console ring (%d); using port 0xe9\n", rc);
}
