/*
 * vCPU states and bringing vCPUs online (the PREPARE and BRINGUP steps of
 * concurrency.md section 5; tear-down comes with hotplug).
 *
 * Bug D's rule: the descriptor allocation lock is held across BRINGUP so
 * that nothing frees a descriptor under an affinity move while the set of
 * online vCPUs changes; therefore everything a vCPU needs bound (timer
 * VIRQ, IPIs) is bound in PREPARE, before the lock is taken, and the new
 * vCPU's own start-up path allocates nothing.
 */
#include <xenith/smp.h>
#include <xenith/boot.h>
#include <xenith/cpu.h>
#include <xenith/control.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/irq.h>
#include <xenith/mutex.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/time.h>
#include <xenith/xen.h>
#include <xen/errno.h>

/* How long cpu_up waits for a started vCPU to report online.  Under
 * nested TCG a vCPU can miss it; tests lower it to reach that path. */
uint64_t cpu_up_bound_ns = 5 * NSEC_PER_SEC;

static unsigned int domain_vcpus = 1;

static const char *const state_names[] = {
    [CPU_OFFLINE] = "offline", [CPU_PREPARING] = "preparing",
    [CPU_BOOTING] = "booting", [CPU_ONLINE] = "online",
    [CPU_DYING] = "dying", [CPU_DEAD] = "dead",
};

const char *cpu_state_name(enum cpu_state s)
{
    return s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

enum cpu_state cpu_state(unsigned int cpu)
{
    return __atomic_load_n(&percpu_area[cpu].state, __ATOMIC_ACQUIRE);
}

void cpu_set_state(unsigned int cpu, enum cpu_state s)
{
    __atomic_store_n(&percpu_area[cpu].state, s, __ATOMIC_RELEASE);
}

/*
 * A started vCPU and the controller waiting for it race on one transition
 * out of BOOTING: the vCPU's BOOTING -> ONLINE (cpu_arrive) against the
 * controller's BOOTING -> DEAD once its bound has passed (wait_online).
 * One compare-and-swap each, so exactly one wins.  A vCPU that loses parks
 * itself and never runs as online: before, a vCPU that arrived after the
 * controller had unbound its per-vCPU irqs marked itself online with no
 * IPI port (regress.up_timeout_late_vcpu).
 */
static bool booting_to(unsigned int cpu, enum cpu_state to)
{
    enum cpu_state from = CPU_BOOTING;

    return __atomic_compare_exchange_n(&percpu_area[cpu].state, &from, to,
                                       false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

bool cpu_arrive(unsigned int cpu)
{
    return booting_to(cpu, CPU_ONLINE);
}

bool cpu_online(unsigned int cpu)
{
    return cpu < MAX_VCPUS && cpu_state(cpu) == CPU_ONLINE;
}

unsigned int smp_domain_vcpus(void)
{
    return domain_vcpus;
}

unsigned int smp_nr_vcpus(void)
{
    unsigned int n = 0;

    for (unsigned int c = 0; c < domain_vcpus; c++)
        n += cpu_online(c);
    return n;
}

/* vcpu_info: the first 32 live in shared_info; beyond, Xen must be told
 * where (VCPUOP_register_vcpu_info, allowed only while the vCPU is down). */
static int vcpu_info_setup(unsigned int cpu)
{
    static struct vcpu_info extra[MAX_VCPUS] __aligned(64);
    struct percpu *pc = &percpu_area[cpu];
    struct vcpu_register_vcpu_info r;
    long rc;

    if (pc->vcpu_info)
        return 0;
    if (cpu < XEN_LEGACY_MAX_VCPUS) {
        pc->vcpu_info = &shared_info->vcpu_info[cpu];
        return 0;
    }
    r = (struct vcpu_register_vcpu_info){
        .mfn = (uint64_t)&extra[cpu] >> 12,
        .offset = (uint64_t)&extra[cpu] & 0xfff,
    };
    rc = hyp_vcpu_op(VCPUOP_register_vcpu_info, cpu, &r);
    if (rc)
        return rc;
    pc->vcpu_info = &extra[cpu];
    return 0;
}

/*
 * In the new domain after a resume: a vcpu_info beyond the legacy 32 is
 * where we registered it, which Xen forgot.  It may be told again only
 * while that vCPU is down, so an online one (parked) is taken down and up
 * around it; Xen keeps its registers meanwhile.  0 or -errno.
 */
int cpu_resume_vcpu_info(unsigned int cpu)
{
    struct percpu *pc = &percpu_area[cpu];
    bool other = cpu_online(cpu) && cpu != smp_processor_id();
    struct vcpu_register_vcpu_info r;
    long rc;

    if (cpu < XEN_LEGACY_MAX_VCPUS || !pc->vcpu_info)
        return 0;
    if (other && (rc = hyp_vcpu_op(VCPUOP_down, cpu, NULL)))
        return (int)rc;
    r = (struct vcpu_register_vcpu_info){
        .mfn = (uint64_t)pc->vcpu_info >> 12,
        .offset = (uint64_t)pc->vcpu_info & 0xfff,
    };
    rc = hyp_vcpu_op(VCPUOP_register_vcpu_info, cpu, &r);
    if (other) {
        long rc2 = hyp_vcpu_op(VCPUOP_up, cpu, NULL);
        if (!rc)
            rc = rc2;
    }
    return (int)rc;
}

/* true once the vCPU is online; false if the bound passed and it had
 * not arrived: then it is DEAD and will park itself if it ever does. */
static bool wait_online(unsigned int cpu)
{
    uint64_t until = time_now_ns() + cpu_up_bound_ns;

    while (cpu_state(cpu) != CPU_ONLINE) {
        if (time_now_ns() > until)
            return !booting_to(cpu, CPU_DEAD);  /* lost: it just arrived */
        cpu_relax();
    }
    return true;
}

/* A started vCPU we gave up on is still owed the time to arrive and park
 * (it needs its per-vCPU irqs until then); past this, its irqs stay bound
 * and it stays DEAD until a later cpu_up finds it parked. */
#define PARK_BOUND_NS (5 * NSEC_PER_SEC)

/* An error from VCPUOP_is_up counts as "may be up": keep waiting. */
static bool wait_parked(unsigned int cpu)
{
    uint64_t until = time_now_ns() + PARK_BOUND_NS;

    while (hyp_vcpu_op(VCPUOP_is_up, cpu, NULL) != 0) {
        if (time_now_ns() > until)
            return false;
        cpu_relax();
    }
    return true;
}

/* Set once the boot bring-up is done (mutant D acts after it only). */
static bool smp_booted;

/* PREPARE: outside the allocation lock, may allocate (bug D).  An
 * earlier offline or online that failed half-way may have left per-vCPU
 * irqs bound: free them first (the vCPU is down).  On failure the vCPU
 * is OFFLINE again. */
static long cpu_prepare(unsigned int cpu, bool bind_locked)
{
    long rc;

    cpu_set_state(cpu, CPU_PREPARING);
    if (percpu_area[cpu].virq_to_irq[VIRQ_TIMER] >= 0)
        events_dead_cpu(cpu);
    rc = vcpu_info_setup(cpu);
    if (!rc && !bind_locked)
        rc = events_prepare_cpu(cpu);
    if (rc)
        cpu_set_state(cpu, CPU_OFFLINE);
    return rc;
}

/* BRINGUP: allocation lock held; the vCPU allocates nothing. */
static long cpu_start(unsigned int cpu, bool bind_locked)
{
    long rc = 0;

    cpu_set_state(cpu, CPU_BOOTING);
    if (bind_locked)
        rc = events_prepare_cpu(cpu);   /* mutant D only */
    return rc ? rc : arch_vcpu_start(cpu);
}

/* A started (or half-started) vCPU that did not come online; outside the
 * allocation lock. */
static void cpu_up_failed(unsigned int cpu, long rc)
{
    pr_err("smp: vCPU%u did not come online: %ld\n", cpu, rc);
    cpu_set_state(cpu, CPU_DEAD);
    /* It may still arrive: free what it uses only once it is down. */
    if (!wait_parked(cpu)) {
        pr_err("smp: vCPU%u neither came online nor parked; its irqs "
               "stay bound until it does\n", cpu);
        return;
    }
    events_dead_cpu(cpu);
    cpu_set_state(cpu, CPU_OFFLINE);
}

int cpu_up(unsigned int cpu)
{
    enum cpu_state s = cpu_state(cpu);
#ifdef BUG_D_BIND_UNDER_ALLOC_LOCK
    /* Mutant D: the historic guest bound its per-vCPU irqs inside the
     * locked bring-up step.  Boot keeps PREPARE, so the kernel reaches
     * the self-tests and the regress case catches the run-time online. */
    bool bind_locked = smp_booted;
#else
    bool bind_locked = false;
#endif
    long rc;

    if (cpu == 0 || cpu >= domain_vcpus || (s != CPU_OFFLINE && s != CPU_DEAD))
        return -XEN_EINVAL;
    /* An earlier cpu_up gave up on it and it has not parked yet: its
     * per-vCPU irqs are still its own. */
    if (s == CPU_DEAD && hyp_vcpu_op(VCPUOP_is_up, cpu, NULL) != 0)
        return -XEN_EBUSY;

    rc = cpu_prepare(cpu, bind_locked);
    if (rc)
        return rc;
    mutex_lock(&irq_alloc_lock);
    rc = cpu_start(cpu, bind_locked);
    if (!rc && !wait_online(cpu))
        rc = -XEN_ETIMEDOUT;
    mutex_unlock(&irq_alloc_lock);
    if (rc)
        cpu_up_failed(cpu, rc);
    return rc;
}

/*
 * Boot: the same steps for every vCPU the toolstack wants, side by side
 * rather than one after another: all prepared, then all started under
 * one hold of the allocation lock, then each waited for.  The vCPUs run
 * their bring-up at once, so the wait is about the slowest one's, not
 * the sum of them all.  Returns how many came online.
 */
static unsigned int cpu_up_boot(void)
{
    static long rc[MAX_VCPUS];
    unsigned int up = 0;

    for (unsigned int cpu = 1; cpu < domain_vcpus; cpu++)
        rc[cpu] = control_vcpu_wanted(cpu) ? cpu_prepare(cpu, false)
                                           : -XEN_EPERM;
    boot_step("smp-prepare");
    mutex_lock(&irq_alloc_lock);
    for (unsigned int cpu = 1; cpu < domain_vcpus; cpu++)
        if (cpu_state(cpu) == CPU_PREPARING)
            rc[cpu] = cpu_start(cpu, false);
    boot_step("smp-start");
    for (unsigned int cpu = 1; cpu < domain_vcpus; cpu++)
        if (cpu_state(cpu) == CPU_BOOTING && !rc[cpu] && !wait_online(cpu))
            rc[cpu] = -XEN_ETIMEDOUT;
    mutex_unlock(&irq_alloc_lock);
    for (unsigned int cpu = 1; cpu < domain_vcpus; cpu++) {
        if (cpu_state(cpu) == CPU_ONLINE)
            up++;
        else if (cpu_state(cpu) != CPU_OFFLINE)
            cpu_up_failed(cpu, rc[cpu]);
    }
    return up;
}

void smp_init(void)
{
    unsigned int n = 0, up = 1;

    /* VCPUOP_is_up answers 0 or 1 for a vCPU the domain has and an error
     * past the last one. */
    while (n < MAX_VCPUS && hyp_vcpu_op(VCPUOP_is_up, n, NULL) >= 0)
        n++;
    domain_vcpus = n ? n : 1;
    /* A vCPU the toolstack wants offline (maxvcpus above vcpus) stays
     * offline until it asks (kernel/control.c). */
    up += cpu_up_boot();
    smp_booted = true;
    pr_info("smp: %u of %u vCPUs online\n", up, domain_vcpus);
}
