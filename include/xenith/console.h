/*
 * Console sinks.  As dom0 the Xen console (console_io); port 0xe9 (Xen
 * shows it as "(d0) ...", QEMU's debugcon without Xen) mirrors it when
 * console= asks, and is the only sink before Xen is known.
 */
#ifndef XENITH_CONSOLE_H
#define XENITH_CONSOLE_H

#include <xenith/types.h>

#define CONSOLE_XEN  0x1u
#define CONSOLE_E9   0x2u

void console_init(unsigned int sinks);
void console_write(const char *s, size_t n);
/* A domU: attach the PV console ring (after paging_init). */
void console_attach_ring(void);
void console_resume(void);
/* Wait (bounded) until every console ring's backend has read all that was
 * written; false if one did not.  Serialised with writes (console_lock). */
bool console_flush(void);
struct xencons;
/* Self-tests: every write also goes to ring c (a stand-in whose backend
 * the test plays), and console_flush flushes it too; NULL detaches. */
void console_standin(struct xencons *c);
/* Lock-free writes to port 0xe9 only: usable before anything is set up and
 * from the panic path, where the console lock may be held by the victim. */
void early_puts(const char *s);
/* From now on every write bypasses the lock: for the last words of a run
 * (the watchdog ending a hung test, panic), which must come out even if a
 * stuck vCPU holds the lock forever. */
void console_emergency(void);

#endif
