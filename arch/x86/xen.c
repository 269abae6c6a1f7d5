/*
 * Finding Xen and setting up the minimum to talk to it: CPUID detection,
 * the hypercall page, shared_info.
 */
#include <xenith/xen.h>
#include <xenith/boot.h>
#include <xenith/hypercall.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/mm.h>
#include <xenith/percpu.h>
#include <xenith/x86.h>

struct xen_info xen;
struct shared_info *shared_info;
uint64_t hypercall_count[HYPERCALL_MAX];

static uint8_t shared_info_page[PAGE_SIZE] __aligned(PAGE_SIZE)
    __section(".bss.page_aligned");

bool xen_detect(void)
{
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        uint32_t eax, sig[3];

        cpuid(base, &eax, &sig[0], &sig[1], &sig[2]);
        if (sig[0] == 0x566e6558 && sig[1] == 0x65584d4d &&
            sig[2] == 0x4d4d566e && eax - base >= 2) {  /* "XenVMMXenVMM" */
            xen.cpuid_base = base;
            return true;
        }
    }
    return false;
}

uint64_t hypercall_total(void)
{
    uint64_t sum = 0;
    for (unsigned int i = 0; i < HYPERCALL_MAX; i++)
        sum += __atomic_load_n(&hypercall_count[i], __ATOMIC_RELAXED);
    return sum;
}

static void hypercall_page_init(void)
{
    uint32_t pages, msr, ecx, edx;

    cpuid(xen.cpuid_base + 2, &pages, &msr, &ecx, &edx);
    if (pages < 1)
        early_fatal("Xen offers no hypercall page");
    wrmsr(msr, (uint64_t)hypercall_page);
    /* Xen replaced the int3 filler; a first byte still 0xcc means the MSR
     * write did nothing and every hypercall would trap. */
    if ((uint8_t)hypercall_page[0] == 0xcc)
        early_fatal("hypercall page was not filled by Xen");
    /* Only now may anything (verdict_exit in particular) make a call. */
    xen.hypercall_msr = msr;
}

static void shared_info_map(void)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF,
        .space = XENMAPSPACE_shared_info,
        .idx = 0,
        .gpfn = (uint64_t)shared_info_page >> PAGE_SHIFT,
    };
    long rc = hyp_memory_op(XENMEM_add_to_physmap, &xatp);

    if (rc)
        panic("XENMEM_add_to_physmap(shared_info) failed: %ld", rc);
    shared_info = (struct shared_info *)shared_info_page;
    this_cpu()->vcpu_info = &shared_info->vcpu_info[0];
}

void xen_init(void)
{
    long v;

    hypercall_page_init();
    v = hyp_xen_version(XENVER_version, NULL);
    if (v < 0)
        early_fatal("XENVER_version failed");
    xen.version = v;
    xen.is_dom0 = boot_info.flags & SIF_INITDOMAIN;
    shared_info_map();
}
