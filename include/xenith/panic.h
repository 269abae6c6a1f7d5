#ifndef XENITH_PANIC_H
#define XENITH_PANIC_H

#include <xenith/compiler.h>
#include <xenith/types.h>

struct cpu_regs;

void panic(const char *fmt, ...) __noreturn __printf(1, 2);
/* Exception path: registers and backtrace of the faulting context. */
void panic_regs(const struct cpu_regs *r, const char *fmt, ...)
    __noreturn __printf(2, 3);
/* Before the console exists: a message on port 0xe9, then the fail
 * verdict (exit=), or a halt when there is no way to leave. */
void early_fatal(const char *msg) __noreturn;
void backtrace_from(uint64_t rip, uint64_t rbp);

#define BUG_ON(c) do { if (unlikely(c)) \
    panic("BUG_ON(%s) at %s:%d", #c, __FILE__, __LINE__); } while (0)

#ifdef CONFIG_DEBUG
#define ASSERT(c) do { if (unlikely(!(c))) \
    panic("ASSERT(%s) failed at %s:%d", #c, __FILE__, __LINE__); } while (0)
#else
#define ASSERT(c) do { (void)sizeof(c); } while (0)
#endif

#endif
