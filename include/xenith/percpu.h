/*
 * Per-vCPU data.  %gs base points at this vCPU's struct percpu, whose
 * first word points at itself, so this_cpu() is one load.
 */
#ifndef XENITH_PERCPU_H
#define XENITH_PERCPU_H

#include <xenith/types.h>
#include <xenith/compiler.h>
#include <xenith/cpu.h>
#include <xenith/cpumask.h>
#include <xenith/spinlock.h>
#include <xen/xen.h>
#include <xen/vcpu.h>

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __packed;

/* A stack: [bottom, top), with an unmapped guard page below bottom. */
struct stack {
    uintptr_t bottom, top;
};

enum {
    STACK_KERNEL,
    STACK_IST_DF,               /* #DF: where a kernel stack overflow lands */
    STACK_IST_NMI,              /* NMI and #MC */
    NR_STACKS
};

/* Per-vCPU IPIs (event channels bound with EVTCHNOP_bind_ipi). */
enum ipi {
    IPI_CALL,                   /* run queued cross-vCPU calls; wake idle */
    IPI_TEST,                   /* bound and unbound by self-tests only */
    IPI_KICK,                   /* pv-spinlock kicker: polled, never delivered */
    NR_IPIS
};

#define NR_VIRQS_TRACKED 24     /* Xen's NR_VIRQS */

struct smp_call;
struct cpu_work;
typedef void (*smp_fn_t)(void *arg);
struct timer;

#define LOCKORDER_MAX_HELD 16
struct held_lock {
    const void *lock;
    const char *name;
    unsigned int rank;
};

struct percpu {
    struct percpu *self;        /* must stay first: this_cpu() reads it */
    unsigned int cpu_id;        /* Xen's vcpu_id */
    uint32_t apic_id;
    enum cpu_state state;       /* kernel/cpu.c; atomic */
    int die_request;            /* kernel/cpu_hotplug.c; atomic */
    uint64_t die_entries;       /* times its idle loop took the die path */
    uint64_t gdt[5];            /* null, kcode, kdata, tss (2 slots) */
    struct tss tss;
    struct stack stacks[NR_STACKS];
    uint32_t irq_nesting;       /* > 0 inside an interrupt handler */
    struct vcpu_info *vcpu_info;

    /* events/: odd while inside the upcall loop (a read-side section for
     * kernel/quiesce.c); the 2-level scan's resume point; per-vCPU irqs,
     * -1 = none.  The tables are written under the mapping lock. */
    uint64_t upcall_seq;
    unsigned int scan_word, scan_bit;
    /* FIFO (events/fifo.c): the port this vCPU's consumer, or a drain it
     * runs, has taken off a queue and not yet handled or handed back, 0 =
     * none (an evtchn_port_t; atomic; always 0 under 2-level).  Such a
     * port is pending, unmasked and on no queue, yet owed: tests that
     * look for stranded events ask (evtchn_port_in_hand) rather than
     * mistake it for one. */
    uint32_t port_in_hand;
    int virq_to_irq[NR_VIRQS_TRACKED];
    int ipi_to_irq[NR_IPIS];
    /* Its IPI_CALL port for senders on other vCPUs (an evtchn_port_t):
     * 0 until PREPARE bound it and again from DEAD on.  Read only inside
     * a read-side section (kernel/quiesce.c); DEAD clears it and waits a
     * grace period before it closes the port. */
    uint32_t call_port;
    uint64_t upcalls, events, spurious;
    /* Upcalls that came inside its own upcall loop (events/upcall.c),
     * and of those, how many interrupted code with interrupts off; the
     * first one's interrupted RIP. */
    uint64_t nested_upcalls, nested_if_off, nested_rip;
    /* regress.nested_upcall raises one itself: counted apart. */
    bool nesting_induced;
    uint64_t nested_induced;
    /* Its call IPIs handled, and the upcall (its number) of the last. */
    uint64_t call_ipis, call_ipi_upcall;
    /* make bench: with stamp_upcall set, the TSC as the upcall began on
     * this vCPU (the guest's own share of a dispatch; tests/ktests/bench.c). */
    bool stamp_upcall;
    uint64_t upcall_tsc;
    /* When it last halted waiting for an interrupt (sti; hlt), 0 while it
     * runs: written only by this vCPU (cpu_halt), read by the upcall
     * watch (events/upcall_watch.c) on other vCPUs. */
    uint64_t halted_since;

    /* lock/lockorder.c (CONFIG_LOCK_ORDER): ranked locks held, in order. */
    unsigned int nheld;
    struct held_lock held[LOCKORDER_MAX_HELD];

    /* lock/pvlock.c.  wait_lock/wait_want: the lock and ticket this vCPU
     * sleeps on (NULL = none; written only by this vCPU, read by
     * unlockers).  kicker_port: its IPI_KICK port, 0 until PREPARE bound
     * it and again from DEAD on.  kick_depth/kick_seq: inside an unlock's
     * kick loop (seq odd), for the DEAD step's grace period. */
    void *wait_lock;
    uint16_t wait_want;
    uint32_t kicker_port;        /* an evtchn_port_t */
    uint32_t kick_depth;
    uint64_t kick_seq;
    uint64_t pv_polls, pv_kicks_sent, pv_kick_errors;
    uint64_t pv_kicks_skipped;  /* kicks not sent: the kicker was pending */
    uint64_t pv_lost_kicks;     /* polls that timed out on a lock already
                                   ours: a kick that never came */
    /* Written by Xen at each of this vCPU's context switches (registered
     * in PREPARE; runstate_ok once that worked).  steal_seen: its time
     * runnable but not running, at the vCPU's last contended lock;
     * shared_left: contended locks still to spin short. */
    struct vcpu_runstate_info runstate __aligned(64);
    bool runstate_ok;
    uint64_t steal_seen;
    unsigned int shared_left;

    /* kernel/smp_call.c.  call_lock: leaf, irqs off; protects both lists. */
    spinlock_t call_lock;
    struct smp_call *calls;     /* run in the IPI handler */
    struct cpu_work *work;      /* run by the idle loop, irqs on */
    /* Set by the vCPU as it takes a down request with both lists empty,
     * cleared by it on its way up again: nothing queued is left behind
     * on a parked vCPU (smp_calls_close). */
    bool calls_closed;
    /* What runs here now (fn, arg; NULL = nothing), set as it leaves a
     * list and cleared as it returns, both under call_lock: smp_retire
     * sees a call or work either queued or running, never in between. */
    smp_fn_t call_running_fn, work_running_fn;
    void *call_running_arg, *work_running_arg;

    /* kernel/timer.c.  timer_lock: leaf, irqs off; protects timers. */
    spinlock_t timer_lock;
    struct timer *timers;       /* sorted by expiry */
    uint64_t timer_programmed;  /* deadline given to Xen, 0 = none */
    bool timer_quiet;           /* no housekeeping tick (timer_quiet_self) */
} __aligned(64);

extern struct percpu percpu_area[MAX_VCPUS];

static inline struct percpu *this_cpu(void)
{
    struct percpu *p;
    __asm__ __volatile__("mov %%gs:0, %0" : "=r"(p));
    return p;
}

static inline unsigned int smp_processor_id(void)
{
    return this_cpu()->cpu_id;
}

/* Load this vCPU's GDT/TSS and %gs base. */
void percpu_init(unsigned int cpu, const struct stack stacks[NR_STACKS]);
/* The range a stack walk may read on this vCPU (exception stacks too). */
bool stack_contains(uintptr_t lo, uintptr_t hi);
/* addr is in the guard page of one of this vCPU's stacks. */
bool stack_guard_hit(uintptr_t addr);

#endif
