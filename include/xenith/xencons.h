/*
 * The PV console ring of a domU (drivers/xencons.c).  console_write uses
 * it as the "xen" sink whenever the kernel is not dom0.
 */
#ifndef XENITH_XENCONS_H
#define XENITH_XENCONS_H

#include <xenith/types.h>

/* Map the ring (after paging_init).  0, or -errno: no ring (dom0). */
int xencons_init(void);
/* Under console_lock: copy out, waiting (bounded) for the backend. */
void xencons_write(const char *s, size_t n);
/* Wait (bounded) until the backend has read everything; false if not. */
bool xencons_flush(void);
bool xencons_active(void);
uint64_t xencons_dropped(void);
/* What was written before the ring existed (for a fallback sink). */
size_t xencons_early(const char **buf);

#endif
