/*
 * Starting a vCPU (PVH): Xen creates every vCPU of the domain but runs
 * only vCPU0.  Another one starts from a vcpu_hvm_context in 64-bit mode
 * (VCPUOP_initialise, once per vCPU), on our page tables, at ap_entry with
 * its stack and its number in %rdi; VCPUOP_up then lets it run.  A vCPU
 * brought down later (VCPUOP_down) keeps its context: VCPUOP_up alone
 * restarts it at the same entry.
 *
 * Every vCPU's stacks are static, each with an unmapped guard page below
 * (arch/x86/paging.c asks smp_stack_guard()), so bringing a vCPU up or
 * down never allocates: the hotplug paths must not (bug D).
 */
#include <xenith/smp.h>
#include <xenith/apic.h>
#include <xenith/asm.h>
#include <xenith/events.h>
#include <xenith/hypercall.h>
#include <xenith/inject.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/timer.h>
#include <xenith/traps.h>
#include <xenith/x86.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/errno.h>

struct vcpu_stacks {
    uint8_t guard0[PAGE_SIZE];
    uint8_t kernel[BOOT_STACK_SIZE];
    uint8_t guard1[PAGE_SIZE];
    uint8_t ist_df[BOOT_IST_SIZE];
    uint8_t guard2[PAGE_SIZE];
    uint8_t ist_nmi[BOOT_IST_SIZE];
};

/* vCPU n > 0 uses ap_stacks[n - 1]; vCPU0 has head.S's boot stacks.
 * Not zeroed by head.S (arch/x86/link.ld says why). */
static struct vcpu_stacks ap_stacks[MAX_VCPUS - 1]
    __aligned(PAGE_SIZE) __section(".bss.nozero");
static bool vcpu_initialised[MAX_VCPUS];

/* A started vCPU, ready, about to report online: regress.up_timeout_late_vcpu
 * holds it here until its controller has given up on it. */
DEFINE_INJECT(ap_before_online, "ap.before_online");

void ap_entry(void);                    /* arch/x86/entry.S */
void ap_main(unsigned int cpu);

bool smp_stack_guard(paddr_t pa)
{
    paddr_t base = (paddr_t)ap_stacks, off;

    if (pa < base || pa >= base + sizeof(ap_stacks))
        return false;
    off = (pa - base) % sizeof(struct vcpu_stacks);
    return off == offsetof(struct vcpu_stacks, guard0) ||
           off == offsetof(struct vcpu_stacks, guard1) ||
           off == offsetof(struct vcpu_stacks, guard2);
}

static void ap_stack_table(unsigned int cpu, struct stack s[NR_STACKS])
{
    struct vcpu_stacks *st = &ap_stacks[cpu - 1];

    s[STACK_KERNEL] = (struct stack){ (uintptr_t)st->kernel,
                                      (uintptr_t)st->kernel + BOOT_STACK_SIZE };
    s[STACK_IST_DF] = (struct stack){ (uintptr_t)st->ist_df,
                                      (uintptr_t)st->ist_df + BOOT_IST_SIZE };
    s[STACK_IST_NMI] = (struct stack){ (uintptr_t)st->ist_nmi,
                                       (uintptr_t)st->ist_nmi + BOOT_IST_SIZE };
}

/* First code in C on a new vCPU, on its own stack, interrupts off. */
void ap_main(unsigned int cpu)
{
    struct stack stacks[NR_STACKS];

    ap_stack_table(cpu, stacks);
    percpu_init(cpu, stacks);
    traps_load();
    apic_cpu_init();
    events_cpu_start();
    timer_cpu_start();
    smp_calls_open();                   /* closed when it last went down */
    inject(&inject_ap_before_online, cpu);
    if (!cpu_arrive(cpu)) {
        /* Too late: cpu_up gave up on us and waits for us to go down
         * before it unbinds our timer, IPIs and kicker.  No tick while
         * parked; interrupts stay off. */
        timer_quiet_self(true);
        arch_vcpu_park();
    }
#ifdef SCENARIO_15_STALE_EVENTS_CLEARED_AT_ONLINE
    /* The mistake: a vCPU coming up drops what is pending as stale, and
     * with it an event raised since its upcall vector was set. */
    __atomic_store_n(&this_cpu()->vcpu_info->evtchn_pending_sel, 0,
                     __ATOMIC_SEQ_CST);
#endif
    irq_enable();
    cpu_idle_loop();
}

/* Start vCPU cpu (> 0) running at ap_entry.  0 or -errno from Xen. */
long arch_vcpu_start(unsigned int cpu)
{
    struct vcpu_hvm_context ctx = { .mode = VCPU_HVM_MODE_64B };
    struct vcpu_hvm_x86_64 *r = &ctx.cpu_regs.x86_64;
    struct stack stacks[NR_STACKS];
    long rc;

    BUG_ON(cpu == 0 || cpu >= MAX_VCPUS);
    if (!vcpu_initialised[cpu]) {
        ap_stack_table(cpu, stacks);
        r->rip = (uint64_t)ap_entry;
        r->rsp = stacks[STACK_KERNEL].top;
        r->rdi = cpu;
        r->rflags = 0x2;                /* reserved bit; interrupts off */
        r->cr0 = read_cr0();
        r->cr3 = read_cr3();
        r->cr4 = read_cr4();
        r->efer = rdmsr(MSR_EFER);
        rc = hyp_vcpu_op(VCPUOP_initialise, cpu, &ctx);
        /* -EEXIST: a restored domain kept a down vCPU's context after
         * all (smp_resume_forget). */
        if (rc && rc != -XEN_EEXIST)
            return rc;
        vcpu_initialised[cpu] = true;
    }
    return hyp_vcpu_op(VCPUOP_up, cpu, NULL);
}

/* In the new domain after a resume: an offline vCPU's context, left in
 * its VCPUOP_down, is not saved with an HVM domain, so its next cpu_up
 * starts it afresh. */
void smp_resume_forget(void)
{
    for (unsigned int cpu = 1; cpu < MAX_VCPUS; cpu++)
        if (!cpu_online(cpu))
            vcpu_initialised[cpu] = false;
}

/*
 * Hotplug: this vCPU goes down (VCPUOP_down on itself, interrupts off).
 * Xen parks it inside the hypercall; VCPUOP_up later returns from it, and
 * the vCPU starts its bring-up path over on a fresh stack, as at first
 * boot: nothing of the old call chain (the idle loop) is resumed.
 */
void arch_vcpu_park(void)
{
    unsigned int cpu = smp_processor_id();
    struct stack stacks[NR_STACKS];
    long rc = hyp_vcpu_op(VCPUOP_down, cpu, NULL);

    if (rc)
        panic("hotplug: VCPUOP_down on vCPU%u failed: %ld", cpu, rc);
    ap_stack_table(cpu, stacks);
    __asm__ __volatile__("mov %0, %%rsp\n\t"
                         "xor %%ebp, %%ebp\n\t"
                         "call ap_main\n\t"
                         "ud2"
                         :: "r"(stacks[STACK_KERNEL].top), "D"(cpu)
                         : "memory");
    __builtin_unreachable();
}
