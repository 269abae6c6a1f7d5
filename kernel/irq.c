/*
 * The irq descriptor table and the flows that run handlers.
 *
 * Locks (outermost first; the full order is in events/bind.c):
 *   irq_alloc_lock (mutex): the table and descriptor lifetime only.  The
 *       hotplug paths hold it across bring-up and tear-down so descriptors
 *       cannot vanish under an affinity move; nothing may allocate or free
 *       a descriptor while holding it (bug D), irq_alloc() asserts that.
 *   desc->lock (spinlock, irqs off): handler, depth, affinity; the chip
 *       callbacks run under it, so they never take the mapping lock
 *       (bug B's root).
 *
 * desc->status is an atomic word: INPROGRESS is also read without the
 * lock (synchronize_irq), so every change is an atomic read-modify-write.
 */
#include <xenith/lockorder.h>
#include <xenith/irq.h>
#include <xenith/cpu.h>
#include <xenith/mm.h>
#include <xenith/mutex.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/string.h>
#include <xen/errno.h>

struct mutex irq_alloc_lock = MUTEX_INIT_RANKED(RANK_IRQ_ALLOC, "irq_alloc_lock");

/* Readers (the upcall) load entries with one atomic load, no lock. */
static struct irq_desc *irq_descs[NR_IRQS];
static unsigned int nr_allocated;       /* under irq_alloc_lock */
static unsigned int alloc_hint;         /* under irq_alloc_lock */

static void status_set(struct irq_desc *d, unsigned int bits)
{
    __atomic_fetch_or(&d->status, bits, __ATOMIC_SEQ_CST);
}

static void status_clear(struct irq_desc *d, unsigned int bits)
{
    __atomic_fetch_and(&d->status, ~bits, __ATOMIC_SEQ_CST);
}

static unsigned int status(const struct irq_desc *d)
{
    return __atomic_load_n(&d->status, __ATOMIC_SEQ_CST);
}

struct irq_desc *irq_to_desc(int irq)
{
    if (irq < 0 || irq >= NR_IRQS)
        return NULL;
    return __atomic_load_n(&irq_descs[irq], __ATOMIC_ACQUIRE);
}

unsigned int irq_nr_allocated(void)
{
    return __atomic_load_n(&nr_allocated, __ATOMIC_RELAXED);
}

int irq_alloc(const struct irq_chip *chip, void *chip_data,
              enum irq_flow flow, unsigned int cpu)
{
    struct irq_desc *d;
    int irq = -XEN_ENOSPC;

    /* Bug D: hotplug holds the allocation lock across bring-up; binding a
     * per-vCPU irq from inside it would take it again and deadlock. */
    BUG_ON(mutex_held(&irq_alloc_lock));
    d = kmalloc(sizeof(*d));
    if (!d)
        return -XEN_ENOMEM;
    memset(d, 0, sizeof(*d));
    d->lock = (spinlock_t)SPINLOCK_INIT_RANKED(RANK_DESC, "desc->lock");
    d->chip = chip;
    d->chip_data = chip_data;
    d->flow = flow;
    d->status = IRQS_DISABLED;
    d->target_cpu = cpu;

    mutex_lock(&irq_alloc_lock);
    for (unsigned int n = 0; n < NR_IRQS; n++) {
        /* irq 0 is never handed out: 0 reads as "none" too often. */
        unsigned int i = 1 + (alloc_hint + n) % (NR_IRQS - 1);
        if (!irq_descs[i]) {
            d->irq = irq = i;
            __atomic_store_n(&irq_descs[i], d, __ATOMIC_RELEASE);
            alloc_hint = i;
            nr_allocated++;
            break;
        }
    }
    mutex_unlock(&irq_alloc_lock);
    if (irq < 0)
        kfree(d);
    return irq;
}

void irq_free(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);

    BUG_ON(!d);
    BUG_ON(d->handler);
    BUG_ON(mutex_held(&irq_alloc_lock));        /* bug D, as above */
    mutex_lock(&irq_alloc_lock);
    __atomic_store_n(&irq_descs[irq], NULL, __ATOMIC_RELEASE);
    nr_allocated--;
    mutex_unlock(&irq_alloc_lock);
    kfree(d);
}

int request_irq(int irq, irq_handler_t h, void *data, const char *name)
{
    struct irq_desc *d = irq_to_desc(irq);
    unsigned long f;
    int rc = 0;

    if (!d || !h)
        return -XEN_EINVAL;
    f = spin_lock_irqsave(&d->lock);
    if (d->handler) {
        rc = -XEN_EBUSY;
    } else {
        d->handler_data = data;
        d->name = name;
        __atomic_store_n(&d->handler, h, __ATOMIC_RELEASE);
        d->depth = 0;
        status_clear(d, IRQS_DISABLED | IRQS_PENDING);
        /* Startup unmasks: only now, with the action installed, may the
         * event reach a handler. */
        if (!(status(d) & IRQS_STARTED)) {
            rc = d->chip->startup(d);
            if (rc) {
                __atomic_store_n(&d->handler, NULL, __ATOMIC_RELEASE);
                status_set(d, IRQS_DISABLED);
            } else {
                status_set(d, IRQS_STARTED);
            }
        } else {
            d->chip->unmask(d);
        }
    }
    spin_unlock_irqrestore(&d->lock, f);
    return rc;
}

void synchronize_irq(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);
    unsigned long f;
    bool busy;

    BUG_ON(!d);
    do {
        while (status(d) & IRQS_INPROGRESS)
            cpu_relax();
        /* A vCPU may be between its lookup and taking the lock; once we
         * hold the lock, it will see whatever we changed before. */
        f = spin_lock_irqsave(&d->lock);
        busy = status(d) & IRQS_INPROGRESS;
        spin_unlock_irqrestore(&d->lock, f);
    } while (busy);
}

void free_irq(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);
    unsigned long f;

    BUG_ON(!d);
    f = spin_lock_irqsave(&d->lock);
    BUG_ON(!d->handler);
    __atomic_store_n(&d->handler, NULL, __ATOMIC_RELEASE);
    status_set(d, IRQS_DISABLED);
    status_clear(d, IRQS_PENDING);
    if (status(d) & IRQS_STARTED) {
        status_clear(d, IRQS_STARTED);
        d->chip->shutdown(d);
    }
    spin_unlock_irqrestore(&d->lock, f);
    synchronize_irq(irq);
}

void disable_irq_nosync(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);
    unsigned long f;

    BUG_ON(!d);
    f = spin_lock_irqsave(&d->lock);
    if (d->depth++ == 0) {
        status_set(d, IRQS_DISABLED);
        d->chip->mask(d);
    }
    spin_unlock_irqrestore(&d->lock, f);
}

void disable_irq(int irq)
{
    disable_irq_nosync(irq);
    synchronize_irq(irq);
}

void enable_irq(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);
    unsigned long f;

    BUG_ON(!d);
    f = spin_lock_irqsave(&d->lock);
    BUG_ON(d->depth == 0);
    if (--d->depth == 0 && d->handler) {
        status_clear(d, IRQS_DISABLED | IRQS_PENDING);
        /* An event that came while disabled is still pending at the
         * port; unmasking lets Xen deliver it again. */
        d->chip->unmask(d);
    }
    spin_unlock_irqrestore(&d->lock, f);
}

/* A hot path: no desc->lock (bug E).  The chip serialises the EOI with
 * masking and affinity moves under its own, innermost, lock. */
void irq_eoi(int irq)
{
    struct irq_desc *d = irq_to_desc(irq);

    BUG_ON(!d || d->flow != IRQ_FLOW_LATE_EOI);
    d->chip->eoi(d);
}

/*
 * The target must be online, checked under desc->lock: cpu_down marks a
 * vCPU dying before it walks the table taking each desc->lock, so either
 * this move completes first and the walk moves the irq off again, or this
 * sees the vCPU dying and refuses.  No irq ends on a dead vCPU.
 */
int irq_set_affinity(int irq, unsigned int cpu)
{
    struct irq_desc *d = irq_to_desc(irq);
    unsigned long f;
    int rc;

    if (!d)
        return -XEN_EINVAL;
    if (d->flow == IRQ_FLOW_PERCPU)
        return -XEN_EINVAL;             /* pinned forever */
    f = spin_lock_irqsave(&d->lock);
    rc = cpu_online(cpu) ? d->chip->set_affinity(d, cpu) : -XEN_EINVAL;
    spin_unlock_irqrestore(&d->lock, f);
    return rc;
}

/*
 * Hotplug (kernel/cpu_hotplug.c), with the allocation lock held so that no
 * descriptor is freed under the walk (bug D): move every irq that targets
 * the dying vCPU to vCPU `to`.  Per-vCPU irqs stay; DEAD unbinds them.
 * An irq with no port (being unbound, or a PIRQ not started) just gets
 * the new target, which its next startup uses.  Returns how many moved.
 */
unsigned int irq_move_all_off(unsigned int dying, unsigned int to)
{
    unsigned int moved = 0;

    BUG_ON(!mutex_held(&irq_alloc_lock));
    for (int irq = 0; irq < NR_IRQS; irq++) {
        struct irq_desc *d = irq_descs[irq];
        unsigned long f;

        if (!d || d->flow == IRQ_FLOW_PERCPU)
            continue;
        f = spin_lock_irqsave(&d->lock);
        if (irq_target_cpu(d) == dying) {
            if (d->chip->set_affinity(d, to))
                __atomic_store_n(&d->target_cpu, to, __ATOMIC_RELEASE);
            moved++;
        }
        spin_unlock_irqrestore(&d->lock, f);
    }
    return moved;
}

/* Per-vCPU flow: only its own vCPU ever runs it, so no lock; INPROGRESS
 * and DISABLED are each set by an atomic RMW (a full barrier) before the
 * other is read, so free_irq and this path always see one another. */
static void handle_percpu(struct irq_desc *d)
{
    irq_handler_t h;

    d->chip->ack(d);
    status_set(d, IRQS_INPROGRESS);
    h = __atomic_load_n(&d->handler, __ATOMIC_ACQUIRE);
    if (h && !(status(d) & IRQS_DISABLED)) {
        d->count++;
        h(d->irq, d->handler_data);
    }
    status_clear(d, IRQS_INPROGRESS);
}

/*
 * Edge and late-EOI flows: one vCPU at a time.  An event that arrives
 * while the handler runs elsewhere, while disabled, or with no action, is
 * left pending at the port and the port masked (IRQS_PENDING); when the
 * running handler ends (or enable_irq runs) the port is unmasked and Xen
 * delivers it again: replayed, never lost, never run twice at once.
 */
static void handle_edge(struct irq_desc *d)
{
    irq_handler_t h;
    void *data;

    spin_lock(&d->lock);
    /* Stale: the event this vCPU's scan saw was taken (acked, under this
     * lock) by another vCPU meanwhile, e.g. both owned the port for an
     * instant during an affinity move.  Running now would handle it
     * twice. */
    if (d->chip->pending && !d->chip->pending(d)) {
        d->stale++;
        spin_unlock(&d->lock);
        return;
    }
    h = d->handler;
    if (!h || (status(d) & (IRQS_DISABLED | IRQS_INPROGRESS))) {
        status_set(d, IRQS_PENDING);
        d->chip->mask(d);
        spin_unlock(&d->lock);
        return;
    }
    data = d->handler_data;
    d->chip->ack(d);
    status_set(d, IRQS_INPROGRESS);
    d->count++;
    spin_unlock(&d->lock);

    h(d->irq, data);

    spin_lock(&d->lock);
    status_clear(d, IRQS_INPROGRESS);
    if ((status(d) & IRQS_PENDING) && !(status(d) & IRQS_DISABLED) &&
        d->handler) {
        status_clear(d, IRQS_PENDING);
        d->chip->unmask(d);
    }
    spin_unlock(&d->lock);
}

void handle_irq(struct irq_desc *d)
{
    if (d->flow == IRQ_FLOW_PERCPU)
        handle_percpu(d);
    else
        handle_edge(d);
}
