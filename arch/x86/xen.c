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
#include <xenith/paging.h>
#include <xen/errno.h>

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

static void shared_info_add(void)
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
    shared_info_add();
    this_cpu()->vcpu_info = &shared_info->vcpu_info[0];
}

/*
 * In the new domain after a resume: Xen's shared info page is a new one,
 * not yet in our physmap.  The hypercall page is our memory and came with
 * the domain as it was: it is not filled again.  The parked vCPUs are
 * calling SCHEDOP_yield through it while the leader resumes, and Xen
 * fills a page by writing int3 over all of it first: a parked vCPU then
 * returned into that int3 (#BP at hypercall_page+0x3a9, the sched_op
 * stub's ret, in the xl rig's check_save_restore).  So a restore or a
 * migration must land on a host of the same CPU vendor (vmcall or
 * vmmcall in the stubs): across vendors the page would need filling again
 * with no vCPU inside it, which xenith does not do.
 */
void xen_resume(void)
{
    shared_info_add();
}

long hvm_param_get(unsigned int index, uint64_t *value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    long rc = hyp_hvm_op(HVMOP_get_param, &p);

    if (!rc)
        *value = p.value;
    return rc;
}

/*
 * A ring the toolstack set up for a domU (console, xenstore): its frame
 * and its port from two HVM params, the frame mapped where it is (it is
 * not RAM we manage).  0, or -errno (-ENODEV: no such ring, as in dom0).
 */
int xen_ring_attach(unsigned int pfn_param, unsigned int port_param,
                    void **page, evtchn_port_t *port)
{
    uint64_t pfn = 0, evtchn = 0;
    paddr_t pa;
    long rc;

    rc = hvm_param_get(pfn_param, &pfn);
    if (!rc)
        rc = hvm_param_get(port_param, &evtchn);
    if (rc || !pfn || !evtchn)
        return rc ? (int)rc : -XEN_ENODEV;
    pa = pfn << PAGE_SHIFT;
    rc = paging_map_page(pa, pa, PTE_W | PTE_NX);
    if (rc)
        return (int)rc;
    *page = (void *)pa;
    *port = (evtchn_port_t)evtchn;
    return 0;
}
