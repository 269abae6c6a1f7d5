/*
 * Requests from the toolstack through xenstore (kernel/control.c):
 * control/shutdown and cpu/N/availability.  Without a xenstore (a PVH
 * dom0 started by Xen alone) nothing is ever asked.
 */
#ifndef XENITH_CONTROL_H
#define XENITH_CONTROL_H

#include <xenith/types.h>

void control_init(void);
void control_resume(void);      /* after a resume (kernel/suspend.c) */
/* SHUTDOWN_* the toolstack asked for, or -1. */
int control_shutdown_requested(void);
/* control.shutdown_watch only: after asking itself, take it back. */
void control_shutdown_forget(void);
/* Does the toolstack want vCPU cpu online (true when it does not say)? */
bool control_vcpu_wanted(unsigned int cpu);
/* vCPUs taken down or brought up at the toolstack's request so far. */
unsigned int control_vcpu_changes(void);
/* Apply cpu/N/availability again (a request a self-test's pin put off). */
void control_vcpus_recheck(void);

#endif
