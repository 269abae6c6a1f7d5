/* Suite `mm`: the page allocator and the heap. */
#include <xenith/selftest.h>
#include <xenith/mm.h>
#include <xenith/string.h>

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
