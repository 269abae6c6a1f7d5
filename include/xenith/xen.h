/* What the kernel knows about the hypervisor it runs on. */
#ifndef XENITH_XEN_H
#define XENITH_XEN_H

#include <xenith/types.h>
#include <xen/xen.h>

struct xen_info {
    uint32_t cpuid_base;        /* 0x40000000 + n*0x100 */
    uint32_t version;           /* major << 16 | minor */
    uint32_t hypercall_msr;     /* non-zero once hypercalls work */
    bool is_dom0;               /* SIF_INITDOMAIN from hvm_start_info */
};

extern struct xen_info xen;
extern struct shared_info *shared_info;

/* Scan the CPUID hypervisor leaves for "XenVMMXenVMM": true under Xen. */
bool xen_detect(void);
/* Hypercall page, version banner, shared_info mapping. */
void xen_init(void);
void xen_resume(void);
/* HVMOP_get_param for this domain: 0 or -errno. */
long hvm_param_get(unsigned int index, uint64_t *value);
/* Map a toolstack ring (HVM params for its frame and port). */
int xen_ring_attach(unsigned int pfn_param, unsigned int port_param,
                    void **page, uint32_t *port);

#endif
