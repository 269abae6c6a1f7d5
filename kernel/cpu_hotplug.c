/*
 * vCPU hotplug at run time: take any vCPU but vCPU0 offline and bring it
 * back (concurrency.md section 5).
 *
 *   down: ONLINE -> DYING   no new calls, work or affinity may target it
 *         [irq_alloc_lock]  every irq that targets it moves to vCPU0;
 *                           the vCPU, from its idle loop with interrupts
 *                           off, stops its tick and calls VCPUOP_down on
 *                           itself; we wait until VCPUOP_is_up says no
 *         -> DEAD           lock dropped: unbind its timer VIRQ, IPIs and
 *                           kicker (allocation and freeing happen only
 *                           outside the lock: bug D)
 *         -> OFFLINE
 *   up:   cpu_up() (kernel/cpu.c): PREPARE binds outside the lock,
 *         BRINGUP holds it across VCPUOP_up; the parked vCPU returns from
 *         its VCPUOP_down and runs its bring-up path again on a fresh
 *         stack (arch_vcpu_park).
 *
 * hotplug_lock (a mutex) serialises whole up/down operations, and a
 * whole suspend and resume (kernel/suspend.c: the set of online vCPUs
 * must not change while they are parked and rebound); it is the
 * outermost lock of all (taken before the evtchn device, xenstore,
 * mapping and allocation locks, events/bind.c).  The allocation lock is
 * held only across the steps that change which vCPUs run.
 */
#include <xenith/lockorder.h>
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/irq.h>
#include <xenith/mutex.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/x86.h>
#include <xen/errno.h>

#define DOWN_BOUND_NS (5 * NSEC_PER_SEC)
/* How long cpu_down waits for the vCPU to take its request before it
 * withdraws it; tests lower it to reach the cancel path. */
uint64_t cpu_down_bound_ns = DOWN_BOUND_NS;

struct mutex hotplug_lock = MUTEX_INIT_RANKED(RANK_HOTPLUG, "hotplug_lock");

/* Inside the locked tear-down, irqs moved, vCPU not yet told to stop:
 * regress.hotplug_alloc_lock frees an irq here (scenario 10). */
DEFINE_INJECT(hotplug_after_move, "hotplug.after_move");
/* On the dying vCPU, interrupts off, just before VCPUOP_down: an event
 * sent to it now stays on its queue (regress.fifo_close_linked_on_dead_vcpu). */
DEFINE_INJECT(hotplug_die_irqs_off, "hotplug.die_irqs_off");

static bool take_die_request(void)
{
    int req = DIE_REQUESTED;

    return __atomic_compare_exchange_n(&this_cpu()->die_request, &req,
                                       DIE_TAKEN, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

/* On the dying vCPU, from its idle loop: nothing of ours runs on it any
 * more once this returns from VCPUOP_down (it never returns otherwise:
 * arch_vcpu_park restarts the bring-up path). */
void cpu_die_self(void)
{
    this_cpu()->die_entries++;
    /* Not yet if work or calls are queued (the idle loop runs them and
     * comes back); not at all if the controller withdrew the request
     * meanwhile. */
    if (!smp_calls_close(take_die_request))
        return;
    irq_disable();
    timer_quiet_self(true);
    events_cpu_stopping();
    inject(&inject_hotplug_die_irqs_off, this_cpu()->cpu_id);
    arch_vcpu_park();
}

static bool wait_down(unsigned int cpu, uint64_t bound_ns)
{
    uint64_t until = time_now_ns() + bound_ns;

    while (hyp_vcpu_op(VCPUOP_is_up, cpu, NULL) != 0) {
        if (time_now_ns() > until)
            return false;
        cpu_relax();
    }
    return true;
}

/* Ask the vCPU to go down and wait; on a timeout, withdraw the request
 * if the vCPU has not taken it yet.  0, or -ETIMEDOUT with the vCPU still
 * running.  Withdrawn means DIE_NONE again: a distinct "cancelled" value
 * stayed non-zero, and the vCPU's idle loop went into cpu_die_self on
 * every pass from then on (hotplug.cancelled_down_quiet). */
static int stop_vcpu(unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];
    int req = DIE_REQUESTED;

    __atomic_store_n(&pc->die_request, DIE_REQUESTED, __ATOMIC_RELEASE);
    ipi_send(cpu, IPI_CALL);            /* out of safe_halt */
    if (wait_down(cpu, cpu_down_bound_ns))
        return 0;
    if (__atomic_compare_exchange_n(&pc->die_request, &req, DIE_NONE,
                                    false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return -XEN_ETIMEDOUT;
    /* It took the request: it is on its way down. */
    if (!wait_down(cpu, DOWN_BOUND_NS))
        panic("hotplug: vCPU%u took its down request but is still up",
              cpu);
    return 0;
}

/*
 * vCPUs a self-test case uses (test_pick_cpus, kernel/selftest.c): the
 * toolstack's requests for them (cpu_toolstack_set) are refused until
 * the case ends, so a case never finds the vCPU it picked gone, or back
 * when it took it down itself.  Written and read under hotplug_lock:
 * a request either ran before the pin (the pin then sees the vCPU
 * offline and picks another) or sees the pin.
 */
static struct cpumask pinned;

static int do_cpu_down(unsigned int cpu);

bool cpu_pin(unsigned int cpu)
{
    bool ok;

    mutex_lock(&hotplug_lock);
    ok = cpu < MAX_VCPUS && cpu_state(cpu) == CPU_ONLINE;
    if (ok)
        cpumask_set(&pinned, cpu);
    mutex_unlock(&hotplug_lock);
    return ok;
}

void cpu_unpin_all(void)
{
    mutex_lock(&hotplug_lock);
    pinned = (struct cpumask){ { 0 } };
    mutex_unlock(&hotplug_lock);
}

int cpu_toolstack_set(unsigned int cpu, bool up)
{
    int rc;

    if (cpu == 0 || cpu >= smp_domain_vcpus())
        return -XEN_EINVAL;
    mutex_lock(&hotplug_lock);
    if (cpumask_test(&pinned, cpu))
        rc = -XEN_EBUSY;
    else
        rc = up ? cpu_up(cpu) : do_cpu_down(cpu);
    mutex_unlock(&hotplug_lock);
    return rc;
}

int cpu_down(unsigned int cpu)
{
    int rc;

    mutex_lock(&hotplug_lock);
    rc = do_cpu_down(cpu);
    mutex_unlock(&hotplug_lock);
    return rc;
}

/* hotplug_lock held. */
static int do_cpu_down(unsigned int cpu)
{
    unsigned int moved;
    int rc;

    if (cpu == 0 || cpu >= smp_domain_vcpus())
        return -XEN_EINVAL;
    if (cpu == smp_processor_id())
        return -XEN_EBUSY;              /* a controller must stay up */
    if (cpu_state(cpu) != CPU_ONLINE)
        return -XEN_EINVAL;
    cpu_set_state(cpu, CPU_DYING);

    mutex_lock(&irq_alloc_lock);
    moved = irq_move_all_off(cpu, 0);
    inject(&inject_hotplug_after_move, cpu);
    rc = stop_vcpu(cpu);
    mutex_unlock(&irq_alloc_lock);

    if (rc) {
        pr_err("hotplug: vCPU%u did not go down: %d\n", cpu, rc);
        cpu_set_state(cpu, CPU_ONLINE);  /* its irqs stay on vCPU0 */
        return rc;
    }
    cpu_set_state(cpu, CPU_DEAD);
    events_dead_cpu(cpu);               /* outside the lock: bug D */
    __atomic_store_n(&percpu_area[cpu].die_request, DIE_NONE,
                     __ATOMIC_RELEASE);
    cpu_set_state(cpu, CPU_OFFLINE);
    pr_debug("hotplug: vCPU%u offline, %u irqs moved to vCPU0\n", cpu, moved);
    return 0;
}

int cpu_online_again(unsigned int cpu)
{
    int rc;

    mutex_lock(&hotplug_lock);
    rc = cpu_up(cpu);
    mutex_unlock(&hotplug_lock);
    return rc;
}
