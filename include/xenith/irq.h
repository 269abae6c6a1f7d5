/*
 * The irq descriptor table (kernel/irq.c).  An irq number names a
 * descriptor; the event-channel layer (events/) is its only chip today.
 *
 * desc->lock (spinlock, irqs off) protects action, depth, status changes
 * and affinity; chip callbacks run with it held.  The allocation lock
 * (irq_alloc_lock, sleeping-style) protects only the table and descriptor
 * lifetime.  Lock order: see events/bind.c.
 *
 * desc->target_cpu is written under desc->lock and read by hot paths with
 * one atomic load, never under the lock (bug E).
 */
#ifndef XENITH_IRQ_H
#define XENITH_IRQ_H

#include <xenith/types.h>
#include <xenith/spinlock.h>

/* One per port the FIFO ABI can name (131072), and room for the rest. */
#define NR_IRQS ((1 << 17) + 256)

struct irq_desc;
typedef void (*irq_handler_t)(int irq, void *data);

struct irq_chip {
    const char *name;
    /* First use (request_irq): unmask; a PIRQ binds its port here.
     * 0 or -errno; on failure the irq stays without an action. */
    int (*startup)(struct irq_desc *d);
    void (*shutdown)(struct irq_desc *d);       /* mask, last time */
    void (*mask)(struct irq_desc *d);
    void (*unmask)(struct irq_desc *d);
    void (*ack)(struct irq_desc *d);            /* before the handler */
    void (*eoi)(struct irq_desc *d);            /* late-EOI flow: re-arm */
    int (*set_affinity)(struct irq_desc *d, unsigned int cpu);
    /* Is the event still there to take?  A scan may act on a snapshot
     * that another vCPU has already handled (NULL: always). */
    bool (*pending)(struct irq_desc *d);
};

enum irq_flow {
    IRQ_FLOW_EDGE,      /* one vCPU at a time; arrivals meanwhile replayed */
    IRQ_FLOW_PERCPU,    /* bound to one vCPU forever: no replay needed */
    IRQ_FLOW_LATE_EOI,  /* stays masked after the handler until irq_eoi() */
};

/* status bits (atomic word) */
#define IRQS_DISABLED   0x1u    /* depth > 0 or no action */
#define IRQS_INPROGRESS 0x2u    /* a vCPU is running the handler */
#define IRQS_PENDING    0x4u    /* arrived while it could not run: replay */
#define IRQS_STARTED    0x8u    /* chip startup done */

struct irq_desc {
    int irq;
    spinlock_t lock;
    const struct irq_chip *chip;
    void *chip_data;            /* the chip's per-irq record */
    enum irq_flow flow;
    irq_handler_t handler;      /* the action; NULL = none */
    void *handler_data;
    const char *name;
    unsigned int depth;         /* disable_irq nesting */
    unsigned int status;        /* IRQS_*, changed with atomics */
    unsigned int target_cpu;    /* effective target vCPU (bug E) */
    uint64_t count;             /* handler runs */
    uint64_t stale;             /* scans that found the event taken */
};

/* Allocate a descriptor for chip (allocation lock inside).  irq or -errno.
 * Asserts the caller does not hold the allocation lock already (bug D). */
int irq_alloc(const struct irq_chip *chip, void *chip_data,
              enum irq_flow flow, unsigned int cpu);
/* Return it to the table.  The caller has removed every way to reach it
 * and waited a grace period (kernel/quiesce.c). */
void irq_free(int irq);
struct irq_desc *irq_to_desc(int irq);
unsigned int irq_nr_allocated(void);
/* Hotplug, allocation lock held: move every irq off vCPU dying. */
unsigned int irq_move_all_off(unsigned int dying, unsigned int to);

int request_irq(int irq, irq_handler_t h, void *data, const char *name);
/* Remove the action, shut the chip down, wait until no vCPU runs it. */
void free_irq(int irq);
void disable_irq(int irq);              /* and wait for handlers */
void disable_irq_nosync(int irq);
void enable_irq(int irq);
void synchronize_irq(int irq);
/* Late-EOI flow: the handler's work is done, let the event fire again. */
void irq_eoi(int irq);
int irq_set_affinity(int irq, unsigned int cpu);

static inline unsigned int irq_target_cpu(const struct irq_desc *d)
{
    return __atomic_load_n(&d->target_cpu, __ATOMIC_ACQUIRE);
}

/* Run the flow for desc (from the upcall, interrupts off). */
void handle_irq(struct irq_desc *d);

/* The allocation lock, for the hotplug paths that hold it. */
struct mutex;
extern struct mutex irq_alloc_lock;

#endif
