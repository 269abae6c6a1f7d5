/* Freestanding base types.  gcc's own stdint/stddef/stdbool/stdarg are
 * used (they need no libc); the Xen public headers rely on them too. */
#ifndef XENITH_TYPES_H
#define XENITH_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t;
typedef uint64_t vaddr_t;
typedef int64_t ssize_t;

#endif
