/*
 * Suspend and resume of the domain: `xl save` and `xl migrate` write
 * "suspend" to control/shutdown (kernel/control.c); `xl restore` and the
 * receiving end of a migration start a new domain from the saved one.
 *
 * The vCPU whose watch callback took the request leads:
 *  1. hotplug_lock: no vCPU comes or goes meanwhile;
 *  2. every other online vCPU parks at its next safe point
 *     (suspend_point: the idle loop's every turn, and any loop that keeps
 *     a vCPU busy), interrupts off, in thread context, so no upcall and
 *     no half-done bind, unbind or xenstore request is in flight; one that
 *     does not arrive within PARK_BOUND_NS cancels the suspend (the
 *     toolstack then times out) rather than suspend a vCPU mid-flight;
 *  3. interrupts off on the leader too; the console flushed; what is
 *     pending noted; every online vCPU's upcall masked;
 *  4. SCHEDOP_shutdown(SHUTDOWN_suspend).  It returns 1 when the suspend
 *     was cancelled (`xl save -c`, a failed save): the same domain goes
 *     on, nothing rebound.  It returns 0 in a new domain, where Xen knows
 *     none of what we told the old one:
 *  5. resume: shared info, vcpu_info beyond 32, runstate areas, the event
 *     ABI and upcall vectors, the console's new port; then, interrupts
 *     on, every VIRQ and IPI bound again on its irq (events/resume.c),
 *     the timer of each vCPU armed again, the parked vCPUs let go, what
 *     was pending raised again, xenstore attached again with its watches.
 * The parked vCPUs never go down: Xen saves and restores them mid-spin.
 */
#include <xenith/suspend.h>
#include <xenith/console.h>
#include <xenith/control.h>
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/mutex.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/pvlock.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/timer.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xenith/xenstore.h>
#include <xen/errno.h>
#include <xen/sched.h>

/* The self-test runner parks between cases: a long case holds a suspend
 * up to this, well inside the toolstack's own wait for the guest. */
#define PARK_BOUND_NS   (30 * NSEC_PER_SEC)

/* No lock of their own: the leader writes them under hotplug_lock, the
 * parked vCPUs read them and count themselves in and out atomically. */
int suspend_parking;                    /* atomic: park at a safe point */
static unsigned int parked;             /* atomic: vCPUs in the park */
static unsigned int resumes, cancels;   /* atomic */
static unsigned int leader = ~0u;       /* the vCPU that suspends */

unsigned int suspend_resumes(void)
{
    return __atomic_load_n(&resumes, __ATOMIC_ACQUIRE);
}

unsigned int suspend_cancels(void)
{
    return __atomic_load_n(&cancels, __ATOMIC_ACQUIRE);
}

/* A parked vCPU let go in a new domain: what only it can do for itself.
 * Its vcpu_info is where it was (legacy slot or registered again). */
static void resume_self(void)
{
    this_cpu()->vcpu_info->evtchn_upcall_mask = 0;
    timer_cpu_start();                  /* Xen lost its singleshot timer */
}

void suspend_park_slow(void)
{
    unsigned int gen = suspend_resumes();
    unsigned long f;

    if (smp_processor_id() == __atomic_load_n(&leader, __ATOMIC_ACQUIRE))
        return;
    f = irq_save();
    __atomic_fetch_add(&parked, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&suspend_parking, __ATOMIC_ACQUIRE)) {
        /* Overcommitted vCPUs spinning here would take the pCPU from the
         * leader: give it back on every turn (a failed yield spins). */
        if (hyp_sched_op(SCHEDOP_yield, NULL))
            cpu_relax();
    }
    if (suspend_resumes() != gen)
        resume_self();
    __atomic_fetch_sub(&parked, 1, __ATOMIC_ACQ_REL);
    irq_restore(f);
}

static unsigned int online_others(void)
{
    return smp_nr_vcpus() - 1;
}

static bool wait_parked(unsigned int want)
{
    uint64_t until = time_now_ns() + PARK_BOUND_NS;

    while (__atomic_load_n(&parked, __ATOMIC_ACQUIRE) != want) {
        if (time_now_ns() > until)
            return false;
        smp_kick_idle();                /* an idle vCPU passes its point */
        mdelay(1);
    }
    return true;
}

static void release(void)
{
    uint64_t until = time_now_ns() + PARK_BOUND_NS;

    __atomic_store_n(&suspend_parking, 0, __ATOMIC_RELEASE);
    while (__atomic_load_n(&parked, __ATOMIC_ACQUIRE)) {
        if (time_now_ns() > until) {
            pr_warn("suspend: %u vCPUs still leaving the park after 30 s\n",
                    __atomic_load_n(&parked, __ATOMIC_ACQUIRE));
            break;
        }
        cpu_relax();
    }
    __atomic_store_n(&leader, ~0u, __ATOMIC_RELEASE);
}

/* Step 5's first half: leader, interrupts off, the others parked. */
static void resume_early(void)
{
    xen_resume();
    for (unsigned int c = 0; c < MAX_VCPUS; c++) {
        int rc = cpu_resume_vcpu_info(c);
        if (rc)
            panic("suspend: vCPU%u's vcpu_info not registered again: %d", c,
                  rc);
        if (cpu_online(c))
            pvlock_resume_cpu(c);
    }
    smp_resume_forget();
    events_resume_early();
    console_resume();
}

/* Step 5's second half: interrupts on, the others still parked. */
static void resume_late(uint64_t before_ns)
{
    uint64_t behind = time_resume(before_ns);
    unsigned int replayed;
    int rc;

    events_resume();
    this_cpu()->vcpu_info->evtchn_upcall_mask = 0;
    timer_cpu_start();
    __atomic_fetch_add(&resumes, 1, __ATOMIC_ACQ_REL);
    release();
    replayed = events_resume_replay();
    rc = xenstore_resume();
    if (rc)
        pr_err("suspend: xenstore not attached again: %d\n", rc);
    control_resume();
    pr_info("suspend: resumed in a new domain (%u events pending at "
            "suspend raised again%s)\n", replayed,
            behind ? "; Xen's clock was behind: held until it catches up"
                   : "");
}

int suspend_domain(void)
{
    unsigned int others;
    uint64_t before;
    unsigned long f;
    long rc;

    mutex_lock(&hotplug_lock);
    others = online_others();
    __atomic_store_n(&leader, smp_processor_id(), __ATOMIC_RELEASE);
    __atomic_store_n(&suspend_parking, 1, __ATOMIC_RELEASE);
    if (!wait_parked(others)) {
        pr_err("suspend: only %u of %u other vCPUs reached a safe point in "
               "30 s: not suspending\n",
               __atomic_load_n(&parked, __ATOMIC_ACQUIRE), others);
        release();
        mutex_unlock(&hotplug_lock);
        return -XEN_EBUSY;
    }
    pr_info("suspend: %u other vCPUs parked; suspending\n", others);
    (void)console_flush();
    f = irq_save();
    events_suspend();
    before = time_now_ns();
    rc = xen_shutdown(SHUTDOWN_suspend);
    if (rc == 0 && events_same_domain()) {
        pr_warn("suspend: the suspend returned 0, but in the same domain: "
                "taken as cancelled\n");
        rc = 1;
    }
    if (rc == 0) {
        resume_early();
        irq_restore(f);
        resume_late(before);
    } else {
        events_suspend_cancel();
        irq_restore(f);
        __atomic_fetch_add(&cancels, 1, __ATOMIC_ACQ_REL);
        release();
        if (rc > 0)
            pr_info("suspend: cancelled; the same domain goes on\n");
        else
            pr_err("suspend: SCHEDOP_shutdown(suspend) failed: %ld\n", rc);
    }
    mutex_unlock(&hotplug_lock);
    return rc < 0 ? (int)rc : 0;
}
