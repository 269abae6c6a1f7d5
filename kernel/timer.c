/*
 * Per-vCPU timers (see include/xenith/timer.h).  Each vCPU keeps a sorted
 * list under its timer_lock (a leaf lock, irqs off) and tells Xen the
 * earliest deadline, or the next housekeeping tick, whichever is first.
 */
#include <xenith/timer.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/selftest.h>
#include <xenith/smp.h>
#include <xenith/x86.h>
#include <xen/errno.h>

static uint64_t ticks[MAX_VCPUS];

/*
 * The housekeeping tick's period: TIMER_TICK_NS, once more per 8 vCPUs
 * online.  Each tick of an idle vCPU costs a wake-up through Xen; 64
 * vCPUs ticking every 100 ms on 2 pCPUs under TCG left a busy vCPU a
 * tenth of a pCPU or less (time.monotonic: 20000 clock reads, 1 s alone,
 * took 8 to 78 s).  The watchdog's bounds grow by the same factor
 * (test_bound_scale), and with that many vCPUs looking, every one is
 * still looked at by the upcall watch many times a second.
 */
static uint64_t tick_ns(void)
{
    return TIMER_TICK_NS * MAX(1u, (smp_nr_vcpus() + 7) / 8);
}

uint64_t timer_ticks(unsigned int cpu)
{
    return __atomic_load_n(&ticks[cpu], __ATOMIC_RELAXED);
}

/* Tell Xen when to raise VIRQ_TIMER next; called with timer_lock held. */
static void program(struct percpu *pc, uint64_t now)
{
    uint64_t next = now + tick_ns();
    struct vcpu_set_singleshot_timer t;
    long rc;

    if (pc->timer_quiet && !pc->timers)
        return;                         /* no tick wanted, nothing due */
    if (pc->timers && pc->timers->expires < next)
        next = pc->timers->expires;
    if (next <= now)
        next = now + 1000;
    if (pc->timer_programmed && pc->timer_programmed <= next &&
        pc->timer_programmed > now)
        return;                         /* an earlier one is coming */
    t = (struct vcpu_set_singleshot_timer){ .timeout_abs_ns = next };
    rc = hyp_vcpu_op(VCPUOP_set_singleshot_timer, pc->cpu_id, &t);
    if (rc)
        panic("timer: VCPUOP_set_singleshot_timer on vCPU%u failed: %ld",
              pc->cpu_id, rc);
    pc->timer_programmed = next;
}

void timer_cpu_start(void)
{
    struct percpu *pc = this_cpu();
    unsigned long f;
    long rc;

    /* Xen may give a vCPU a periodic timer; xenith only wants its own
     * deadlines.  -ENOSYS: there is none to stop. */
    rc = hyp_vcpu_op(VCPUOP_stop_periodic_timer, pc->cpu_id, NULL);
    if (rc && rc != -XEN_ENOSYS)
        pr_warn("timer: VCPUOP_stop_periodic_timer on vCPU%u: %ld\n",
                pc->cpu_id, rc);
    f = spin_lock_irqsave(&pc->timer_lock);
    pc->timer_programmed = 0;
    pc->timer_quiet = false;            /* back from hotplug: tick again */
    program(pc, time_now_ns());
    spin_unlock_irqrestore(&pc->timer_lock, f);
}

/*
 * Stop this vCPU's housekeeping tick (its own timers still fire): for a
 * vCPU about to go down, and for tests that must know nothing but the
 * event they wait for can wake a vCPU sleeping in SCHEDOP_poll.  Another
 * vCPU's tick still runs the self-test watchdog.
 */
void timer_quiet_self(bool quiet)
{
    struct percpu *pc = this_cpu();
    unsigned long f = spin_lock_irqsave(&pc->timer_lock);
    long rc;

    pc->timer_quiet = quiet;
    if (quiet && !pc->timers) {
        rc = hyp_vcpu_op(VCPUOP_stop_singleshot_timer, pc->cpu_id, NULL);
        if (rc)
            panic("timer: VCPUOP_stop_singleshot_timer on vCPU%u: %ld",
                  pc->cpu_id, rc);
        pc->timer_programmed = 0;
    } else if (!quiet) {
        pc->timer_programmed = 0;
        program(pc, time_now_ns());
    }
    spin_unlock_irqrestore(&pc->timer_lock, f);
}

void timer_interrupt(int irq, void *data)
{
    struct percpu *pc = this_cpu();
    uint64_t now = time_now_ns();

    __atomic_fetch_add(&ticks[pc->cpu_id], 1, __ATOMIC_RELAXED);
    spin_lock(&pc->timer_lock);
    pc->timer_programmed = 0;
    while (pc->timers && pc->timers->expires <= now) {
        struct timer *t = pc->timers;

        pc->timers = t->next;
        t->armed = false;
        spin_unlock(&pc->timer_lock);
        t->fn(t);
        spin_lock(&pc->timer_lock);
    }
    spin_unlock(&pc->timer_lock);

    selftest_watchdog_tick();
    upcall_watch_tick(time_now_ns());

    spin_lock(&pc->timer_lock);
    program(pc, time_now_ns());
    spin_unlock(&pc->timer_lock);
}

void timer_arm(struct timer *t, uint64_t delay_ns)
{
    struct percpu *pc = this_cpu();
    struct timer **pp;
    unsigned long f = spin_lock_irqsave(&pc->timer_lock);

    BUG_ON(t->armed);
    t->expires = time_now_ns() + delay_ns;
    t->cpu = pc->cpu_id;
    t->armed = true;
    for (pp = &pc->timers; *pp && (*pp)->expires <= t->expires;
         pp = &(*pp)->next)
        ;
    t->next = *pp;
    *pp = t;
    program(pc, time_now_ns());
    spin_unlock_irqrestore(&pc->timer_lock, f);
}

bool timer_cancel(struct timer *t)
{
    struct percpu *pc = &percpu_area[t->cpu];
    unsigned long f = spin_lock_irqsave(&pc->timer_lock);
    bool was = t->armed;

    for (struct timer **pp = &pc->timers; was && *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->armed = false;
    spin_unlock_irqrestore(&pc->timer_lock, f);
    return was;
}

static void wake(struct timer *t)
{
    __atomic_store_n((int *)t->data, 1, __ATOMIC_RELEASE);
}

void sleep_ns(uint64_t ns)
{
    struct timer t = { .fn = wake };
    int done = 0;

    BUG_ON(!(read_flags() & X86_EFLAGS_IF));
    t.data = &done;
    timer_arm(&t, ns);
    irq_disable();
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        cpu_halt();                     /* sti; hlt: no lost wake-up */
        irq_disable();
    }
    irq_enable();
}
