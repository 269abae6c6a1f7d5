/*
 * Page allocator: one bit per page of [0, ram_end), set = in use.  Every
 * page starts in use; RAM pages from the memory map are then freed,
 * except the first MiB (firmware, loader data), the kernel image and the
 * bitmap itself.  Simple and exact: the tests can check that no page is
 * handed out twice and that exhaustion returns NULL.
 *
 * All the RAM the map describes is covered, above 4 GiB too, in two
 * steps: head.S's boot map reaches only 4 GiB, and page_alloc writes the
 * pages it hands out, so mm_init frees the RAM below 4 GiB (where
 * paging_init then finds its tables) and mm_init_high the rest, once
 * paging_init has mapped it.
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

/* What head.S's boot page tables map. */
#define BOOT_MAP_LIMIT (4ull << 30)
#define LOW_RESERVED (1ull << 20)

extern char __image_start[], __image_end[];

static spinlock_t mm_lock = SPINLOCK_INIT_RANKED(RANK_MM, "mm_lock");
static uint64_t *bitmap;
static uint64_t nr_pages;       /* pages covered by the bitmap */
static uint64_t free_pages, total_pages;
static uint64_t high_pages;     /* of total_pages, above 4 GiB */
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

/* Map entry i's whole pages inside [lo, hi), if it is RAM and has any. */
static bool ram_range(unsigned int i, paddr_t lo, paddr_t hi, paddr_t *start,
                      paddr_t *end)
{
    const struct memmap_entry *e = &boot_info.memmap[i];

    if (e->type != XEN_HVM_MEMMAP_TYPE_RAM || e->addr + e->size <= e->addr)
        return false;
    *start = ALIGN_UP(MAX(e->addr, lo), PAGE_SIZE);
    *end = ALIGN_DOWN(MIN(e->addr + e->size, hi), PAGE_SIZE);
    return *end > *start;
}

/*
 * Where [s, e) meets an entry of another type than RAM: that entry's end
 * (page aligned up, at most ~0), or 0 if it meets none.  Maps may list
 * RAM and reserved ranges that overlap; the reserved reading wins, as in
 * every E820 reading: the firmware or Xen may be using that memory
 * (tests/fuzz memmap, bug-ram-over-reserved).
 */
static paddr_t non_ram_end(paddr_t s, paddr_t e)
{
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *m = &boot_info.memmap[i];
        paddr_t end = m->addr + m->size;

        if (m->type == XEN_HVM_MEMMAP_TYPE_RAM || !m->size)
            continue;
        if (end < m->addr || end > ~0ull - PAGE_SIZE)
            end = ~0ull;                /* reaches the top */
        if (m->addr < e && end > s)
            return end == ~0ull ? end : ALIGN_UP(end, PAGE_SIZE);
    }
    return 0;
}

/* The bitmap goes in the first RAM above the image big enough for it
 * that no other entry of the map claims. */
static void place_bitmap(uint64_t bytes)
{
    paddr_t img_end = ALIGN_UP(virt_to_phys(__image_end), PAGE_SIZE);

    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        paddr_t s, e, skip;
        if (!ram_range(i, 0, BOOT_MAP_LIMIT, &s, &e))
            continue;
        if (s < img_end)
            s = img_end;
        if (s < LOW_RESERVED)
            s = LOW_RESERVED;
        while (e > s && e - s >= bytes && (skip = non_ram_end(s, s + bytes)))
            s = skip;
        if (e > s && e - s >= bytes) {
            bitmap = phys_to_virt(s);
            return;
        }
    }
    panic("no RAM for the page bitmap (%lu bytes)", bytes);
}

/* Bits set in w, without libgcc's __popcountdi2 (freestanding, no
 * POPCNT assumed): the classic sideways sum. */
static unsigned int popcount64(uint64_t w)
{
    w -= (w >> 1) & 0x5555555555555555ull;
    w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
    w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned int)((w * 0x0101010101010101ull) >> 56);
}

/* Free pages [first, end) a bitmap word at a time: freeing RAM page by
 * page was 117k turns of a loop in a 458 MiB dom0, 5 ms of its boot
 * under TCG.  Pages already free stay free and are not counted twice. */
static void free_pages_span(uint64_t first, uint64_t end)
{
    while (first < end) {
        uint64_t bit = first % 64, n = MIN(64 - bit, end - first);
        uint64_t mask = (n == 64 ? ~0ull : (1ull << n) - 1) << bit;
        uint64_t *w = &bitmap[first / 64];

        free_pages += popcount64(*w & mask);
        *w &= ~mask;
        first += n;
    }
}

/* [s, e) less the holes from hole on (sorted or not): the part below
 * the first one that overlaps, then the part above it. */
static void free_outside(paddr_t s, paddr_t e, const paddr_t (*hole)[2],
                         unsigned int nr)
{
    if (s >= e)
        return;
    for (; nr; hole++, nr--) {
        if ((*hole)[1] <= s || (*hole)[0] >= e)
            continue;
        free_outside(s, (*hole)[0], hole + 1, nr - 1);
        free_outside((*hole)[1], e, hole + 1, nr - 1);
        return;
    }
    free_pages_span(s >> PAGE_SHIFT, e >> PAGE_SHIFT);
}

/* Pages [first, end) in use again, if free: what free_pages_span freed
 * of a range another map entry claims. */
static void reserve_pages_span(uint64_t first, uint64_t end)
{
    while (first < end) {
        uint64_t bit = first % 64, n = MIN(64 - bit, end - first);
        uint64_t mask = (n == 64 ? ~0ull : (1ull << n) - 1) << bit;
        uint64_t *w = &bitmap[first / 64];

        free_pages -= popcount64(~*w & mask);
        *w |= mask;
        first += n;
    }
}

/* Within [lo, hi): every page an entry of another type than RAM touches
 * (whole pages, rounded outwards) is not free, whatever RAM entry
 * overlapping it said (non_ram_end). */
static void reserve_non_ram(paddr_t lo, paddr_t hi)
{
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *m = &boot_info.memmap[i];
        paddr_t s = ALIGN_DOWN(m->addr, PAGE_SIZE), e = m->addr + m->size;

        if (m->type == XEN_HVM_MEMMAP_TYPE_RAM || !m->size)
            continue;
        if (e < m->addr || e > ~0ull - PAGE_SIZE)
            e = ~0ull;
        else
            e = ALIGN_UP(e, PAGE_SIZE);
        s = MAX(s, lo);
        e = MIN(MIN(e, hi), ram_end);
        if (e > s)
            reserve_pages_span(s >> PAGE_SHIFT, e >> PAGE_SHIFT);
    }
}

/* RAM [s, e), page aligned, less the first MiB, the image and the bitmap. */
static void free_range(paddr_t s, paddr_t e)
{
    const paddr_t holes[][2] = {
        { 0, LOW_RESERVED },
        { virt_to_phys(__image_start),
              ALIGN_UP(virt_to_phys(__image_end), PAGE_SIZE) },
        { virt_to_phys(bitmap), virt_to_phys(bitmap) +
              ALIGN_UP((nr_pages + 63) / 64 * 8, PAGE_SIZE) },
    };

    free_outside(s, e, holes, ARRAY_SIZE(holes));
}

void mm_init(void)
{
    uint64_t words;

    /* From nothing, not from .bss alone: tests/fuzz runs it per input. */
    ram_end = 0;
    free_pages = total_pages = high_pages = 0;
    if (!boot_info.nr_memmap)
        memmap_from_xen();
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++)
        pr_debug("mm: %016lx-%016lx type %u\n", boot_info.memmap[i].addr,
                 boot_info.memmap[i].addr + boot_info.memmap[i].size - 1,
                 boot_info.memmap[i].type);
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        paddr_t s, e;
        if (ram_range(i, 0, ~0ull, &s, &e) && e > ram_end)
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
        if (ram_range(i, 0, BOOT_MAP_LIMIT, &s, &e))
            free_range(s, e);
    }
    reserve_non_ram(0, BOOT_MAP_LIMIT);
    total_pages = free_pages;
    hint = LOW_RESERVED >> PAGE_SHIFT;
}

/* After paging_init mapped it: the RAM above the boot map's 4 GiB. */
void mm_init_high(void)
{
    uint64_t low = free_pages;
    unsigned long f = spin_lock_irqsave(&mm_lock);

    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        paddr_t s, e;
        if (ram_range(i, BOOT_MAP_LIMIT, ~0ull, &s, &e))
            free_range(s, e);
    }
    reserve_non_ram(BOOT_MAP_LIMIT, ~0ull);
    total_pages = free_pages;
    high_pages = free_pages - low;
    spin_unlock_irqrestore(&mm_lock, f);
    pr_info("mm: %lu MiB RAM (%lu MiB of it above 4 GiB), RAM ends at "
            "%lu MiB, %lu pages free\n",
            (total_pages << PAGE_SHIFT) >> 20,
            (high_pages << PAGE_SHIFT) >> 20, ram_end >> 20, free_pages);
}

static bool run_free(uint64_t first, uint64_t count)
{
    for (uint64_t i = first; i < first + count; i++)
        if (test_bit(i))
            return false;
    return true;
}

/*
 * Claim the first free run of count pages among the naturally aligned
 * slots [from, to) (slot k: pages k * count on), looking from slot start
 * and wrapping once; mm_lock held.  Its first page, or -1.
 */
static int64_t claim(uint64_t count, uint64_t from, uint64_t to,
                     uint64_t start)
{
    uint64_t n = to - from;

    if (free_pages < count || to <= from)
        return -1;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t first = (from + (start - from + k) % n) * count;

        if (!run_free(first, count))
            continue;
        for (uint64_t i = first; i < first + count; i++)
            set_bit(i);
        free_pages -= count;
        return (int64_t)first;
    }
    return -1;
}

/* Outside the lock: the pages are ours now. */
static void *zeroed(int64_t first, uint64_t count)
{
    if (first < 0)
        return NULL;
    memset(phys_to_virt((paddr_t)first << PAGE_SHIFT), 0, count << PAGE_SHIFT);
    return phys_to_virt((paddr_t)first << PAGE_SHIFT);
}

/* Next fit, from the hint: successive allocations do not rescan what the
 * last ones took. */
void *page_alloc(unsigned int order)
{
    uint64_t count = 1ull << order, slots = nr_pages >> order;
    unsigned long f;
    int64_t first;

    if (order > 20 || !slots)
        return NULL;
    f = spin_lock_irqsave(&mm_lock);
    first = claim(count, 0, slots, (hint / count) % slots);
    if (first >= 0)
        hint = (uint64_t)first + count;
    spin_unlock_irqrestore(&mm_lock, f);
    return zeroed(first, count);
}

void *page_alloc_range(unsigned int order, paddr_t lo, paddr_t hi)
{
    uint64_t count = 1ull << order;
    /* The first whole page at or above lo: rounding lo down handed out a
     * block starting below it (tests/fuzz memmap, bug-range-lo-unaligned).
     * Added, not ALIGN_UP(lo), which wraps to 0 near the top. */
    uint64_t lo_page = (lo >> PAGE_SHIFT) + !!(lo & (PAGE_SIZE - 1));
    uint64_t from = ALIGN_UP(lo_page, count) >> order;
    uint64_t to = MIN(hi >> PAGE_SHIFT, nr_pages) >> order;
    unsigned long f;
    int64_t first;

    if (order > 20)
        return NULL;
    f = spin_lock_irqsave(&mm_lock);
    first = claim(count, from, to, from);
    spin_unlock_irqrestore(&mm_lock, f);
    return zeroed(first, count);
}

void page_free(void *p, unsigned int order)
{
    uint64_t first = virt_to_phys(p) >> PAGE_SHIFT, count = 1ull << order;
    unsigned long f;

    if (!p)
        return;
    BUG_ON(virt_to_phys(p) & (PAGE_SIZE - 1));
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

uint64_t mm_high_pages(void)
{
    return high_pages;
}
