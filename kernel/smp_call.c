/*
 * Cross-vCPU calls over the IPI_CALL event channel.  Each vCPU has two
 * queues under its call_lock (a leaf lock, irqs off): calls, run by the
 * IPI handler with interrupts off, and work, run by the idle loop with
 * interrupts on.  The same IPI serves both: it runs the calls and wakes
 * the idle loop from hlt.
 */
#include <xenith/smp.h>
#include <xenith/xenstore.h>
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/mm.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/time.h>
#include <xenith/x86.h>
#include <xen/errno.h>

struct smp_call {
    smp_fn_t fn;
    void *arg;
    struct smp_call *next;
    int done;                   /* atomic */
    bool heap;                  /* no waiter: the runner frees it */
};

static void push_call(unsigned int cpu, struct smp_call *c)
{
    struct percpu *pc = &percpu_area[cpu];
    unsigned long f = spin_lock_irqsave(&pc->call_lock);
    struct smp_call **pp = &pc->calls;

    while (*pp)                         /* FIFO: callers expect order */
        pp = &(*pp)->next;
    c->next = NULL;
    *pp = c;
    spin_unlock_irqrestore(&pc->call_lock, f);
    ipi_send(cpu, IPI_CALL);
}

void smp_call_interrupt(void)
{
    struct percpu *pc = this_cpu();
    struct smp_call *c;
    unsigned long f = spin_lock_irqsave(&pc->call_lock);

    c = pc->calls;
    pc->calls = NULL;
    spin_unlock_irqrestore(&pc->call_lock, f);
    while (c) {
        struct smp_call *next = c->next;
        bool heap = c->heap;

        c->fn(c->arg);
        if (heap)
            kfree(c);
        else
            __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
        c = next;
    }
}

/* Wait for a call we queued.  With interrupts off here, the target may be
 * waiting for a call of its own to us: serve ours while we wait. */
static void wait_call(struct smp_call *c)
{
    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
        if (!(read_flags() & X86_EFLAGS_IF))
            smp_call_interrupt();
        cpu_relax();
    }
}

int smp_call_on(unsigned int cpu, smp_fn_t fn, void *arg, bool wait)
{
    struct smp_call local = { .fn = fn, .arg = arg }, *c = &local;
    unsigned long f;

    if (cpu >= MAX_VCPUS || !cpu_online(cpu))
        return -XEN_EINVAL;
    if (cpu == smp_processor_id()) {
        f = irq_save();
        fn(arg);
        irq_restore(f);
        return 0;
    }
    if (!wait) {
        c = kmalloc(sizeof(*c));
        if (!c)
            return -XEN_ENOMEM;
        *c = (struct smp_call){ .fn = fn, .arg = arg, .heap = true };
    }
    push_call(cpu, c);
    if (wait)
        wait_call(c);
    return 0;
}

void smp_call_each(smp_fn_t fn, void *arg)
{
    struct smp_call calls[MAX_VCPUS];
    unsigned int cpu, me = smp_processor_id();
    unsigned long f;

    for_each_online_cpu(cpu) {
        if (cpu == me)
            continue;
        calls[cpu] = (struct smp_call){ .fn = fn, .arg = arg };
        push_call(cpu, &calls[cpu]);
    }
    f = irq_save();
    fn(arg);
    irq_restore(f);
    for_each_online_cpu(cpu)
        if (cpu != me)
            wait_call(&calls[cpu]);
}

int smp_work_queue(unsigned int cpu, struct cpu_work *w, smp_fn_t fn,
                   void *arg)
{
    struct percpu *pc;
    struct cpu_work **pp;
    unsigned long f;

    if (cpu >= MAX_VCPUS || !cpu_online(cpu) || cpu == smp_processor_id())
        return -XEN_EINVAL;             /* our own idle loop is not running */
    pc = &percpu_area[cpu];
    *w = (struct cpu_work){ .fn = fn, .arg = arg };
    f = spin_lock_irqsave(&pc->call_lock);
    for (pp = &pc->work; *pp; pp = &(*pp)->next)
        ;
    *pp = w;
    spin_unlock_irqrestore(&pc->call_lock, f);
    ipi_send(cpu, IPI_CALL);
    return 0;
}

bool smp_work_wait(struct cpu_work *w, uint64_t timeout_ns)
{
    uint64_t until = time_now_ns() + timeout_ns;

    while (!smp_work_done(w)) {
        if (time_now_ns() > until)
            return false;
        cpu_relax();
    }
    return true;
}

/* Run queued work, interrupts on.  Called by the idle loop. */
void idle_run_work(void)
{
    struct percpu *pc = this_cpu();

    for (;;) {
        unsigned long f = spin_lock_irqsave(&pc->call_lock);
        struct cpu_work *w = pc->work;

        if (w)
            pc->work = w->next;
        spin_unlock_irqrestore(&pc->call_lock, f);
        if (!w)
            return;
        w->fn(w->arg);
        __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    }
}

/* Wake the other online vCPUs' idle loops (xenstore watch events). */
void smp_kick_idle(void)
{
    unsigned int cpu, me = smp_processor_id();

    /* A vCPU going down meanwhile has no idle loop to wake: ignore. */
    for_each_online_cpu(cpu)
        if (cpu != me)
            (void)ipi_try_send(cpu, IPI_CALL);
}

void cpu_idle_loop(void)
{
    struct percpu *pc = this_cpu();

    for (;;) {
        idle_run_work();
        xs_run_watches();               /* fired xenstore watches */
        if (__atomic_load_n(&pc->die_request, __ATOMIC_ACQUIRE))
            cpu_die_self();             /* hotplug: returns if cancelled */
        irq_disable();
        if (__atomic_load_n(&pc->work, __ATOMIC_ACQUIRE) ||
            __atomic_load_n(&pc->die_request, __ATOMIC_ACQUIRE) == 1)
            irq_enable();
        else
            safe_halt();                /* woken by any event */
    }
}
