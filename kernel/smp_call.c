/*
 * Cross-vCPU calls over the IPI_CALL event channel.  Each vCPU has two
 * queues under its call_lock (a leaf lock, irqs off): calls, run by the
 * IPI handler with interrupts off, and work, run by the idle loop with
 * interrupts on.  The same IPI serves both: it runs the calls and wakes
 * the idle loop from hlt.
 */
#include <xenith/smp.h>
#include <xenith/suspend.h>
#include <xenith/xenstore.h>
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/inject.h>
#include <xenith/mm.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/quiesce.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/x86.h>
#include <xen/errno.h>

struct smp_call {
    smp_fn_t fn;
    void *arg;
    struct smp_call *next;
    int done;                   /* atomic */
    bool heap;                  /* no waiter: the runner frees it */
};

/*
 * The IPI for what was just queued, sent under the target's call_lock.
 * After the unlock the target may run the entry, take a down request
 * (its queues empty, so smp_calls_close succeeds), park, and have DEAD
 * clear its call port: a send then would find no port and panic.  While
 * we hold the lock with our entry queued, it cannot close its queues, so
 * the port is still published.  The send takes no lock: call_lock stays
 * a leaf.
 */
static void kick_queued(unsigned int cpu)
{
    ipi_send(cpu, IPI_CALL);
}

/* -EINVAL if cpu went down after the caller saw it online: the call
 * would never run, and a waiter would wait for ever. */
static int push_call(unsigned int cpu, struct smp_call *c)
{
    struct percpu *pc = &percpu_area[cpu];
    unsigned long f = spin_lock_irqsave(&pc->call_lock);
    struct smp_call **pp = &pc->calls;

    if (pc->calls_closed) {
        spin_unlock_irqrestore(&pc->call_lock, f);
        return -XEN_EINVAL;
    }
    while (*pp)                         /* FIFO: callers expect order */
        pp = &(*pp)->next;
    c->next = NULL;
    *pp = c;
    kick_queued(cpu);
    spin_unlock_irqrestore(&pc->call_lock, f);
    return 0;
}

/* Calls leave the list one at a time, each marked running as it leaves
 * (smp_retire must find it queued or running).  A call that waits for a
 * call of its own with interrupts off serves ours meanwhile (wait_call):
 * this nests, and the outer mark comes back when the inner batch ends. */
void smp_call_interrupt(void)
{
    struct percpu *pc = this_cpu();
    smp_fn_t outer_fn;
    void *outer_arg;
    unsigned long f = spin_lock_irqsave(&pc->call_lock);

    outer_fn = pc->call_running_fn;
    outer_arg = pc->call_running_arg;
    for (;;) {
        struct smp_call *c = pc->calls;
        smp_fn_t fn;
        void *arg;
        bool heap;

        if (!c)
            break;
        pc->calls = c->next;
        fn = c->fn;
        arg = c->arg;
        heap = c->heap;
        pc->call_running_fn = fn;
        pc->call_running_arg = arg;
        spin_unlock_irqrestore(&pc->call_lock, f);
        fn(arg);
        if (heap)
            kfree(c);
        else
            __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
        f = spin_lock_irqsave(&pc->call_lock);
    }
    pc->call_running_fn = outer_fn;
    pc->call_running_arg = outer_arg;
    spin_unlock_irqrestore(&pc->call_lock, f);
}

/* Wait for a call we queued.  With interrupts off here, the target may be
 * waiting for a call of its own to us: serve ours while we wait.  And
 * with them off no tick of ours runs the upcall watch: look at the target
 * ourselves every tick's worth of waiting (the lost call of issue 13). */
static void wait_call(unsigned int cpu, struct smp_call *c)
{
    uint64_t next_look = time_now_ns() + TIMER_TICK_NS, now;

    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
        if (!(read_flags() & X86_EFLAGS_IF))
            smp_call_interrupt();
        cpu_relax();
        now = time_now_ns();
        if (now >= next_look) {
            upcall_watch_cpu(cpu, now);
            next_look = now + TIMER_TICK_NS;
        }
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
    if (push_call(cpu, c)) {
        if (c->heap)
            kfree(c);
        return -XEN_EINVAL;
    }
    if (wait)
        wait_call(cpu, c);
    return 0;
}

void smp_call_each(smp_fn_t fn, void *arg)
{
    struct smp_call calls[MAX_VCPUS];
    bool queued[MAX_VCPUS] = { false };
    unsigned int cpu, me = smp_processor_id();
    unsigned long f;

    for_each_online_cpu(cpu) {
        if (cpu == me)
            continue;
        calls[cpu] = (struct smp_call){ .fn = fn, .arg = arg };
        queued[cpu] = push_call(cpu, &calls[cpu]) == 0;
    }
    f = irq_save();
    fn(arg);
    irq_restore(f);
    /* Wait for exactly the calls queued: a vCPU that went down since did
     * not take one, and one queued runs before its vCPU goes down. */
    for (cpu = 0; cpu < MAX_VCPUS; cpu++)
        if (queued[cpu])
            wait_call(cpu, &calls[cpu]);
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
    if (pc->calls_closed) {             /* it went down since the check */
        spin_unlock_irqrestore(&pc->call_lock, f);
        return -XEN_EINVAL;
    }
    for (pp = &pc->work; *pp; pp = &(*pp)->next)
        ;
    *pp = w;
    kick_queued(cpu);
    spin_unlock_irqrestore(&pc->call_lock, f);
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

/*
 * A vCPU going down closes its queues in the step that takes the request,
 * and only while they are empty: work or a call queued before that runs
 * first (on this vCPU, as its owner expects), and one queued after it is
 * refused, so neither is left on a parked vCPU.  Work queued just before
 * the request used to be: cpu_down returned 0 with it not done
 * (hotplug.work_queued_before_down).
 */
bool smp_calls_close(bool (*take)(void))
{
    struct percpu *pc = this_cpu();
    unsigned long f = spin_lock_irqsave(&pc->call_lock);
    bool closed = !pc->calls && !pc->work && take();

    if (closed)
        pc->calls_closed = true;
    spin_unlock_irqrestore(&pc->call_lock, f);
    return closed;
}

void smp_calls_open(void)
{
    struct percpu *pc = this_cpu();
    unsigned long f = spin_lock_irqsave(&pc->call_lock);

    pc->calls_closed = false;
    spin_unlock_irqrestore(&pc->call_lock, f);
}

/* Run queued work, interrupts on.  Called by the idle loop.  Each item
 * is marked running as it leaves the list, under the lock (smp_retire). */
void idle_run_work(void)
{
    struct percpu *pc = this_cpu();

    for (;;) {
        unsigned long f = spin_lock_irqsave(&pc->call_lock);
        struct cpu_work *w = pc->work;

        if (w)
            pc->work = w->next;
        pc->work_running_fn = w ? w->fn : NULL;
        pc->work_running_arg = w ? w->arg : NULL;
        spin_unlock_irqrestore(&pc->call_lock, f);
        if (!w)
            return;
        w->fn(w->arg);
        __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    }
}

/*
 * Take back calls (the no-wait kind) and work queued to cpu as fn(arg)
 * that have not started, and wait for one that has.  For the self-test
 * runner: a case that returned early (a failed REQUIRE) may have left
 * them behind, pointing into its frame; they must neither run later on
 * memory that is another function's by then, nor still be running when
 * that memory is reused.  Calls queued with wait are left alone: their
 * owner is waiting for them.  Returns how many were taken back, or
 * -XEN_ETIMEDOUT if one is still running after timeout_ns.
 */
int smp_retire(unsigned int cpu, smp_fn_t fn, void *arg, uint64_t timeout_ns)
{
    struct percpu *pc;
    uint64_t until = time_now_ns() + timeout_ns;
    int taken = 0;
    struct smp_call **cp, *freed = NULL;
    struct cpu_work **wp;
    unsigned long f;

    if (cpu >= MAX_VCPUS)
        return 0;
    pc = &percpu_area[cpu];
    f = spin_lock_irqsave(&pc->call_lock);
    for (cp = &pc->calls; *cp;) {
        struct smp_call *c = *cp;

        if (c->heap && c->fn == fn && c->arg == arg) {
            *cp = c->next;
            c->next = freed;
            freed = c;
            taken++;
        } else {
            cp = &c->next;
        }
    }
    for (wp = &pc->work; *wp;) {
        if ((*wp)->fn == fn && (*wp)->arg == arg) {
            *wp = (*wp)->next;
            taken++;
        } else {
            wp = &(*wp)->next;
        }
    }
    spin_unlock_irqrestore(&pc->call_lock, f);
    while (freed) {                     /* kfree outside the leaf lock */
        struct smp_call *next = freed->next;
        kfree(freed);
        freed = next;
    }
    for (;;) {
        bool running;

        f = spin_lock_irqsave(&pc->call_lock);
        running = (pc->call_running_fn == fn && pc->call_running_arg == arg) ||
                  (pc->work_running_fn == fn && pc->work_running_arg == arg);
        spin_unlock_irqrestore(&pc->call_lock, f);
        if (!running)
            return taken;
        if (time_now_ns() > until)
            return -XEN_ETIMEDOUT;
        cpu_relax();
    }
}

/* Between reading a vCPU's call port and sending to it:
 * regress.kick_idle_vs_unbind takes that vCPU down here. */
DEFINE_INJECT(kick_before_send, "kick.before_send");

/* Wake the other online vCPUs' idle loops (xenstore watch events).  From
 * thread context, with no hold on the vCPUs it kicks: one of them may go
 * down meanwhile, so the read and the send share a read-side section
 * (as in ipi_try_send; the section is what DEAD waits for). */
unsigned int smp_kick_idle(void)
{
    unsigned int cpu, me = smp_processor_id(), failed = 0;

    /* A vCPU going down meanwhile has no idle loop to wake: ignore. */
    for_each_online_cpu(cpu) {
        struct read_section rs;
        evtchn_port_t port;

        if (cpu == me)
            continue;
        rs = quiesce_read_begin();
        port = ipi_call_port(cpu);
        inject(&inject_kick_before_send, cpu);
        if (port && evtchn_send(port))
            failed++;
        quiesce_read_end(rs);
    }
    return failed;
}

/* After the idle loop ran its work, before it looks for a down request:
 * work queued here, just before the request, must still run
 * (hotplug.work_queued_before_down). */
DEFINE_INJECT(idle_before_die_check, "idle.before_die_check");

void cpu_idle_loop(void)
{
    struct percpu *pc = this_cpu();

    for (;;) {
        suspend_point();                /* a suspend parks us here */
        idle_run_work();
        xs_run_watches();               /* fired xenstore watches */
        inject(&inject_idle_before_die_check, pc->cpu_id);
        if (__atomic_load_n(&pc->die_request, __ATOMIC_ACQUIRE) ==
            DIE_REQUESTED)
            cpu_die_self();             /* hotplug: returns if withdrawn */
        irq_disable();
        if (__atomic_load_n(&pc->work, __ATOMIC_ACQUIRE) ||
            __atomic_load_n(&pc->die_request, __ATOMIC_ACQUIRE) ==
                DIE_REQUESTED ||
            xs_watches_waiting())       /* a kick taken since the run */
            irq_enable();
        else
            cpu_halt();                 /* woken by any event */
    }
}
