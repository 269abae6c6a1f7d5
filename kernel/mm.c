/*
 * Page allocator: one bit per page of [0, ram_end), set = in use.  Every
 * page starts in use; RAM pages from the memory map are then freed,
 * except the first MiB (firmware, loader data), the kernel image and the
 * bitmap itself.  Simple and exact: the tests can check that no page is
 * handed out twice and that exhaustion returns NULL.
 *
 * mm_lock: protects the bitmap, the hint and the counters.  The innermost
 * lock of the kernel: taken with interrupts off, nothing is taken under it.
 */
#include <xenith/lockorder.h>
#include <xenith/mm.h>
#include <xenith/boot.h>
#include <xenith/hypercall.h>
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/spinlock.h>
#include <xenith/string.h>
#include <xen/arch-x86/hvm/start_info.h>

/* The boot page tables map 4 GiB; RAM above is ignored for now. */
#define MM_LIMIT (4ull << 30)
#define LOW_RESERVED (1ull << 20)

extern char __image_start[], __image_end[];

static spinlock_t mm_lock = SPINLOCK_INIT_RANKED(RANK_MM, "mm_lock");
static uint64_t *bitmap;
static uint64_t nr_pages;       /* pages covered by the bitmap */
static uint64_t free_pages, total_pages;
static uint64_t hint;           /* where the next order-0 search starts */
static paddr_t ram_end;

static bool test_bit(uint64_t i) { return bitmap[i / 64] & (1ull << (i % 64)); }
static void set_bit(uint64_t i) { bitmap[i / 64] |= 1ull << (i % 64); }
static void clear_bit(uint64_t i) { bitmap[i / 64] &= ~(1ull << (i % 64)); }

/* Without a start-info memory map (version 0), ask Xen for it. */
static void memmap_from_xen(void)
{
    static struct {
        uint64_t addr, size;
        uint32_t type;
    } __packed e820[BOOT_MEMMAP_MAX];
    struct xen_memory_map map = { .nr_entries = BOOT_MEMMAP_MAX };
    long rc;

    set_xen_guest_handle(map.buffer, (void *)e820);
    rc = hyp_memory_op(XENMEM_memory_map, &map);
    if (rc)
        panic("no memory map: start info v%u has none and "
              "XENMEM_memory_map failed (%ld)", boot_info.start_info_version,
              rc);
    for (unsigned int i = 0; i < map.nr_entries && i < BOOT_MEMMAP_MAX; i++) {
        boot_info.memmap[i].addr = e820[i].addr;
        boot_info.memmap[i].size = e820[i].size;
        boot_info.memmap[i].type = e820[i].type;
    }
    boot_info.nr_memmap = MIN(map.nr_entries, BOOT_MEMMAP_MAX);
}

static bool ram_range(unsigned int i, paddr_t *start, paddr_t *end)
{
    const struct memmap_entry *e = &boot_info.memmap[i];

    if (e->type != XEN_HVM_MEMMAP_TYPE_RAM || e->addr >= MM_LIMIT)
        return false;
    *start = ALIGN_UP(e->addr, PAGE_SIZE);
    *end = ALIGN_DOWN(MIN(e->addr + e->size, MM_LIMIT), PAGE_SIZE);
    return *end > *start;
}

/* The bitmap goes in the first RAM above the image big enough for it. */
static void place_bitmap(uint64_t bytes)
{
    paddr_t img_end = ALIGN_UP((paddr_t)__image_end, PAGE_SIZE);

    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        paddr_t s, e;
        if (!ram_range(i, &s, &e))
            continue;
        if (s < img_end)
            s = img_end;
        if (s < LOW_RESERVED)
            s = LOW_RESERVED;
        if (e > s && e - s >= bytes) {
            bitmap = (uint64_t *)s;
            return;
        }
    }
    panic("no RAM for the page bitmap (%lu bytes)", bytes);
}

static void free_range(paddr_t s, paddr_t e)
{
    paddr_t img_s = (paddr_t)__image_start;
    paddr_t img_e = ALIGN_UP((paddr_t)__image_end, PAGE_SIZE);
    paddr_t bm_s = (paddr_t)bitmap;
    paddr_t bm_e = bm_s + ALIGN_UP((nr_pages + 63) / 64 * 8, PAGE_SIZE);

    for (paddr_t pa = MAX(s, LOW_RESERVED); pa < e; pa += PAGE_SIZE) {
        if ((pa >= img_s && pa < img_e) || (pa >= bm_s && pa < bm_e))
            continue;
        if (test_bit(pa >> PAGE_SHIFT)) {
            clear_bit(pa >> PAGE_SHIFT);
            free_pages++;
        }
    }
}

void mm_init(void)
{
    uint64_t words;

    if (!boot_info.nr_memmap)
        memmap_from_xen();
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++)
        pr_debug("mm: %016lx-%016lx type %u\n", boot_info.memmap[i].addr,
                 boot_info.memmap[i].addr + boot_info.memmap[i].size - 1,
                 boot_info.memmap[i].type);
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        paddr_t s, e;
        if (ram_range(i, &s, &e) && e > ram_end)
            ram_end = e;
    }
    if (!ram_end)
        panic("memory map has no RAM");
    nr_pages = ram_end >> PAGE_SHIFT;
    words = (nr_pages + 63) / 64;
    place_bitmap(words * 8);
    memset(bitmap, 0xff, words * 8);
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        paddr_t s, e;
        if (ram_range(i, &s, &e))
            free_range(s, e);
    }
    total_pages = free_pages;
    hint = LOW_RESERVED >> PAGE_SHIFT;
    pr_info("mm: %lu MiB RAM, %lu pages free\n", ram_end >> 20, free_pages);
}

static bool run_free(uint64_t first, uint64_t count)
{
    for (uint64_t i = first; i < first + count; i++)
        if (test_bit(i))
            return false;
    return true;
}

void *page_alloc(unsigned int order)
{
    uint64_t count = 1ull << order, found = 0;
    unsigned long f;
    bool ok = false;

    if (order > 20)
        return NULL;
    f = spin_lock_irqsave(&mm_lock);
    if (free_pages >= count) {
        /* Next-fit over naturally aligned slots, from the hint, wrapping
         * once around the whole range. */
        uint64_t slots = nr_pages / count, first = (hint / count) % slots;
        for (uint64_t k = 0; k < slots && !ok; k++) {
            uint64_t i = ((first + k) % slots) * count;
            if (run_free(i, count)) {
                found = i;
                ok = true;
            }
        }
    }
    if (ok) {
        for (uint64_t i = found; i < found + count; i++)
            set_bit(i);
        free_pages -= count;
        hint = found + count;
    }
    spin_unlock_irqrestore(&mm_lock, f);
    if (!ok)
        return NULL;
    memset((void *)(found << PAGE_SHIFT), 0, count << PAGE_SHIFT);
    return (void *)(found << PAGE_SHIFT);
}

void page_free(void *p, unsigned int order)
{
    uint64_t first = (uint64_t)p >> PAGE_SHIFT, count = 1ull << order;
    unsigned long f;

    if (!p)
        return;
    BUG_ON((uint64_t)p & (PAGE_SIZE - 1));
    BUG_ON(first + count > nr_pages);
    f = spin_lock_irqsave(&mm_lock);
    for (uint64_t i = first; i < first + count; i++) {
        if (!test_bit(i))
            panic("page_free: page %lx is already free (double free)",
                  i << PAGE_SHIFT);
        clear_bit(i);
    }
    free_pages += count;
    spin_unlock_irqrestore(&mm_lock, f);
}

uint64_t mm_free_pages(void)
{
    return __atomic_load_n(&free_pages, __ATOMIC_RELAXED);
}

uint64_t mm_total_pages(void)
{
    return total_pages;
}

paddr_t mm_ram_end(void)
{
    return ram_end;
}
