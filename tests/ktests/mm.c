/* Suite `mm`: the page allocator and the heap. */
#include <xenith/selftest.h>
#include <xenith/boot.h>
#include <xenith/mm.h>
#include <xenith/paging.h>
#include <xenith/string.h>
#include <xen/arch-x86/hvm/start_info.h>

extern char __image_start[], __image_end[];

#define NR_PROBE 256

static bool in_image(void *p)
{
    return (char *)p + PAGE_SIZE > __image_start && (char *)p < __image_end;
}

SELFTEST(mm, no_double_alloc)
{
    void **pages = kmalloc(NR_PROBE * sizeof(void *));
    uint64_t before = mm_free_pages();      /* after the kmalloc's refill */

    REQUIRE(pages);
    for (int i = 0; i < NR_PROBE; i++) {
        pages[i] = page_alloc(0);
        REQUIRE(pages[i]);
        CHECK(((uintptr_t)pages[i] & (PAGE_SIZE - 1)) == 0);
        CHECK(!in_image(pages[i]));
        CHECK((uintptr_t)pages[i] >= (1u << 20));
        /* Zeroed, and ours: stamp it and read the stamps back later. */
        CHECK(((uint64_t *)pages[i])[7] == 0);
        memset(pages[i], i & 0xff, PAGE_SIZE);
    }
    CHECK(mm_free_pages() == before - NR_PROBE);
    for (int i = 0; i < NR_PROBE; i++) {
        for (int j = i + 1; j < NR_PROBE; j++)
            CHECK(pages[i] != pages[j]);
        CHECK(((uint8_t *)pages[i])[PAGE_SIZE - 1] == (i & 0xff));
    }
    for (int i = 0; i < NR_PROBE; i++)
        page_free(pages[i], 0);
    CHECK(mm_free_pages() == before);
    kfree(pages);
    return TEST_RESULT();
}

SELFTEST(mm, orders_aligned)
{
    for (unsigned int order = 0; order <= 8; order++) {
        uint8_t *p = page_alloc(order);
        REQUIRE(p);
        CHECK(((uintptr_t)p & ((PAGE_SIZE << order) - 1)) == 0);
        p[(PAGE_SIZE << order) - 1] = 1;
        page_free(p, order);
    }
    CHECK(page_alloc(40) == NULL);          /* absurd order: refused */
    return TEST_RESULT();
}

/* Take every free page (chained through the pages themselves, so the
 * test needs no memory of its own), check allocation then fails cleanly,
 * give everything back. */
SELFTEST(mm, exhaustion, .timeout_ms = 60000)
{
    uint64_t before = mm_free_pages(), got = 0;
    void **chain = NULL, **p;

    while ((p = page_alloc(0)) != NULL) {
        *p = chain;
        chain = p;
        got++;
    }
    CHECK(got == before);
    CHECK(mm_free_pages() == 0);
    CHECK(page_alloc(0) == NULL);
    CHECK(page_alloc(3) == NULL);
    CHECK(kmalloc(64 * 1024) == NULL);      /* large: needs fresh pages */
    while (chain) {
        p = *chain;
        page_free(chain, 0);
        chain = p;
    }
    CHECK(mm_free_pages() == before);
    return TEST_RESULT();
}

SELFTEST(mm, heap)
{
    static const size_t sizes[] = { 1, 8, 16, 17, 100, 500, 1000, 2032,
                                    2033, 4096, 10000, 100000 };
    void *blocks[ARRAY_SIZE(sizes)];
    uint64_t before = heap_in_use();

    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        blocks[i] = kmalloc(sizes[i]);
        REQUIRE(blocks[i]);
        CHECK(((uintptr_t)blocks[i] & 15) == 0);
        memset(blocks[i], (int)i + 1, sizes[i]);
    }
    /* No two blocks overlap: each still holds its own fill byte. */
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        const uint8_t *b = blocks[i];
        CHECK(b[0] == i + 1 && b[sizes[i] - 1] == i + 1);
    }
    CHECK(heap_in_use() > before);
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
        kfree(blocks[i]);
    CHECK(heap_in_use() == before);
    CHECK(kmalloc(0) == NULL);
    CHECK(kmalloc((size_t)1 << 40) == NULL);
    kfree(NULL);
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * RAM above 4 GiB (dom0_mem, or a domU's memory=, above it) is mapped and
 * handed out: pages taken from there, spread over the whole range (and
 * one 2 MiB block), lie in RAM the memory map describes, are RW- NX in
 * the direct map, and keep a pattern written over every word.  Without
 * such RAM the case skips, saying so (the boot matrix runs it with
 * dom0_mem=5G).
 */
#define HIGH_BASE       (4ull << 30)
#define HIGH_PROBES     64

static bool in_map_ram(paddr_t pa, uint64_t len)
{
    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *m = &boot_info.memmap[i];

        if (m->type == XEN_HVM_MEMMAP_TYPE_RAM && pa >= m->addr &&
            pa + len <= m->addr + m->size)
            return true;
    }
    return false;
}

/* Write each word's own address into it, read it all back. */
static bool pattern_holds(uint64_t *w, uint64_t len)
{
    for (uint64_t i = 0; i < len / 8; i++)
        w[i] = (uint64_t)&w[i] ^ 0x5a5a5a5a5a5a5a5aull;
    for (uint64_t i = 0; i < len / 8; i++)
        if (w[i] != ((uint64_t)&w[i] ^ 0x5a5a5a5a5a5a5a5aull))
            return false;
    return true;
}

static bool high_page_sound(void *p, uint64_t len)
{
    paddr_t pa = (paddr_t)p;
    uint64_t pte = paging_lookup(pa, NULL);

    if (pa < HIGH_BASE || !in_map_ram(pa, len)) {
        test_diag("page %lx (%lu bytes) is not RAM above 4 GiB the map "
                  "describes", pa, len);
        return false;
    }
    if (!pte || !(pte & PTE_W) || !(pte & PTE_NX)) {
        test_diag("page %lx is not mapped RW- NX (pte %lx)", pa, pte);
        return false;
    }
    if (!pattern_holds(p, len)) {
        test_diag("page %lx did not keep what was written to it", pa);
        return false;
    }
    return true;
}

SELFTEST(mm, high_memory)
{
    static void *pages[HIGH_PROBES];
    uint64_t before = mm_free_pages(), span;
    unsigned int n = 0;
    void *block;

    if (!mm_high_pages())
        SKIP("no RAM above 4 GiB (dom0_mem or memory= below it)");
    REQUIRE(mm_ram_end() > HIGH_BASE);
    span = mm_ram_end() - HIGH_BASE;
    for (unsigned int i = 0; i < HIGH_PROBES; i++) {
        paddr_t lo = HIGH_BASE + ALIGN_DOWN(span / HIGH_PROBES * i, PAGE_SIZE);

        pages[n] = page_alloc_range(0, lo, mm_ram_end());
        if (pages[n] && !high_page_sound(pages[n], PAGE_SIZE))
            CHECK(false);
        n += pages[n] != NULL;
    }
    if (n < HIGH_PROBES)
        test_diag("%u of %u probes above 4 GiB found a free page", n,
                  HIGH_PROBES);
    CHECK(n > HIGH_PROBES / 2);
    block = page_alloc_range(9, HIGH_BASE, mm_ram_end());
    CHECK(block != NULL);
    if (block)
        CHECK(high_page_sound(block, PAGE_SIZE << 9));
    test_diag("%lu MiB above 4 GiB; %u pages and a 2 MiB block from there, "
              "highest %lx", (mm_high_pages() << PAGE_SHIFT) >> 20, n,
              n ? (paddr_t)pages[n - 1] : 0);
    page_free(block, 9);
    for (unsigned int i = 0; i < n; i++)
        page_free(pages[i], 0);
    CHECK(mm_free_pages() == before);
    return TEST_RESULT();
}
