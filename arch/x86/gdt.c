/*
 * Per-vCPU GDT and TSS.  The TSS exists for its IST entry: #DF, NMI and
 * #MC switch to a separate stack, so a kernel stack overflow (a fault on
 * the guard page) can still be reported instead of triple faulting.
 */
#include <xenith/percpu.h>
#include <xenith/selftest.h>
#include <xenith/asm.h>
#include <xenith/x86.h>
#include <xenith/string.h>
#include <xenith/mm.h>

struct percpu percpu_area[MAX_VCPUS];

void load_kernel_segments(void);        /* arch/x86/entry.S */

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __packed;

static void gdt_set_tss(uint64_t *gdt, struct tss *tss)
{
    uint64_t base = (uint64_t)tss, limit = sizeof(*tss) - 1;

    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
             (0x89ull << 40) |                  /* present, 64-bit TSS */
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[4] = base >> 32;
}

void percpu_init(unsigned int cpu, const struct stack stacks[NR_STACKS])
{
    struct percpu *p = &percpu_area[cpu];
    struct desc_ptr gdtr;

    p->self = p;
    p->cpu_id = cpu;
    memcpy(p->stacks, stacks, sizeof(p->stacks));

    p->gdt[0] = 0;
    p->gdt[1] = 0x00af9a000000ffffull;          /* GDT_KCODE */
    p->gdt[2] = 0x00cf92000000ffffull;          /* GDT_KDATA */
    memset(&p->tss, 0, sizeof(p->tss));
    p->tss.ist[0] = stacks[STACK_IST_DF].top;          /* IST1 */
    p->tss.ist[1] = stacks[STACK_IST_NMI].top;         /* IST2 */
    p->tss.iomap_base = sizeof(p->tss);         /* no I/O bitmap */
    gdt_set_tss(p->gdt, &p->tss);

    gdtr.limit = sizeof(p->gdt) - 1;
    gdtr.base = (uint64_t)p->gdt;
    __asm__ __volatile__("lgdt %0" :: "m"(gdtr));
    load_kernel_segments();
    __asm__ __volatile__("ltr %w0" :: "r"(GDT_TSS));
    wrmsr(MSR_GS_BASE, (uint64_t)p);
}

bool stack_contains(uintptr_t lo, uintptr_t hi)
{
    struct percpu *p = this_cpu();

    for (unsigned int i = 0; p && i < NR_STACKS; i++)
        if (lo >= p->stacks[i].bottom && hi <= p->stacks[i].top)
            return true;
    return selftest_stack_contains(lo, hi);     /* its cleanup stack */
}

bool stack_guard_hit(uintptr_t addr)
{
    struct percpu *p = this_cpu();

    for (unsigned int i = 0; p && i < NR_STACKS; i++)
        if (addr >= p->stacks[i].bottom - PAGE_SIZE &&
            addr < p->stacks[i].bottom)
            return true;
    return false;
}
