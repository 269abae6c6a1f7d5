/* The thin kernel of the fuzz build (shim.h says what and why). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenith/console.h>
#include <xenith/inject.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/time.h>
#include <xenith/xen.h>

struct fuzz_hooks fuzz_hooks;
void *fuzz_catch;
char fuzz_panic_msg[256];
int console_loglevel = LOGLEVEL_DEFAULT;

void fuzz_fail(const char *file, int line, const char *cond,
               const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "\nPROPERTY FAILED at %s:%d: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

FUZZ_ORACLE void fuzz_ring_read(void *dst, const char *rsp,
                                XENSTORE_RING_IDX from, size_t n)
{
    while (n) {
        size_t at = MASK_XENSTORE_IDX(from);
        size_t k = MIN(n, (size_t)XENSTORE_RING_SIZE - at);

        memcpy(dst, rsp + at, k);
        dst = (char *)dst + k;
        from += (XENSTORE_RING_IDX)k;
        n -= k;
    }
}

FUZZ_ORACLE void fuzz_stream_take(struct fuzz_stream *s, const char *rsp,
                                  XENSTORE_RING_IDX from, XENSTORE_RING_IDX to)
{
    FUZZ_CHECK(to - from <= sizeof(s->b) - s->n,
               "%u bytes consumed after %zu: more than a message", to - from,
               s->n);
    fuzz_ring_read(s->b + s->n, rsp, from, to - from);
    s->n += to - from;
}

/* Printing costs executions and says nothing the properties do not. */
void printk(int level, const char *fmt, ...) { }
void vprintk(int level, const char *fmt, va_list ap) { }
void ktap(const char *fmt, ...) { }
void early_puts(const char *s) { }

void panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(fuzz_panic_msg, sizeof(fuzz_panic_msg), fmt, ap);
    va_end(ap);
    if (!fuzz_catch) {
        fprintf(stderr, "kernel panic: %s\n", fuzz_panic_msg);
        abort();
    }
    longjmp(*(jmp_buf *)fuzz_catch, 1);
}

/* No self-test arms an injection point here. */
void inject_hit(struct inject_point *ip, long key) { }
bool inject_fire_hit(struct inject_point *ip) { return false; }

uint32_t fuzz_peer_read(const volatile uint32_t *p)
{
    return fuzz_hooks.peer_read ? fuzz_hooks.peer_read(p) : *p;
}

uint64_t time_now_ns(void)
{
    static uint64_t t;

    return fuzz_hooks.now_ns ? fuzz_hooks.now_ns() : (t += 1000);
}

long hyp_sched_op(int cmd, void *arg)
{
    return fuzz_hooks.sched_op ? fuzz_hooks.sched_op(cmd, arg) : 0;
}

long hyp_memory_op(unsigned int cmd, void *arg)
{
    return fuzz_hooks.memory_op ? fuzz_hooks.memory_op(cmd, arg) : -1;
}

long evtchn_send(evtchn_port_t port)
{
    return fuzz_hooks.evtchn_send ? fuzz_hooks.evtchn_send(port) : 0;
}

void evtchn_reserve_port(evtchn_port_t port, const char *owner) { }
bool evtchn_port_clear_pending(evtchn_port_t port) { return false; }

int xen_ring_attach(unsigned int pfn_param, unsigned int port_param,
                    void **page, uint32_t *port)
{
    return fuzz_hooks.ring_attach ?
        fuzz_hooks.ring_attach(pfn_param, port_param, page, port) : -1;
}

/* The memmap target maps its window and sets these; others use none. */
char *fuzz_window;
uint64_t fuzz_window_size;

void *fuzz_phys_to_virt(paddr_t pa)
{
    FUZZ_CHECK(fuzz_window && pa <= fuzz_window_size,
               "kernel touched physical %#lx, outside the window of %#lx",
               (unsigned long)pa, (unsigned long)fuzz_window_size);
    return fuzz_window + pa;
}

paddr_t fuzz_virt_to_phys(const void *va)
{
    const char *c = va;

    FUZZ_CHECK(fuzz_window && c >= fuzz_window &&
               c <= fuzz_window + fuzz_window_size,
               "virt_to_phys(%p) outside the window", va);
    return (paddr_t)(c - fuzz_window);
}

/* The kernel's string.h functions come from the host's libc (ASan sees
 * into those), but glibc before 2.38 has no strlcpy: this one keeps the
 * kernel's contract (include/xenith/string.h). */
size_t strlcpy(char *d, const char *s, size_t size)
{
    size_t n = strlen(s);

    if (size) {
        size_t k = n < size - 1 ? n : size - 1;
        memcpy(d, s, k);
        d[k] = '\0';
    }
    return n;
}
