/*
 * The 2-level event-channel ABI: shared_info holds a pending and a mask
 * bit per port (64 x 64 ports); each vCPU's vcpu_info has a selector word
 * saying which pending words may have news for it.  Xen raises the upcall
 * on the vCPU a port is bound to (EVTCHNOP_bind_vcpu).
 *
 * cpu_ports[cpu] is the set of ports bound to cpu: the scan on a vCPU only
 * takes ports bound to it, so an event is handled where it was sent even
 * if another vCPU's upcall sees the pending bit.  Bits move with atomic
 * ops under the mapping lock (bind, unbind) or desc->lock (affinity); the
 * scan reads them without a lock.
 */
#include "internal.h"
#include <xenith/inject.h>
#include <xenith/hypercall.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xenith/xen.h>
#include <xen/errno.h>

#define NR_PORTS_2L     4096u   /* 64 words of 64 bits on x86-64 */
#define WORD_BITS       64u
#define NR_WORDS        (NR_PORTS_2L / WORD_BITS)

static uint64_t cpu_ports[MAX_VCPUS][NR_WORDS];

static uint64_t *pending_word(unsigned int w)
{
    return (uint64_t *)&shared_info->evtchn_pending[w];
}

static uint64_t *mask_word(unsigned int w)
{
    return (uint64_t *)&shared_info->evtchn_mask[w];
}

static void bit_set(uint64_t *w, unsigned int b)
{
    __atomic_fetch_or(w, 1ull << b, __ATOMIC_SEQ_CST);
}

/* Whether it was set. */
static bool bit_clear(uint64_t *w, unsigned int b)
{
    return __atomic_fetch_and(w, ~(1ull << b), __ATOMIC_SEQ_CST) & (1ull << b);
}

/* seq_cst (a plain load on x86): the pv-spinlock unlock orders this read
 * after its releasing store (lock/pvlock.c, kick_skip). */
static bool bit_test(uint64_t *w, unsigned int b)
{
    return __atomic_load_n(w, __ATOMIC_SEQ_CST) & (1ull << b);
}

static bool l2_owned_by(evtchn_port_t port, unsigned int cpu);

static long l2_init(void)
{
    /* Every port starts masked: a port becomes live only through startup,
     * once its mapping and action exist.  Ports belong to vCPU0 until
     * bound elsewhere, as in Xen. */
    for (unsigned int w = 0; w < NR_WORDS; w++) {
        __atomic_store_n(mask_word(w), ~0ull, __ATOMIC_SEQ_CST);
        cpu_ports[0][w] = ~0ull;
    }
    return 0;
}

/* A new domain's shared info has every port unmasked: mask them again. */
static long l2_resume(void)
{
    for (unsigned int c = 1; c < MAX_VCPUS; c++)
        for (unsigned int w = 0; w < NR_WORDS; w++)
            cpu_ports[c][w] = 0;
    return l2_init();
}

static void l2_mask(evtchn_port_t port)
{
    bit_set(mask_word(port / WORD_BITS), port % WORD_BITS);
}

static bool l2_is_masked(evtchn_port_t port)
{
    return bit_test(mask_word(port / WORD_BITS), port % WORD_BITS);
}

static bool l2_is_pending(evtchn_port_t port)
{
    return bit_test(pending_word(port / WORD_BITS), port % WORD_BITS);
}

static bool l2_clear_pending(evtchn_port_t port)
{
    return bit_clear(pending_word(port / WORD_BITS), port % WORD_BITS);
}

static void l2_set_pending(evtchn_port_t port)
{
    bit_set(pending_word(port / WORD_BITS), port % WORD_BITS);
}

/*
 * Unmask so that an event that came while masked is not lost.  Clearing
 * the mask bit alone never makes Xen deliver an already-pending event,
 * and EVTCHNOP_unmask delivers (to the vCPU the port is bound to) only if
 * Xen itself clears the bit.  So a pending port goes to Xen; a port that
 * is not pending is unmasked here with no hypercall, and if an event
 * raced in before the clear (Xen saw it masked and delivered nothing),
 * the port is masked again and handed to Xen.  This holds whichever vCPU
 * the port targets: Xen raises that vCPU's upcall, never ours.
 */
static void l2_unmask(evtchn_port_t port)
{
    unsigned int w = port / WORD_BITS, b = port % WORD_BITS;
    struct evtchn_unmask u = { .port = port };
    long rc;

#ifdef SCENARIO_14_REMOTE_UNMASK_LOCAL_ONLY
    /* Mutant: another vCPU's port is unmasked by clearing its bit here,
     * as if our own scan would find it; the target is never told. */
    if (!l2_owned_by(port, smp_processor_id())) {
        bit_clear(mask_word(w), b);
        return;
    }
#endif
    if (!l2_is_pending(port)) {
        bit_clear(mask_word(w), b);
        if (!l2_is_pending(port))
            return;
        bit_set(mask_word(w), b);
    }
    rc = hyp_event_channel_op(EVTCHNOP_unmask, &u);
    if (rc)
        panic("EVTCHNOP_unmask(port %u) failed: %ld", port, rc);
}

static bool l2_owned_by(evtchn_port_t port, unsigned int cpu)
{
    return bit_test(&cpu_ports[cpu][port / WORD_BITS], port % WORD_BITS);
}

static void l2_bind_to_cpu(evtchn_port_t port, unsigned int cpu)
{
    unsigned int w = port / WORD_BITS, b = port % WORD_BITS;

    /* Set the new owner's bit first: a scan on the old vCPU may drop the
     * event, a scan on the new one takes it; at no point does neither
     * own a pending port for long (Xen also re-targets the upcall). */
    bit_set(&cpu_ports[cpu][w], b);
    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (c != cpu)
            bit_clear(&cpu_ports[c][w], b);
}

static uint64_t active(unsigned int cpu, unsigned int w)
{
    return __atomic_load_n(pending_word(w), __ATOMIC_ACQUIRE) &
           ~__atomic_load_n(mask_word(w), __ATOMIC_ACQUIRE) &
           __atomic_load_n(&cpu_ports[cpu][w], __ATOMIC_ACQUIRE);
}

static void handle_timer_first(struct percpu *pc)
{
    int irq = __atomic_load_n(&pc->virq_to_irq[VIRQ_TIMER], __ATOMIC_ACQUIRE);
    struct irq_desc *d = irq_to_desc(irq);
    evtchn_port_t port;

    if (!d)
        return;
    port = info_port(desc_info(d));
    if (port && (active(pc->cpu_id, port / WORD_BITS) &
                 (1ull << (port % WORD_BITS))))
        evtchn_dispatch(port);
}

/*
 * One pass of the scan, interrupts off.  Fair: it resumes after the last
 * port it handled (pc->scan_word/bit), so a busy low port cannot starve a
 * high one; the timer goes first; at most EVENTS_PER_PASS events, then
 * the unfinished selector bits go back and the upcall loop runs again.
 */
static void l2_handle_events(unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];
    struct vcpu_info *vi = pc->vcpu_info;
    unsigned int word = pc->scan_word, bit = pc->scan_bit, budget;
    uint64_t sel;

#ifdef SCENARIO_16_TIMER_NOT_FIRST
    /* Mutant: the timer waits for its turn in the scan like any port. */
    (void)handle_timer_first;
#else
    handle_timer_first(pc);
#endif
#ifdef SCENARIO_16_SCAN_FROM_ZERO
    word = bit = 0;                     /* Mutant: each pass from port 0. */
#endif
    sel = __atomic_exchange_n(&vi->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
    for (budget = EVENTS_PER_PASS; sel; ) {
        uint64_t from = sel & (~0ull << word), bits;

        if (!from) {                    /* wrap around */
            word = 0;
            bit = 0;
            continue;
        }
        if ((unsigned int)__builtin_ctzll(from) != word)
            bit = 0;
        word = __builtin_ctzll(from);
        bits = active(cpu, word) & (~0ull << bit);
        if (!bits) {
            /* Nothing at or after the resume bit: the word is drained
             * unless it has bits below it, which the wrap will reach. */
            if (!(active(cpu, word) & ((1ull << bit) - 1)))
                sel &= ~(1ull << word);
            word = (word + 1) % NR_WORDS;
            bit = 0;
            continue;
        }
        bit = __builtin_ctzll(bits);
        evtchn_dispatch(word * WORD_BITS + bit);
        if (++bit == WORD_BITS) {
            bit = 0;
            word = (word + 1) % NR_WORDS;
        }
        pc->scan_word = word;
        pc->scan_bit = bit;
        if (--budget == 0) {
            __atomic_fetch_or(&vi->evtchn_pending_sel, sel, __ATOMIC_SEQ_CST);
            __atomic_store_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
            return;
        }
    }
}

static int l2_prepare_cpu(unsigned int cpu)
{
    (void)cpu;
    return 0;
}

/* A moved port's pending bit is seen by its new owner's scan: nothing
 * waits on the stopping vCPU. */
static void l2_cpu_stopping(unsigned int cpu)
{
    (void)cpu;
}

/* A dead vCPU's pending ports were moved off it (their owner bits went
 * with them) or are about to be closed: nothing stays behind in 2-level. */
static void l2_cpu_dead(unsigned int cpu)
{
    (void)cpu;
}

static int l2_setup_port(evtchn_port_t port, bool high_priority)
{
    (void)high_priority;
    return port < NR_PORTS_2L ? 0 : -XEN_EINVAL;
}

static void l2_before_close(evtchn_port_t port)
{
    (void)port;
}

static bool l2_is_linked(evtchn_port_t port)
{
    (void)port;
    return false;
}

static unsigned int l2_kept_pages(void)
{
    return 0;
}

static void l2_report_cpu(unsigned int cpu)
{
    struct vcpu_info *vi = __atomic_load_n(&percpu_area[cpu].vcpu_info,
                                           __ATOMIC_ACQUIRE);

    ktap("    #   2-level: pending_sel 0x%llx, scan resumes at word %u bit "
         "%u\n", (unsigned long long)__atomic_load_n(&vi->evtchn_pending_sel,
                                                    __ATOMIC_ACQUIRE),
         percpu_area[cpu].scan_word, percpu_area[cpu].scan_bit);
}

const struct evtchn_abi evtchn_abi_2l = {
    .name = "2-level",
    .init = l2_init,
    .nr_ports = NR_PORTS_2L,
    .prepare_cpu = l2_prepare_cpu,
    .cpu_stopping = l2_cpu_stopping,
    .cpu_dead = l2_cpu_dead,
    .setup_port = l2_setup_port,
    .before_close = l2_before_close,
    .bind_to_cpu = l2_bind_to_cpu,
    .owned_by = l2_owned_by,
    .mask = l2_mask,
    .unmask = l2_unmask,
    .is_masked = l2_is_masked,
    .is_pending = l2_is_pending,
    .set_pending = l2_set_pending,
    .clear_pending = l2_clear_pending,
    .is_linked = l2_is_linked,
    .handle_events = l2_handle_events,
    .kept_pages = l2_kept_pages,
    .report_cpu = l2_report_cpu,
    .resume = l2_resume,
};
