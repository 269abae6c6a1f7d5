/*
 * Forced in first (-include) in every file of the fuzz build: the kernel
 * around the kernel files a target runs, made thin.  Headers whose inline
 * code needs a real kernel (cli/sti in spinlock.h, calls into the
 * hypercall page in hypercall.h, the event core behind events.h) are
 * replaced by declaring their include guard here and declaring what the
 * fuzzed files use of them; shim.c defines it, mostly as calls to the
 * target's fake backend (struct fuzz_hooks).
 */
#ifndef FUZZ_SHIM_H
#define FUZZ_SHIM_H

#include <xenith/types.h>
#include <xenith/compiler.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/memory.h>
#include <xen/event_channel.h>
#include <xen/hvm/params.h>
#include <xen/io/xs_wire.h>

/* include/xenith/ring.h: every read of an index a peer writes asks the
 * target, which may answer differently each time (a second fetch). */
uint32_t fuzz_peer_read(const volatile uint32_t *p);
#define ring_peer_read(p) fuzz_peer_read(p)

/* include/xenith/mm.h: "physical" memory is a window of the host's. */
void *fuzz_phys_to_virt(paddr_t pa);
paddr_t fuzz_virt_to_phys(const void *va);
#define phys_to_virt fuzz_phys_to_virt
#define virt_to_phys fuzz_virt_to_phys

/* spinlock.h: one thread, no interrupts. */
#define XENITH_SPINLOCK_H
typedef struct { int unused; } spinlock_t;
#define SPINLOCK_INIT_RANKED(r, n) { 0 }
#define SPINLOCK_INIT { 0 }
static inline unsigned long spin_lock_irqsave(spinlock_t *l) { return 0; }
static inline void spin_unlock_irqrestore(spinlock_t *l, unsigned long f) { }
static inline void spin_lock(spinlock_t *l) { }
static inline void spin_unlock(spinlock_t *l) { }

/* hypercall.h: the hypercalls the fuzzed files make, answered by the
 * target. */
#define XENITH_HYPERCALL_H
#define __must_check __attribute__((warn_unused_result))
long hyp_sched_op(int cmd, void *arg);
long hyp_memory_op(unsigned int cmd, void *arg);

/* events.h */
#define XENITH_EVENTS_H
long evtchn_send(evtchn_port_t port);
void evtchn_reserve_port(evtchn_port_t port, const char *owner);
bool evtchn_port_clear_pending(evtchn_port_t port);

/* What a target plays: any hook left NULL gets a plain default. */
struct fuzz_hooks {
    uint32_t (*peer_read)(const volatile uint32_t *p);
    uint64_t (*now_ns)(void);
    long (*sched_op)(int cmd, void *arg);
    long (*memory_op)(unsigned int cmd, void *arg);
    long (*evtchn_send)(evtchn_port_t port);
    int (*ring_attach)(unsigned int pfn_param, unsigned int port_param,
                       void **page, uint32_t *port);
};
extern struct fuzz_hooks fuzz_hooks;

/* panic() ends the kernel's call by longjmp to the target's fuzz_catch
 * (set with setjmp), its message in fuzz_panic_msg; with none set, it
 * aborts. */
extern void *fuzz_catch;
extern char fuzz_panic_msg[256];

/* For a target's own checking code: not instrumented for coverage, so
 * libFuzzer's comparison tracing does not cost the executions it takes
 * there (over half of them, measured) and its coverage is the kernel's.
 * Never inlined: the instrumentation runs after inlining, so an oracle
 * inlined into an instrumented caller would be traced after all. */
#define FUZZ_ORACLE __attribute__((no_sanitize("coverage"), noinline))

/* What a xenstore receiver consumed of rsp[] since it last handed on a
 * message, as the ring held it at the time (the receiver copies before it
 * moves rsp_cons, and the target runs no backend meanwhile): a message
 * handed on must be exactly these bytes. */
/* n bytes of a xenstore ring's rsp[] from index from, across the wrap. */
void fuzz_ring_read(void *dst, const char *rsp, XENSTORE_RING_IDX from,
                    size_t n);

struct fuzz_stream {
    size_t n;
    char b[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
};
void fuzz_stream_take(struct fuzz_stream *s, const char *rsp,
                      XENSTORE_RING_IDX from, XENSTORE_RING_IDX to);

/* A property that does not hold: say which, and abort (libFuzzer then
 * saves the input as a crash). */
#define FUZZ_CHECK(c, ...) do { if (!(c)) \
    fuzz_fail(__FILE__, __LINE__, #c, __VA_ARGS__); } while (0)
void fuzz_fail(const char *file, int line, const char *cond,
               const char *fmt, ...) __noreturn __printf(4, 5);

#endif
