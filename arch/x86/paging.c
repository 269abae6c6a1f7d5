/*
 * The kernel's page tables, replacing head.S's boot map once the memory
 * map is known.  RAM, and only RAM, is identity mapped RW+NX: with 2 MiB
 * pages where a whole 2 MiB is RAM, else 4 KiB pages for the RAM part
 * (legacy VGA/BIOS holes and device ranges stay unmapped, never cached).
 * The 2 MiB regions holding the first MiB and the kernel image use 4 KiB
 * pages so that: page 0 is unmapped (NULL dereferences fault), text is
 * read-only and executable, rodata and the symbol table read-only, data
 * and bss writable and never executable (W^X), and the guard pages below
 * vCPU0's stacks are unmapped.
 *
 * paging_lock: protects table updates after boot (paging_map_page).
 * Taken with interrupts off; only mm_lock is taken under it.
 */
#include <xenith/lockorder.h>
#include <xenith/paging.h>
#include <xenith/boot.h>
#include <xenith/mm.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/smp.h>
#include <xenith/spinlock.h>
#include <xenith/x86.h>
#include <xen/arch-x86/hvm/start_info.h>

#define LARGE_SIZE (2ull << 20)

extern char __image_start[], __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];
extern char __ksyms_start[], __ksyms_end[];
extern char __image_end[];

static spinlock_t paging_lock = SPINLOCK_INIT_RANKED(RANK_PAGING, "paging_lock");
static uint64_t *pml4;

static unsigned int idx(vaddr_t va, int level)
{
    return (va >> (12 + 9 * (level - 1))) & 511;
}

/* The table one level down from *entry, allocated on first use. */
static uint64_t *next_table(uint64_t *entry)
{
    if (!(*entry & PTE_P)) {
        uint64_t *t = page_alloc(0);
        if (!t)
            return NULL;
        *entry = (uint64_t)t | PTE_P | PTE_W;
    }
    BUG_ON(*entry & PTE_PS);
    return (uint64_t *)(*entry & PTE_ADDR_MASK);
}

/* [s, e) lies inside one RAM entry of the memory map. */
static bool all_ram(paddr_t s, paddr_t e)
{
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *m = &boot_info.memmap[i];
        if (m->type == XEN_HVM_MEMMAP_TYPE_RAM && s >= m->addr &&
            e <= m->addr + m->size)
            return true;
    }
    return false;
}

static bool any_ram(paddr_t s, paddr_t e)
{
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *m = &boot_info.memmap[i];
        if (m->type == XEN_HVM_MEMMAP_TYPE_RAM && s < m->addr + m->size &&
            m->addr < e)
            return true;
    }
    return false;
}

/* Rights of one 4 KiB page in a region that is not one large page. */
static uint64_t page_flags(paddr_t pa)
{
    if (pa == 0)
        return 0;                               /* NULL page */
    for (unsigned int i = 0; i < NR_STACKS; i++)
        if (pa == percpu_area[0].stacks[i].bottom - PAGE_SIZE)
            return 0;                           /* vCPU0's stack guards */
    if (smp_stack_guard(pa))
        return 0;                               /* other vCPUs' guards */
    if (pa >= (paddr_t)__text_start && pa < (paddr_t)__text_end)
        return PTE_P;                           /* R-X */
    if ((pa >= (paddr_t)__rodata_start && pa < (paddr_t)__rodata_end) ||
        (pa >= (paddr_t)__ksyms_start && pa < (paddr_t)__ksyms_end))
        return PTE_P | PTE_NX;                  /* R-- */
    if ((pa >= (paddr_t)__data_start && pa < (paddr_t)__data_end) ||
        all_ram(pa, pa + PAGE_SIZE))
        return PTE_P | PTE_W | PTE_NX;          /* RW- */
    return 0;                                   /* not RAM: unmapped */
}

static bool needs_small_pages(paddr_t region)
{
    paddr_t img_s = ALIGN_DOWN((paddr_t)__image_start, LARGE_SIZE);
    paddr_t img_e = ALIGN_UP((paddr_t)__image_end, LARGE_SIZE);

    return region == 0 || (region >= img_s && region < img_e);
}

static int map_region(paddr_t region)
{
    uint64_t *pdpt = next_table(&pml4[idx(region, 4)]);
    uint64_t *pd = pdpt ? next_table(&pdpt[idx(region, 3)]) : NULL;
    uint64_t *pt;

    if (!pd)
        return -1;
    if (!needs_small_pages(region) && all_ram(region, region + LARGE_SIZE)) {
        pd[idx(region, 2)] = region | PTE_P | PTE_W | PTE_PS | PTE_NX;
        return 0;
    }
    pt = next_table(&pd[idx(region, 2)]);
    if (!pt)
        return -1;
    for (paddr_t pa = region; pa < region + LARGE_SIZE; pa += PAGE_SIZE) {
        uint64_t fl = page_flags(pa);
        pt[idx(pa, 1)] = fl ? (pa | fl) : 0;
    }
    return 0;
}

void paging_init(void)
{
    paddr_t end = ALIGN_UP(mm_ram_end(), LARGE_SIZE);

    pml4 = page_alloc(0);
    if (!pml4)
        panic("paging: no page for the PML4");
    for (paddr_t r = 0; r < end; r += LARGE_SIZE)
        if ((needs_small_pages(r) || any_ram(r, r + LARGE_SIZE)) &&
            map_region(r))
            panic("paging: out of memory building the direct map");
    write_cr3((uint64_t)pml4);
    pr_info("paging: RAM below %lu MiB mapped; text R-X, rodata R--, "
            "data RW- NX\n", end >> 20);
}

uint64_t paging_lookup(vaddr_t va, int *level)
{
    uint64_t *t = (uint64_t *)(read_cr3() & PTE_ADDR_MASK);

    for (int l = 4; l >= 1; l--) {
        uint64_t e = t[idx(va, l)];
        if (!(e & PTE_P))
            return 0;
        if (l == 1 || (l <= 3 && (e & PTE_PS))) {
            if (level)
                *level = l;
            return e;
        }
        t = (uint64_t *)(e & PTE_ADDR_MASK);
    }
    return 0;
}

/* Only this vCPU's TLB is flushed: mappings change before other vCPUs
 * can use them (boot, new stacks); remote shootdown comes when needed. */
int paging_map_page(vaddr_t va, paddr_t pa, uint64_t flags)
{
    unsigned long f;
    uint64_t *t = pml4;
    int rc = 0;

    BUG_ON((va | pa) & (PAGE_SIZE - 1));
    BUG_ON(flags & PTE_ADDR_MASK);
    BUG_ON((flags & PTE_W) && !(flags & PTE_NX));      /* W^X */
    f = spin_lock_irqsave(&paging_lock);
    for (int l = 4; l > 1 && t; l--)
        t = next_table(&t[idx(va, l)]);
    if (t)
        t[idx(va, 1)] = pa | flags | PTE_P;
    else
        rc = -12;                               /* -ENOMEM */
    spin_unlock_irqrestore(&paging_lock, f);
    invlpg(va);
    return rc;
}

