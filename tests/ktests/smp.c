/*
 * SMP: every vCPU the domain has is online and running xenith; IPIs go
 * there and back; a call reaches every online vCPU exactly once.
 */
#include <xenith/selftest.h>
#include <xenith/cmdline.h>
#include <xenith/control.h>
#include <xenith/cpu.h>
#include <xenith/hypercall.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xenith/x86.h>

#define BOUND_NS test_bound_ns(2 * NSEC_PER_SEC)

struct who {
    unsigned int cpu_id[MAX_VCPUS];
    uint32_t apic_id[MAX_VCPUS];
    bool irqs_off[MAX_VCPUS];
    unsigned int runs[MAX_VCPUS];
};

static void record_who(void *arg)
{
    struct who *w = arg;
    unsigned int me = smp_processor_id();

    w->cpu_id[me] = this_cpu()->cpu_id;
    w->apic_id[me] = this_cpu()->apic_id;
    w->irqs_off[me] = !(read_flags() & X86_EFLAGS_IF);
    __atomic_fetch_add(&w->runs[me], 1, __ATOMIC_RELAXED);
}

SELFTEST(smp, all_vcpus_online)
{
    unsigned int n = smp_domain_vcpus(), off = 0;

    for (unsigned int cpu = 0; cpu < n; cpu++) {
        long up = hyp_vcpu_op(VCPUOP_is_up, cpu, NULL);
        struct who w = { 0 };

        /* offline=N took it down at boot, or the toolstack wants it
         * down (maxvcpus above vcpus): it must really be down. */
        if (cpumask_test(&boot_options.offline, cpu) ||
            !control_vcpu_wanted(cpu)) {
            off++;
            CHECK(cpu_state(cpu) == CPU_OFFLINE && up == 0);
            continue;
        }

        if (cpu_state(cpu) != CPU_ONLINE || up != 1) {
            test_diag("vCPU%u: state %s, VCPUOP_is_up %ld", cpu,
                      cpu_state_name(cpu_state(cpu)), up);
            CHECK(cpu_state(cpu) == CPU_ONLINE && up == 1);
            continue;
        }
        REQUIRE(smp_call_on(cpu, record_who, &w, true) == 0);
        CHECK(w.runs[cpu] == 1);
        CHECK(w.cpu_id[cpu] == cpu);
        CHECK(percpu_area[cpu].vcpu_info != NULL);
    }
    CHECK(smp_nr_vcpus() == n - off);
    test_diag("%u of %u vCPUs online%s", smp_nr_vcpus(), n,
              off ? " (the rest offline by offline= or the toolstack)" : "");
    return TEST_RESULT();
}

struct pingpong {
    unsigned int from;
    int pongs;                  /* atomic */
    uint64_t sent_ns;
    uint64_t worst_ns;
};

static void pong(void *arg)
{
    struct pingpong *p = arg;
    uint64_t rtt = time_now_ns() - p->sent_ns;

    if (rtt > p->worst_ns)
        p->worst_ns = rtt;
    __atomic_fetch_add(&p->pongs, 1, __ATOMIC_RELEASE);
}

static void ping(void *arg)
{
    struct pingpong *p = arg;

    /* From the target's IPI handler, an IPI back: no waiting there. */
    if (smp_call_on(p->from, pong, p, false))
        __atomic_store_n(&p->pongs, -1000, __ATOMIC_RELEASE);
}

SELFTEST(smp, ipi_roundtrip, .min_vcpus = 2)
{
    /* Static: a pong may come back after the case gave up waiting. */
    static struct pingpong p;
    const int rounds = 20;
    unsigned int cpu;

    p = (struct pingpong){ .from = smp_processor_id() };

    for_each_online_cpu(cpu) {
        if (cpu == p.from)
            continue;
        for (int i = 0; i < rounds; i++) {
            int want = __atomic_load_n(&p.pongs, __ATOMIC_ACQUIRE) + 1;
            uint64_t until = time_now_ns() + BOUND_NS;

            p.sent_ns = time_now_ns();
            REQUIRE(test_call_async(cpu, ping, &p) == 0);
            while (__atomic_load_n(&p.pongs, __ATOMIC_ACQUIRE) < want &&
                   time_now_ns() < until)
                cpu_relax();
            if (__atomic_load_n(&p.pongs, __ATOMIC_ACQUIRE) != want) {
                test_diag("vCPU%u: no reply to ping %d within %lu ms", cpu,
                          i, BOUND_NS / NSEC_PER_MSEC);
                return TEST_FAIL;
            }
        }
    }
    test_diag("%d round trips per vCPU, worst %lu us", rounds,
              p.worst_ns / NSEC_PER_USEC);
    return TEST_PASS;
}

SELFTEST(smp, call_on_each)
{
    struct who w = { 0 };
    unsigned int cpu, n = 0;

    smp_call_each(record_who, &w);
    for (cpu = 0; cpu < MAX_VCPUS; cpu++) {
        if (cpu_online(cpu)) {
            n++;
            CHECK(w.runs[cpu] == 1);
            CHECK(w.irqs_off[cpu]);
        } else {
            CHECK(w.runs[cpu] == 0);
        }
    }
    CHECK(n == smp_nr_vcpus());
    return TEST_RESULT();
}
