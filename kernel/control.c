/*
 * What the toolstack asks of the domain through xenstore:
 *  - control/shutdown ("poweroff", "reboot", "halt"; `xl shutdown`,
 *    `xl reboot`): acknowledged by clearing the node; the self-test runner
 *    finishes the test it is in and the domain shuts down with that
 *    reason;
 *  - control/shutdown = "suspend" (`xl save`, `xl migrate`): acknowledged,
 *    then the domain suspends right here (kernel/suspend.c) and this
 *    callback returns once it runs again, in a new domain or the same;
 *  - cpu/N/availability ("online", "offline"; `xl vcpu-set`): vCPU N goes
 *    down or comes up through kernel/cpu_hotplug.c;
 * and the feature nodes the toolstack reads before asking
 * (control/feature-poweroff, control/feature-reboot).
 * Watch callbacks run in thread context (drivers/xenstore.c).
 */
#include <xenith/control.h>
#include <xenith/cpu.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xenith/string.h>
#include <xenith/suspend.h>
#include <xenith/xenstore.h>
#include <xen/errno.h>
#include <xen/sched.h>

static int shutdown_asked = -1;         /* atomic: SHUTDOWN_*, -1 none */
static unsigned int toolstack_changes;  /* atomic: vCPUs moved by it */

int control_shutdown_requested(void)
{
    return __atomic_load_n(&shutdown_asked, __ATOMIC_ACQUIRE);
}

void control_shutdown_forget(void)
{
    __atomic_store_n(&shutdown_asked, -1, __ATOMIC_RELEASE);
}

unsigned int control_vcpu_changes(void)
{
    return __atomic_load_n(&toolstack_changes, __ATOMIC_ACQUIRE);
}

static void shutdown_changed(struct xs_watch *w, const char *path)
{
    static const struct { const char *word; int reason; } asks[] = {
        { "poweroff", SHUTDOWN_poweroff }, { "halt", SHUTDOWN_poweroff },
        { "reboot", SHUTDOWN_reboot },
    };
    char v[32];
    long n = xs_read(0, "control/shutdown", v, sizeof(v));

    if (n <= 0)
        return;                 /* the watch's first firing, or our ack */
    if (!strcmp(v, "suspend")) {
        if (xs_write(0, "control/shutdown", ""))
            pr_warn("control: could not acknowledge control/shutdown\n");
        pr_info("control: the toolstack asks us to suspend\n");
        (void)suspend_domain();
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(asks); i++) {
        if (strcmp(v, asks[i].word))
            continue;
        __atomic_store_n(&shutdown_asked, asks[i].reason, __ATOMIC_RELEASE);
        /* Clearing the node tells the toolstack we took it. */
        if (xs_write(0, "control/shutdown", ""))
            pr_warn("control: could not acknowledge control/shutdown\n");
        pr_info("control: the toolstack asks for %s\n", v);
        return;
    }
    pr_warn("control: ignoring control/shutdown = '%s'\n", v);
}

/* "online" / "offline" for vCPU cpu, or NULL (no node, or no store). */
static const char *availability(unsigned int cpu, char *buf, size_t size)
{
    char path[32];

    snprintf(path, sizeof(path), "cpu/%u/availability", cpu);
    if (xs_read(0, path, buf, size) <= 0)
        return NULL;
    return buf;
}

bool control_vcpu_wanted(unsigned int cpu)
{
    char v[16];
    const char *a = availability(cpu, v, sizeof(v));

    return !a || strcmp(a, "offline");
}

static void apply(unsigned int cpu, bool up)
{
    int rc = cpu_toolstack_set(cpu, up);

    if (rc == -XEN_EBUSY) {
        /* A self-test case uses it (cpu_pin); the runner asks again
         * when the case ends (control_vcpus_recheck). */
        pr_info("hotplug: vCPU%u %s (toolstack) waits for the running "
                "self-test\n", cpu, up ? "online" : "offline");
        return;
    }
    if (rc) {
        pr_warn("control: vCPU%u %s (toolstack): %d\n", cpu,
                up ? "online" : "offline", rc);
        return;
    }
    __atomic_fetch_add(&toolstack_changes, 1, __ATOMIC_RELEASE);
    pr_info("hotplug: vCPU%u %s (toolstack)\n", cpu, up ? "online" : "offline");
}

/* A vCPU cannot take itself down: a runner on a vCPU the toolstack wants
 * offline does the rest and hands the watch to another vCPU. */
static void cpus_changed(struct xs_watch *w, const char *path)
{
    unsigned int me = smp_processor_id();
    bool self = false;

    for (unsigned int cpu = 1; cpu < smp_domain_vcpus(); cpu++) {
        bool want = control_vcpu_wanted(cpu);
        enum cpu_state s = cpu_state(cpu);

        if (want && s == CPU_OFFLINE)
            apply(cpu, true);
        else if (!want && s == CPU_ONLINE && cpu != me)
            apply(cpu, false);
        else if (!want && s == CPU_ONLINE)
            self = true;
    }
    if (self)
        xs_watch_defer(w, me);
}

static struct xs_watch cpu_watch;

void control_vcpus_recheck(void)
{
    if (xenstore_available())
        cpus_changed(&cpu_watch, "cpu");
}

static struct xs_watch shutdown_watch = {
    .path = "control/shutdown", .cb = shutdown_changed,
};
static struct xs_watch cpu_watch = { .path = "cpu", .cb = cpus_changed };

/* What the toolstack reads before it asks; a new domain's store after a
 * resume has none of it. */
static void advertise(void)
{
    if (xs_write(0, "control/feature-poweroff", "1") ||
        xs_write(0, "control/feature-reboot", "1") ||
        xs_write(0, "control/feature-suspend", "1"))
        pr_warn("control: could not advertise the shutdown features\n");
}

void control_resume(void)
{
    if (xenstore_available())
        advertise();
}

void control_init(void)
{
    long rc;

    if (!xenstore_available())
        return;
    advertise();
    rc = xs_watch(&shutdown_watch);
    if (rc)
        pr_warn("control: no watch on control/shutdown: %ld\n", rc);
    rc = xs_watch(&cpu_watch);
    if (rc)
        pr_warn("control: no watch on cpu/: %ld\n", rc);
}
