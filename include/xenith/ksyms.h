#ifndef XENITH_KSYMS_H
#define XENITH_KSYMS_H

#include <xenith/types.h>

/* Name of the function containing addr and the offset into it, or NULL
 * when addr is outside the kernel's text. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);

#endif
