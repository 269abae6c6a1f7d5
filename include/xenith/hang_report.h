/*
 * kernel/hang_report.c: every vCPU's state and the pending ports, as
 * KTAP diagnostics, for a test the watchdog found hung.  Takes no lock.
 */
#ifndef XENITH_HANG_REPORT_H
#define XENITH_HANG_REPORT_H

void hang_report(void);

#endif
