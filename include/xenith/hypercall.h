/*
 * Typed hypercall wrappers over the hypercall page.  Every wrapper returns
 * Xen's result (0 or positive on success, -errno on failure) and is marked
 * warn_unused_result: a caller that ignores a failure does not compile.
 * Each call bumps hypercall_count[op], which benchmarks read to report
 * hypercalls per operation.
 */
#ifndef XENITH_HYPERCALL_H
#define XENITH_HYPERCALL_H

#include <xenith/types.h>
#include <xenith/compiler.h>
#include <xen/xen.h>
#include <xen/sched.h>
#include <xen/memory.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/version.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#define __must_check __attribute__((warn_unused_result))

#define HYPERCALL_MAX 64
extern char hypercall_page[4096];
extern uint64_t hypercall_count[HYPERCALL_MAX];

static __always_inline void hypercall_account(unsigned int op)
{
    __atomic_fetch_add(&hypercall_count[op], 1, __ATOMIC_RELAXED);
}

/* Xen's 64-bit ABI: rdi, rsi, rdx, r10, r8; result in rax.  Argument
 * registers count as clobbered (debug Xen poisons them), and so do rcx and
 * r11.  The counter is bumped first: gcc only keeps the register
 * variables in their registers for the asm itself, so no call may come
 * between their initialisation and the asm. */
static __always_inline long _hypercall3(unsigned int op, unsigned long a1,
                                        unsigned long a2, unsigned long a3)
{
    hypercall_account(op);

    long ret;
    register unsigned long _a1 __asm__("rdi") = a1;
    register unsigned long _a2 __asm__("rsi") = a2;
    register unsigned long _a3 __asm__("rdx") = a3;

    __asm__ __volatile__("call *%[entry]"
                         : "=a"(ret), "+r"(_a1), "+r"(_a2), "+r"(_a3)
                         : [entry] "r"(hypercall_page + op * 32)
                         : "rcx", "r11", "r8", "r10", "memory");
    return ret;
}

#define _hypercall2(op, a1, a2) _hypercall3(op, a1, a2, 0)

static inline __must_check long hyp_xen_version(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_xen_version, cmd, (unsigned long)arg);
}

static inline __must_check long hyp_console_io(int cmd, unsigned int n,
                                               const char *buf)
{
    return _hypercall3(__HYPERVISOR_console_io, cmd, n, (unsigned long)buf);
}

static inline __must_check long hyp_memory_op(unsigned int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_memory_op, cmd, (unsigned long)arg);
}

static inline __must_check long hyp_hvm_op(unsigned int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_hvm_op, cmd, (unsigned long)arg);
}

static inline __must_check long hyp_sched_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_sched_op, cmd, (unsigned long)arg);
}

static inline __must_check long hyp_event_channel_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_event_channel_op, cmd,
                       (unsigned long)arg);
}

static inline __must_check long hyp_vcpu_op(int cmd, unsigned int vcpu,
                                            void *arg)
{
    return _hypercall3(__HYPERVISOR_vcpu_op, cmd, vcpu, (unsigned long)arg);
}

/* Xen runs the entries in order and stores each one's result in it; the
 * call itself fails only if the list cannot be read (or, before Xen 4.16,
 * with -ENOSYS from an HVM guest). */
static inline __must_check long hyp_multicall(struct multicall_entry *calls,
                                              unsigned int nr)
{
    return _hypercall2(__HYPERVISOR_multicall, (unsigned long)calls, nr);
}

/* Small typed helpers for the calls the kernel makes by name. */
static inline __must_check long xen_shutdown(unsigned int reason)
{
    struct sched_shutdown s = { .reason = reason };
    return hyp_sched_op(SCHEDOP_shutdown, &s);
}

/* Sum of all counters: "how many hypercalls did this take". */
uint64_t hypercall_total(void);

#endif
