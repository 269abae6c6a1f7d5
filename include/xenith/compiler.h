#ifndef XENITH_COMPILER_H
#define XENITH_COMPILER_H

#define __used          __attribute__((used))
#define __unused        __attribute__((unused))
#define __noreturn      __attribute__((noreturn))
#define __packed        __attribute__((packed))
#define __aligned(x)    __attribute__((aligned(x)))
#define __section(s)    __attribute__((section(s)))
#define __weak          __attribute__((weak))
#define __printf(a, b)  __attribute__((format(printf, a, b)))
#define __noinline      __attribute__((noinline))
#ifndef __always_inline        /* glibc defines it too (host tests) */
#define __always_inline inline __attribute__((always_inline))
#endif

#define likely(x)       __builtin_expect(!!(x), 1)
#define unlikely(x)     __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a)   (sizeof(a) / sizeof((a)[0]))
#define BUILD_BUG_ON(c) _Static_assert(!(c), #c)
#define ALIGN_UP(x, a)  (((x) + ((a) - 1)) & ~((typeof(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((typeof(x))(a) - 1))
#define MIN(a, b)       ((a) < (b) ? (a) : (b))
#define MAX(a, b)       ((a) > (b) ? (a) : (b))
#define container_of(p, type, member) \
    ((type *)((char *)(p) - __builtin_offsetof(type, member)))

/* Compiler and CPU ordering.  x86 is TSO: only store->load needs mfence. */
#define barrier()       __asm__ __volatile__("" ::: "memory")
#define smp_mb()        __asm__ __volatile__("mfence" ::: "memory")
#define smp_rmb()       barrier()
#define smp_wmb()       barrier()
#define cpu_relax()     __asm__ __volatile__("pause" ::: "memory")

#define READ_ONCE(x)     (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

#endif
