/*
 * memmap: the start-info memory map into the page allocator.
 * kernel/boot_info.c reads an hvm_start_info (v0 or v1) and its memory
 * map table, or, with none, kernel/mm.c asks "Xen" (XENMEM_memory_map,
 * answered here with an e820 map); mm_init/mm_init_high build the page
 * allocator from it, and the input then allocates and frees.  Maps come
 * overlapping, unsorted, zero-sized, above 4 GiB, and truncated (more
 * entries announced than the table holds, tables beyond what the boot map
 * reaches).  "Physical" memory is a 64 GiB window of the host's (reserved,
 * not committed); a map whose RAM ends above it is not tried.
 *
 * Properties (each aborts when it does not hold):
 *  - the map the kernel keeps is what the loader or Xen gave, entry for
 *    entry, at most BOOT_MEMMAP_MAX of them;
 *  - every page the allocator hands out lies in RAM the map described: a
 *    whole page inside a RAM entry and in no entry of another type
 *    (reserved beats RAM where they overlap, as in every E820 reading);
 *    never in the first MiB or the kernel image; aligned to its order;
 *    inside [lo, hi) for page_alloc_range;
 *  - no page is handed out twice (while it is still allocated);
 *  - the only panics are the two a map can cause: no RAM, no room for the
 *    allocator's bitmap.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <xenith/boot.h>
#include <xenith/mm.h>
#include <xen/arch-x86/hvm/start_info.h>

#define WINDOW (64ull << 30)
#define START_INFO_PA 0x1000ull
#define MAX_LIVE 64

extern char *fuzz_window;
extern uint64_t fuzz_window_size;
char (*fuzz_image_start)[], (*fuzz_image_end)[];   /* mm.c's image bounds */

static struct __attribute__((packed)) e820 {
    uint64_t addr, size;
    uint32_t type;
} e820[BOOT_MEMMAP_MAX];
static unsigned int nr_e820;
static paddr_t img_start, img_end;

static struct {
    paddr_t pa;
    uint64_t len;
    unsigned int order;
} live[MAX_LIVE];
static unsigned int nr_live;

static long memory_op(unsigned int cmd, void *arg)
{
    struct xen_memory_map *map = arg;
    struct e820 *buf;

    if (cmd != XENMEM_memory_map)
        return -1;
    buf = (struct e820 *)map->buffer.p;
    map->nr_entries = MIN(map->nr_entries, nr_e820);
    memcpy(buf, e820, map->nr_entries * sizeof(*buf));
    return 0;
}

struct in {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct in *in, int bytes)
{
    uint64_t v = 0;

    for (int i = 0; i < bytes && in->n; i++, in->p++, in->n--)
        v |= (uint64_t)*in->p << (8 * i);
    return v;
}

/* An address or size: small numbers, shifted anywhere up to 2^47. */
static uint64_t take_addr(struct in *in)
{
    uint64_t v = take(in, 4);

    return v << (take(in, 1) % 16);
}

/* The page at pa: whole inside a RAM entry, in no other entry. */
FUZZ_ORACLE static bool map_says_ram(paddr_t pa)
{
    bool ram = false;

    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *e = &boot_info.memmap[i];
        uint64_t end = e->addr + e->size;
        bool wraps = end < e->addr;

        if (!e->size)
            continue;
        if (e->type == XEN_HVM_MEMMAP_TYPE_RAM) {
            if (!wraps && e->addr <= pa && pa + PAGE_SIZE <= end)
                ram = true;
        } else if (e->addr < pa + PAGE_SIZE && (wraps || end > pa)) {
            return false;
        }
    }
    return ram;
}

FUZZ_ORACLE static void check_block(void *p, unsigned int order, paddr_t lo, paddr_t hi)
{
    uint64_t len = PAGE_SIZE << order;
    paddr_t pa;

    if (!p)
        return;
    pa = virt_to_phys(p);
    FUZZ_CHECK(!(pa & (len - 1)), "order %u block at %#lx misaligned", order,
               (unsigned long)pa);
    FUZZ_CHECK(pa >= lo && pa + len <= hi,
               "block %#lx+%#lx outside [%#lx, %#lx)", (unsigned long)pa,
               (unsigned long)len, (unsigned long)lo, (unsigned long)hi);
    FUZZ_CHECK(pa >= (1u << 20), "block %#lx in the first MiB",
               (unsigned long)pa);
    /* An empty image (the input may say so; no real one is) holds no
     * page: a block across where it would start is not in it. */
    FUZZ_CHECK(img_end == img_start || pa + len <= img_start ||
               pa >= ALIGN_UP(img_end, PAGE_SIZE),
               "block %#lx in the image", (unsigned long)pa);
    for (uint64_t off = 0; off < len; off += PAGE_SIZE)
        FUZZ_CHECK(map_says_ram(pa + off),
                   "page %#lx handed out is not RAM in the map",
                   (unsigned long)(pa + off));
    for (unsigned int i = 0; i < nr_live; i++)
        FUZZ_CHECK(pa + len <= live[i].pa || pa >= live[i].pa + live[i].len,
                   "block %#lx handed out twice", (unsigned long)pa);
    if (nr_live < MAX_LIVE)
        live[nr_live++] = (typeof(live[0])){ pa, len, order };
    else
        page_free(p, order);
}

/* The table may sit at any alignment: entries go through memcpy. */
static struct hvm_memmap_table_entry table_at(const void *table,
                                              unsigned int i)
{
    struct hvm_memmap_table_entry e;

    memcpy(&e, (const char *)table + i * sizeof(e), sizeof(e));
    return e;
}

FUZZ_ORACLE static void check_copy(const void *table, unsigned int nr_table)
{
    unsigned int n = boot_info.nr_memmap;
    bool from_table = n && n <= nr_table, from_e820 = n <= nr_e820;

    FUZZ_CHECK(n <= BOOT_MEMMAP_MAX, "%u entries kept", n);
    for (unsigned int i = 0; i < n; i++) {
        const struct memmap_entry *m = &boot_info.memmap[i];
        struct hvm_memmap_table_entry t =
            from_table ? table_at(table, i) : (typeof(t)){ 0 };
        from_table &= m->addr == t.addr && m->size == t.size &&
                      m->type == t.type;
        from_e820 &= m->addr == e820[i].addr && m->size == e820[i].size &&
                     m->type == e820[i].type;
    }
    FUZZ_CHECK(from_table || from_e820, "the map kept is neither given");
}

FUZZ_ORACLE static bool in_window(uint64_t addr, uint64_t size, uint32_t type)
{
    return type != XEN_HVM_MEMMAP_TYPE_RAM || !size ||
           (addr + size >= addr && addr + size <= WINDOW);
}

/* Either map the kernel may take (its own copy, or Xen's e820 when it
 * has none), checked before mm_init sizes its bitmap by it. */
FUZZ_ORACLE static bool ram_in_window(void)
{
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *e = &boot_info.memmap[i];
        if (!in_window(e->addr, e->size, e->type))
            return false;
    }
    for (unsigned int i = 0; i < nr_e820; i++)
        if (!in_window(e820[i].addr, e820[i].size, e820[i].type))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned int runs;
    struct in in = { data, size };
    struct hvm_start_info *si;
    struct hvm_memmap_table_entry *table;
    unsigned int nr_table;
    bool had_map;
    jmp_buf caught;

    if (!fuzz_window) {
        fuzz_window = mmap(NULL, WINDOW, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        FUZZ_CHECK(fuzz_window != MAP_FAILED, "no window");
        fuzz_window_size = WINDOW;
    }
    if (runs++)                         /* give back what the last touched */
        madvise(fuzz_window, WINDOW, MADV_DONTNEED);
    fuzz_hooks.memory_op = memory_op;
    memset(&boot_info, 0, sizeof(boot_info));
    nr_live = 0;

    /* The start info is written last: a table given across it reads as
     * the start info's bytes, in the kernel and in check_copy alike. */
    struct hvm_start_info info = {
        .magic = XEN_HVM_START_MAGIC_VALUE,
        .version = take(&in, 1) % 3,
    };
    info.memmap_paddr = take(&in, 1) & 1 ? 0x2000 : take(&in, 4);
    info.memmap_entries = (uint32_t)take(&in, 1);
    si = &info;
    img_start = take(&in, 2) << 12;
    img_end = img_start + (take(&in, 2) << 8);
    fuzz_image_start = (char (*)[])phys_to_virt(img_start);
    fuzz_image_end = (char (*)[])phys_to_virt(img_end);

    /* The entries: the table at memmap_paddr if it fits the window (as
     * many as the input gives; the rest of what it announces reads as
     * zeroes), and the same entries as Xen's e820 answer. */
    nr_table = 0;
    table = NULL;
    if (si->memmap_paddr && si->memmap_paddr +
        si->memmap_entries * sizeof(*table) <= (4ull << 30)) {
        table = phys_to_virt(si->memmap_paddr);
        memset(table, 0, si->memmap_entries * sizeof(*table));
    }
    nr_e820 = 0;
    while (in.n && nr_e820 < BOOT_MEMMAP_MAX && take(&in, 1) & 1) {
        struct e820 e = {
            .addr = take_addr(&in), .size = take_addr(&in),
            .type = (uint32_t)take(&in, 1) % 8,
        };
        if (e.size & 1)                 /* unaligned now and then */
            e.addr += take(&in, 2);
        e820[nr_e820++] = e;
        if (table && nr_table < si->memmap_entries) {
            struct hvm_memmap_table_entry t = {
                .addr = e.addr, .size = e.size, .type = e.type,
            };
            memcpy((char *)table + nr_table++ * sizeof(t), &t, sizeof(t));
        }
    }
    if (table)
        nr_table = si->memmap_entries;  /* zeroes after the given ones */

    memcpy(phys_to_virt(START_INFO_PA), &info, sizeof(info));
    boot_info_init(START_INFO_PA);
    fuzz_catch = &caught;
    if (setjmp(caught)) {
        fuzz_catch = NULL;
        FUZZ_CHECK(!strcmp(fuzz_panic_msg, "memory map has no RAM") ||
                   !strncmp(fuzz_panic_msg, "no RAM for the page bitmap", 26),
                   "panic: %s", fuzz_panic_msg);
        return 0;
    }
    if (boot_info.nr_memmap)
        check_copy(table, table ? nr_table : 0);
    if (!ram_in_window()) {
        fuzz_catch = NULL;
        return -1;
    }
    had_map = boot_info.nr_memmap != 0;
    mm_init();
    /* Only a map mm_init fetched itself (Xen's e820) is new to check: a
     * table it was given is in RAM the allocator may already have used,
     * for its bitmap say, as boot_info_init's copy-first allows. */
    if (!had_map)
        check_copy(NULL, 0);
    mm_init_high();
    /* Each allocation zeroes up to 256 KiB of the window: a bound keeps
     * an input's memory, and its time, small. */
    for (unsigned int ops = 0; in.n && ops < 128; ops++) {
        uint8_t op = (uint8_t)take(&in, 1);
        unsigned int order = (op >> 2) % 7;

        switch (op & 3) {
        case 0:
        case 1:
            check_block(page_alloc(order), order, 0, ~0ull);
            break;
        case 2: {
            paddr_t lo = take_addr(&in), hi = take_addr(&in);
            check_block(page_alloc_range(order, lo, hi), order, lo, hi);
            break;
        }
        default:
            if (nr_live) {
                unsigned int i = (unsigned int)take(&in, 1) % nr_live;
                page_free(phys_to_virt(live[i].pa), live[i].order);
                live[i] = live[--nr_live];
            }
            break;
        }
    }
    fuzz_catch = NULL;
    return 0;
}
