/*
 * The FIFO event-channel ABI.  Every port has a 32-bit event word
 * (PENDING, MASKED, LINKED, BUSY and a 17-bit LINK to the next port) in
 * an event array the guest hands Xen a page at a time (1024 ports a
 * page, up to 131072 ports); every vCPU has a control block with one
 * queue per priority (0 highest, 15 lowest).  Xen links a pending,
 * unmasked port at the tail of the queue of the vCPU it is bound to, for
 * the port's priority; it writes the queue's head only when the queue was
 * empty, and sets the queue's READY bit then.  The guest consumes a queue
 * from its head, clearing LINKED as it takes each port.  The guest may
 * only set or clear MASKED, clear PENDING and clear LINKED (with LINK) in
 * a word; Xen marks a tail it is linking onto BUSY, and an unmask that
 * finds BUSY (or PENDING) leaves the word to Xen (EVTCHNOP_unmask).
 *
 * Why a port LINKED somewhere matters (mutant F): Xen links a port only
 * if it is not LINKED already.  A port left LINKED on the queue of a vCPU
 * that no longer consumes (offline) is never linked again: its events,
 * and those of the next binding its number is given to, are lost.  So a
 * dying vCPU's queues are drained (cpu_dead), and a close of a port still
 * LINKED drains the queues nobody consumes and waits for the others.
 *
 * Locks.  qlock[cpu] (spinlock, irqs off, RANK_FIFO_QUEUE: under
 * desc->lock, above info->lock): cpu's consumer state (local heads,
 * ready bits left over) and the unlinking of its queues, so a drain from
 * another vCPU never walks a queue at the same time as its consumer.  The
 * consumer holds it only to unlink one port, never while it dispatches.
 * array_lock (spinlock, RANK_FIFO_ARRAY, under the mapping lock and
 * desc->lock): growing the event array.  Readers take no lock: a page is
 * published (release) after Xen has it, and the port count after that.
 */
#include "internal.h"
#include <xenith/cpu.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/lockorder.h>
#include <xenith/mm.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/quiesce.h>
#include <xenith/smp.h>
#include <xenith/string.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xen/errno.h>

#define WORDS_PER_PAGE  (PAGE_SIZE / sizeof(event_word_t))
#define MAX_PAGES       (EVTCHN_FIFO_NR_CHANNELS / WORDS_PER_PAGE)
#define NR_QUEUES       EVTCHN_FIFO_MAX_QUEUES
#define PENDING         (1u << EVTCHN_FIFO_PENDING)
#define MASKED          (1u << EVTCHN_FIFO_MASKED)
#define LINKED          (1u << EVTCHN_FIFO_LINKED)
#define BUSY            (1u << EVTCHN_FIFO_BUSY)
#define LINK_MASK       ((event_word_t)EVTCHN_FIFO_LINK_MASK)
/* The timer goes ahead of every other event: a storm on other ports
 * cannot starve it (evtchn.fair_scan).  The rest stay at Xen's default. */
#define PRIORITY_TIMER  (EVTCHN_FIFO_PRIORITY_DEFAULT - 1)
/* How long a close waits for an online vCPU to take a LINKED port off
 * its queue (its next upcall pass does it first thing). */
#define CLOSE_WAIT_NS   (1 * NSEC_PER_SEC)

/* One control block per vCPU, 128 bytes apart so none crosses a page
 * (Xen refuses that); registered once, since Xen cannot take one back:
 * a vCPU that comes online again keeps its block. */
struct control_slot {
    struct evtchn_fifo_control_block cb;
} __aligned(128);
static struct control_slot control[MAX_VCPUS] __aligned(PAGE_SIZE);
static bool registered[MAX_VCPUS];

struct consumer {
    spinlock_t qlock;
    uint32_t ready_left;        /* queues a pass left unfinished */
    evtchn_port_t head[NR_QUEUES];  /* next port, 0 = ask Xen's head */
} __aligned(64);
static struct consumer consumers[MAX_VCPUS];

static event_word_t *pages[MAX_PAGES];
static unsigned int nr_pages;           /* under array_lock */
static unsigned int nr_ports;           /* atomic: ports with a word */
static spinlock_t array_lock =
    SPINLOCK_INIT_RANKED(RANK_FIFO_ARRAY, "fifo array_lock");

/* The vCPU each port is bound to (Xen's notify vCPU), for the consumer:
 * a port found on another vCPU's queue after a move goes to its owner. */
static uint8_t owner[EVTCHN_FIFO_NR_CHANNELS];

DEFINE_INJECT(fifo_before_owner_check, "fifo.before_owner_check");

/* Closes that found a port still LINKED after the wait (want 0). */
unsigned int evtchn_fifo_close_linked;

static event_word_t *word_of(evtchn_port_t port)
{
    if (port >= __atomic_load_n(&nr_ports, __ATOMIC_ACQUIRE))
        return NULL;
    return &__atomic_load_n(&pages[port / WORDS_PER_PAGE],
                            __ATOMIC_ACQUIRE)[port % WORDS_PER_PAGE];
}

static event_word_t load_word(evtchn_port_t port)
{
    event_word_t *w = word_of(port);

    /* No word yet: Xen treats the port as masked, and so do we. */
    return w ? __atomic_load_n(w, __ATOMIC_SEQ_CST) : MASKED;
}

static long init_control(unsigned int cpu)
{
    struct evtchn_init_control c = {
        .control_gfn = (uint64_t)(uintptr_t)&control[cpu] >> PAGE_SHIFT,
        .offset = (uint32_t)((uintptr_t)&control[cpu] & (PAGE_SIZE - 1)),
        .vcpu = cpu,
    };
    long rc = hyp_event_channel_op(EVTCHNOP_init_control, &c);

    if (rc)
        return rc;
    if (c.link_bits != EVTCHN_FIFO_LINK_BITS)
        panic("events: FIFO link bits %u, this kernel knows %u",
              c.link_bits, EVTCHN_FIFO_LINK_BITS);
    registered[cpu] = true;
    return 0;
}

static long fifo_init(void)
{
    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        consumers[c].qlock = (spinlock_t)SPINLOCK_INIT_RANKED(
            RANK_FIFO_QUEUE, "fifo qlock");
    /* The first control block switches the domain to FIFO; Xen keeps the
     * pending state of ports that exist already (start info's console
     * and xenstore ports) until their array page comes. */
    return init_control(0);
}

/*
 * A new domain starts under the 2-level ABI and knows none of our blocks
 * or pages.  Every online vCPU's block goes back, empty (vCPU0's first:
 * it switches the domain to FIFO), then the pages in their order, every
 * word MASKED (no port exists yet), so the port count stays what it was;
 * an offline vCPU's block goes back when it comes up (fifo_prepare_cpu).
 */
static long fifo_resume(void)
{
    long rc;

    memset(owner, 0, sizeof(owner));
    for (unsigned int c = 0; c < MAX_VCPUS; c++) {
        registered[c] = false;
        consumers[c].ready_left = 0;
        memset(consumers[c].head, 0, sizeof(consumers[c].head));
        memset(&control[c], 0, sizeof(control[c]));
    }
    for (unsigned int c = 0; c < MAX_VCPUS; c++) {
        if (c && !cpu_online(c))
            continue;
        rc = init_control(c);
        if (rc)
            return rc;
    }
    for (unsigned int i = 0; i < nr_pages; i++) {
        struct evtchn_expand_array e = {
            .array_gfn = (uint64_t)(uintptr_t)pages[i] >> PAGE_SHIFT,
        };

        for (unsigned int w = 0; w < WORDS_PER_PAGE; w++)
            pages[i][w] = MASKED;
        rc = hyp_event_channel_op(EVTCHNOP_expand_array, &e);
        if (rc)
            return rc;
    }
    return 0;
}

static bool fifo_owned_by(evtchn_port_t port, unsigned int cpu);

/*
 * A vCPU coming back: a port still bound to it (a per-vCPU IPI or VIRQ
 * someone bound, which its DEAD step does not unbind) may have an event
 * its drain left pending and off every queue, and Xen links a port only
 * when it becomes pending, so nothing would ever deliver it.  Handed
 * back now, Xen links it on the returning vCPU's queue.  (Torture found
 * it: the oracle saw such a port stranded, seed 1 at 4 vCPUs.)
 */
static void relink_owned(unsigned int cpu)
{
    unsigned int n = __atomic_load_n(&nr_ports, __ATOMIC_ACQUIRE);
    struct read_section rs = quiesce_read_begin();

    for (evtchn_port_t port = 1; port < n; port++) {
        event_word_t w = load_word(port);

        if (fifo_owned_by(port, cpu) && (w & PENDING) && !(w & MASKED) &&
            !(w & LINKED) && evtchn_to_irq(port) >= 0)
            evtchn_redeliver(port);
    }
    quiesce_read_end(rs);
}

static int fifo_prepare_cpu(unsigned int cpu)
{
    long rc;

    if (registered[cpu]) {
#ifndef BUG_P_NO_RELINK_ON_RETURN
        relink_owned(cpu);
#else
        (void)relink_owned;             /* mutant P: the event stays parked */
#endif
        return 0;
    }
    rc = init_control(cpu);
    if (rc)
        pr_err("events: EVTCHNOP_init_control(vCPU%u): %ld\n", cpu, rc);
    return (int)rc;
}

/* One more page of event words: every word MASKED before Xen sees it, so
 * no port is live before its bind unmasks it.  array_lock held. */
static int add_page(void)
{
    event_word_t *p = page_alloc(0);
    struct evtchn_expand_array e;
    long rc;

    if (!p)
        return -XEN_ENOMEM;
    for (unsigned int i = 0; i < WORDS_PER_PAGE; i++)
        p[i] = MASKED;
    e.array_gfn = (uint64_t)(uintptr_t)p >> PAGE_SHIFT;
    rc = hyp_event_channel_op(EVTCHNOP_expand_array, &e);
    if (rc) {
        pr_err("events: EVTCHNOP_expand_array(page %u): %ld\n", nr_pages,
               rc);
        page_free(p, 0);
        return (int)rc;
    }
    __atomic_store_n(&pages[nr_pages], p, __ATOMIC_RELEASE);
    nr_pages++;
    __atomic_store_n(&nr_ports, nr_pages * WORDS_PER_PAGE, __ATOMIC_RELEASE);
    return 0;
}

static int set_priority(evtchn_port_t port, unsigned int priority)
{
    struct evtchn_set_priority s = { .port = port, .priority = priority };
    long rc = hyp_event_channel_op(EVTCHNOP_set_priority, &s);

    if (rc)
        pr_err("events: EVTCHNOP_set_priority(port %u, %u): %ld\n", port,
               priority, rc);
    return (int)rc;
}

/* Grow the array to cover port (page by page, at bind time: never in the
 * upcall), and raise the timer's priority.  Xen resets a port's priority
 * to the default whenever its number is bound again. */
static int fifo_setup_port(evtchn_port_t port, bool high_priority)
{
    unsigned long f;
    int rc = 0;

    if (port >= EVTCHN_FIFO_NR_CHANNELS)
        return -XEN_EINVAL;
    if (port >= __atomic_load_n(&nr_ports, __ATOMIC_ACQUIRE)) {
        f = spin_lock_irqsave(&array_lock);
        while (!rc && port >= nr_pages * WORDS_PER_PAGE)
            rc = add_page();
        spin_unlock_irqrestore(&array_lock, f);
    }
#ifdef SCENARIO_16_FIFO_TIMER_DEFAULT_PRIORITY
    /* Mutant: the timer queues behind every other event. */
    high_priority = false;
#endif
    if (!rc && high_priority)
        rc = set_priority(port, PRIORITY_TIMER);
    return rc;
}

static unsigned int fifo_kept_pages(void)
{
    return __atomic_load_n(&nr_ports, __ATOMIC_ACQUIRE) / WORDS_PER_PAGE;
}

static void fifo_mask(evtchn_port_t port)
{
    event_word_t *w = word_of(port);

    if (w)
        __atomic_fetch_or(w, MASKED, __ATOMIC_SEQ_CST);
}

static bool fifo_is_masked(evtchn_port_t port)
{
    return load_word(port) & MASKED;
}

static bool fifo_is_pending(evtchn_port_t port)
{
    return load_word(port) & PENDING;
}

static bool fifo_is_linked(evtchn_port_t port)
{
    return load_word(port) & LINKED;
}

static void fifo_set_pending(evtchn_port_t port)
{
    event_word_t *w = word_of(port);

    if (w)
        __atomic_fetch_or(w, PENDING, __ATOMIC_SEQ_CST);
}

static bool fifo_clear_pending(evtchn_port_t port)
{
    event_word_t *w = word_of(port);

    return w && (__atomic_fetch_and(w, ~PENDING, __ATOMIC_SEQ_CST) & PENDING);
}

/*
 * Unmask without a hypercall when nothing is pending: clear MASKED with
 * a compare-and-swap that fails if PENDING or BUSY is set, so an event
 * that came while masked (Xen set PENDING and, seeing MASKED, linked
 * nothing) is never left behind, and Xen's linking of a BUSY tail is not
 * disturbed.  Otherwise EVTCHNOP_unmask: Xen clears MASKED and links the
 * port if it is pending.
 */
static void fifo_unmask(evtchn_port_t port)
{
    event_word_t *w = word_of(port);
    struct evtchn_unmask u = { .port = port };
    event_word_t old;
    long rc;

    if (!w)
        return;
    old = __atomic_load_n(w, __ATOMIC_SEQ_CST);
    while (!(old & (PENDING | BUSY))) {
        if (__atomic_compare_exchange_n(w, &old, old & ~MASKED, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return;
    }
    rc = hyp_event_channel_op(EVTCHNOP_unmask, &u);
    if (rc)
        panic("EVTCHNOP_unmask(port %u) failed: %ld", port, rc);
}

static void fifo_bind_to_cpu(evtchn_port_t port, unsigned int cpu)
{
    if (port < EVTCHN_FIFO_NR_CHANNELS)
        __atomic_store_n(&owner[port], (uint8_t)cpu, __ATOMIC_RELEASE);
}

static bool fifo_owned_by(evtchn_port_t port, unsigned int cpu)
{
    return port < EVTCHN_FIFO_NR_CHANNELS &&
           __atomic_load_n(&owner[port], __ATOMIC_ACQUIRE) == cpu;
}

/* Take port off its queue: clear LINKED and LINK together, and return
 * the LINK Xen had set (the next port, 0 = it was the tail). */
static evtchn_port_t unlink(event_word_t *w)
{
    event_word_t old = __atomic_load_n(w, __ATOMIC_SEQ_CST);

    while (!__atomic_compare_exchange_n(w, &old, old & ~(LINKED | LINK_MASK),
                                        false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
        ;
    return old & LINK_MASK;
}

/*
 * Take the next port off cpu's queue q; qlock held.  Returns it (0: the
 * queue is empty) and clears q from *ready when it was the last.  The
 * head Xen wrote is read only when the READY bit says the queue was
 * empty when Xen linked it; otherwise the port's LINK is the next.
 */
static evtchn_port_t take_one(unsigned int cpu, unsigned int q,
                              uint32_t *ready)
{
    struct consumer *c = &consumers[cpu];
    evtchn_port_t port = c->head[q];
    event_word_t *w;

    if (!port)
        port = __atomic_load_n(&control[cpu].cb.head[q], __ATOMIC_ACQUIRE);
    w = port ? word_of(port) : NULL;
    if (!w) {
        c->head[q] = 0;
        *ready &= ~(1u << q);
        return 0;
    }
    /* In hand before it is off the queue: whoever sees it unlinked then
     * sees it in hand too, until put_down(). */
    __atomic_store_n(&this_cpu()->port_in_hand, port, __ATOMIC_SEQ_CST);
    c->head[q] = unlink(w);
    if (!c->head[q])
        *ready &= ~(1u << q);
    return port;
}

/* The port take_one() gave this vCPU is handled or handed back. */
static void put_down(void)
{
    __atomic_store_n(&this_cpu()->port_in_hand, 0, __ATOMIC_SEQ_CST);
}

static uint32_t take_ready(unsigned int cpu)
{
    return __atomic_exchange_n(&control[cpu].cb.ready, 0, __ATOMIC_SEQ_CST);
}

/*
 * One pass of cpu's upcall: the highest-priority ready queue first, one
 * port at a time, looking again for higher-priority news after each (the
 * timer's queue is ahead of the rest); at most EVENTS_PER_PASS events,
 * then what is left is kept for the next pass and the upcall loop runs
 * again.  A port on our queue that was moved to another vCPU meanwhile
 * goes to its owner (evtchn_redeliver), as the 2-level scan leaves it to
 * the owner's.
 */
static void fifo_handle_events(unsigned int cpu)
{
    struct consumer *c = &consumers[cpu];
    unsigned int budget = EVENTS_PER_PASS;
    uint32_t ready;

    spin_lock(&c->qlock);
    ready = c->ready_left | take_ready(cpu);
    c->ready_left = 0;
    spin_unlock(&c->qlock);
    while (ready) {
        unsigned int q = __builtin_ctz(ready);
        evtchn_port_t port;
        event_word_t w;

        spin_lock(&c->qlock);
        port = take_one(cpu, q, &ready);
        spin_unlock(&c->qlock);
        w = port ? load_word(port) : 0;
        if ((w & PENDING) && !(w & MASKED)) {
            /* The port is off the queue and seen pending; it may move
             * now, and its new owner handle it, before we look at who
             * owns it (regress.fifo_handback_no_dup). */
            inject(&inject_fifo_before_owner_check, port);
            if (fifo_owned_by(port, cpu))
                evtchn_dispatch(port);
            else
                evtchn_redeliver(port);
        }
        put_down();
        ready |= take_ready(cpu);
        if (--budget == 0 && ready) {
            spin_lock(&c->qlock);
            c->ready_left |= ready;
            spin_unlock(&c->qlock);
            __atomic_store_n(&percpu_area[cpu].vcpu_info->evtchn_upcall_pending,
                             1, __ATOMIC_SEQ_CST);
            return;
        }
    }
}

/*
 * Empty every queue of cpu, whose consumer does not run (offline, dead):
 * each port comes off its queue, and one still pending and unmasked that
 * belongs to another vCPU now is handed back to Xen (evtchn_redeliver),
 * which links it on its owner's queue.  One that belongs to cpu is left
 * pending: its binding goes with cpu, and linking it again on cpu's queue
 * would undo the drain.  Never for a live queue: there a port of its own
 * handed back is linked on the same queue again, and the drain chases it
 * for ever (a case hung so).  qlock held across, so a consumer that
 * starts meanwhile waits for it.
 */
static unsigned int drain(unsigned int cpu)
{
    struct consumer *c = &consumers[cpu];
    struct read_section rs;
    unsigned int n = 0;
    unsigned long f;
    uint32_t ready;

    if (!registered[cpu])
        return 0;
    rs = quiesce_read_begin();          /* descriptors stay valid */
    f = spin_lock_irqsave(&c->qlock);
    ready = c->ready_left | take_ready(cpu);
    for (unsigned int q = 0; q < NR_QUEUES; q++)
        if (c->head[q])
            ready |= 1u << q;
    while (ready) {
        unsigned int q = __builtin_ctz(ready);
        evtchn_port_t port = take_one(cpu, q, &ready);
        event_word_t w = port ? load_word(port) : 0;

        n += port != 0;
        if ((w & PENDING) && !(w & MASKED) && !fifo_owned_by(port, cpu))
            evtchn_redeliver(port);
        put_down();
        ready |= take_ready(cpu);
    }
    c->ready_left = 0;
    spin_unlock_irqrestore(&c->qlock, f);
    quiesce_read_end(rs);
    return n;
}

/* On the leaving vCPU, interrupts off: its consumer will not run again,
 * so drain its queues now; a port moved off it while LINKED here would
 * otherwise wait for the controller's DEAD step. */
static void fifo_cpu_stopping(unsigned int cpu)
{
    (void)drain(cpu);
}

static void fifo_cpu_dead(unsigned int cpu)
{
#ifdef BUG_F_CLOSE_LINKED_UNDRAINED
    /* Mutant F: a dead vCPU's queues are left as they are. */
    (void)cpu;
    (void)drain;
#else
    unsigned int n = drain(cpu);

    if (n)
        pr_debug("events: %u ports left on dead vCPU%u's FIFO queues taken "
                 "off\n", n, cpu);
#endif
}

/*
 * Before port is closed: it must not stay LINKED on a queue nobody
 * consumes, or its number is never linked again (mutant F; Xen 4.17 also
 * refuses to hand a LINKED port out again, so the number would leak).
 * The queues of vCPUs that are down are drained here.  On a live vCPU's
 * queue the consumer takes it off in its next pass: we wait for that
 * when we can be interrupted (our own upcall may be the one), and do not
 * when we cannot (a PIRQ's shutdown under desc->lock): Xen keeps the
 * number until the consumer has unlinked it.
 */
static void fifo_before_close(evtchn_port_t port)
{
#ifdef BUG_F_CLOSE_LINKED_UNDRAINED
    /* Mutant F: the historic close, without the drain. */
    (void)port;
#else
    uint64_t until;

    if (!fifo_is_linked(port))
        return;
    for (unsigned int c = 0; c < MAX_VCPUS; c++) {
        enum cpu_state s = cpu_state(c);

        if (registered[c] && c != smp_processor_id() &&
            (s == CPU_OFFLINE ||
             (s == CPU_DEAD && hyp_vcpu_op(VCPUOP_is_up, c, NULL) == 0)))
            (void)drain(c);
    }
    if (!(read_flags() & X86_EFLAGS_IF))
        return;
    until = time_now_ns() + CLOSE_WAIT_NS;
    while (fifo_is_linked(port) && time_now_ns() < until)
        cpu_relax();
    if (fifo_is_linked(port)) {
        __atomic_fetch_add(&evtchn_fifo_close_linked, 1, __ATOMIC_RELAXED);
        pr_err("events: port %u still on a FIFO queue %u ms after its close "
               "began\n", port, (unsigned int)(CLOSE_WAIT_NS / NSEC_PER_MSEC));
    }
#endif
}

static void fifo_report_cpu(unsigned int cpu)
{
    struct consumer *c = &consumers[cpu];

    ktap("    #   FIFO: control block %s, ready 0x%x, left by the last pass "
         "0x%x, port in hand %u\n", registered[cpu] ? "registered" : "none",
         __atomic_load_n(&control[cpu].cb.ready, __ATOMIC_ACQUIRE),
         __atomic_load_n(&c->ready_left, __ATOMIC_RELAXED),
         __atomic_load_n(&percpu_area[cpu].port_in_hand, __ATOMIC_RELAXED));
    for (unsigned int q = 0; q < NR_QUEUES; q++) {
        evtchn_port_t h = __atomic_load_n(&c->head[q], __ATOMIC_RELAXED);
        evtchn_port_t x = __atomic_load_n(&control[cpu].cb.head[q],
                                          __ATOMIC_ACQUIRE);

        if (h || x)
            ktap("    #   FIFO queue %u: next %u, Xen's head %u\n", q, h, x);
    }
}

const struct evtchn_abi evtchn_abi_fifo = {
    .name = "FIFO",
    .init = fifo_init,
    .nr_ports = EVTCHN_FIFO_NR_CHANNELS,
    .prepare_cpu = fifo_prepare_cpu,
    .cpu_stopping = fifo_cpu_stopping,
    .cpu_dead = fifo_cpu_dead,
    .setup_port = fifo_setup_port,
    .before_close = fifo_before_close,
    .bind_to_cpu = fifo_bind_to_cpu,
    .owned_by = fifo_owned_by,
    .mask = fifo_mask,
    .unmask = fifo_unmask,
    .is_masked = fifo_is_masked,
    .is_pending = fifo_is_pending,
    .set_pending = fifo_set_pending,
    .clear_pending = fifo_clear_pending,
    .is_linked = fifo_is_linked,
    .handle_events = fifo_handle_events,
    .kept_pages = fifo_kept_pages,
    .report_cpu = fifo_report_cpu,
    .resume = fifo_resume,
};
