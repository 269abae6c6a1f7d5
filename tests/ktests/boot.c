/* Suite `boot`: what the loader handed us, and the page tables we built. */
#include <xenith/selftest.h>
#include <xenith/boot.h>
#include <xenith/cmdline.h>
#include <xenith/mm.h>
#include <xenith/paging.h>
#include <xenith/percpu.h>
#include <xenith/string.h>
#include <xenith/x86.h>
#include <xenith/xen.h>
#include <xen/arch-x86/hvm/start_info.h>

extern char __image_start[], __image_end[], __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[], __data_start[], __bss_end[];

static const char rodata_probe[] = "read-only";
static int data_probe = 1;
static int bss_probe;

static bool has_selftest_option(void)
{
    for (const char *p = boot_info.cmdline; *p; p++)
        if (!strncmp(p, "selftest=", 9))
            return true;
    return false;
}

SELFTEST(boot, start_info)
{
    CHECK(boot_info.start_info_version <= 1);
    CHECK(boot_info.nr_memmap > 0);
    CHECK(boot_info.nr_memmap <= BOOT_MEMMAP_MAX);
    /* A run with selftest= on its command line got here through the
     * copy of that line; one with none (Xen's CI boots us so) runs the
     * default selection, and its line may well be empty. */
    CHECK(!boot_options.selftest_given || has_selftest_option());
    CHECK(!boot_info.cmdline_truncated);
    CHECK(shared_info != NULL);
    CHECK(xen.version >= (4u << 16));
    return TEST_RESULT();
}

SELFTEST(boot, memmap_sane)
{
    paddr_t img_s = (paddr_t)__image_start, img_e = (paddr_t)__image_end;
    bool image_in_ram = false;
    uint64_t ram = 0;

    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *a = &boot_info.memmap[i];

        CHECK(a->size > 0);
        CHECK(a->addr + a->size > a->addr);             /* no wrap */
        if (a->type != XEN_HVM_MEMMAP_TYPE_RAM)
            continue;
        ram += a->size;
        if (a->addr <= img_s && img_e <= a->addr + a->size)
            image_in_ram = true;
        for (unsigned int j = i + 1; j < boot_info.nr_memmap; j++) {
            const struct memmap_entry *b = &boot_info.memmap[j];
            if (b->type == XEN_HVM_MEMMAP_TYPE_RAM)
                CHECK(a->addr + a->size <= b->addr ||
                      b->addr + b->size <= a->addr);
        }
    }
    CHECK(image_in_ram);
    /* The allocator can only have what the map says is RAM. */
    CHECK(mm_total_pages() * PAGE_SIZE <= ram);
    CHECK(mm_total_pages() > 0);
    return TEST_RESULT();
}

static bool writable(uint64_t pte) { return pte & PTE_W; }
static bool executable(uint64_t pte) { return !(pte & PTE_NX); }

SELFTEST(boot, nx_wx)
{
    int level;
    uint64_t pte;
    int stack_probe = 0;
    void *heap_page = page_alloc(0);

    REQUIRE(heap_page);
    CHECK(rdmsr(MSR_EFER) & EFER_NXE);
    CHECK(read_cr0() & CR0_WP);     /* ring 0 honours read-only pages */

    pte = paging_lookup((vaddr_t)test_boot_nx_wx, &level);
    CHECK(pte && level == 1 && !writable(pte) && executable(pte));
    pte = paging_lookup((vaddr_t)rodata_probe, &level);
    CHECK(pte && level == 1 && !writable(pte) && !executable(pte));
    pte = paging_lookup((vaddr_t)&data_probe, &level);
    CHECK(pte && writable(pte) && !executable(pte));
    pte = paging_lookup((vaddr_t)&bss_probe, &level);
    CHECK(pte && writable(pte) && !executable(pte));
    pte = paging_lookup((vaddr_t)&stack_probe, &level);
    CHECK(pte && writable(pte) && !executable(pte));
    pte = paging_lookup((vaddr_t)heap_page, &level);
    CHECK(pte && writable(pte) && !executable(pte));
    page_free(heap_page, 0);

    /* Unmapped on purpose: the NULL page and every stack's guard page;
     * the stacks themselves are mapped, and this one is among them. */
    CHECK(paging_lookup(0, &level) == 0);
    for (unsigned int i = 0; i < NR_STACKS; i++) {
        const struct stack *s = &this_cpu()->stacks[i];
        CHECK(paging_lookup(s->bottom - PAGE_SIZE, &level) == 0);
        CHECK(paging_lookup(s->bottom, &level) != 0);
        CHECK(paging_lookup(s->top - 1, &level) != 0);
    }
    CHECK(stack_contains((uintptr_t)&stack_probe, (uintptr_t)&stack_probe + 4));

    /* W^X over every page of the image, not just the probes. */
    for (vaddr_t va = (vaddr_t)__image_start; va < (vaddr_t)__image_end;
         va += PAGE_SIZE) {
        pte = paging_lookup(va, &level);
        if (pte && writable(pte) && executable(pte)) {
            test_diag("page %lx is writable and executable", va);
            CHECK(!"W^X");
            break;
        }
        if (va >= (vaddr_t)__text_start && va < (vaddr_t)__text_end)
            CHECK(pte && executable(pte));
        else if (pte)
            CHECK(!executable(pte));
    }
    return TEST_RESULT();
}

/* The direct map covers RAM and nothing else: every RAM page of the
 * memory map is mapped writable, and the first page of every non-RAM
 * range below the end of RAM (holes, ACPI, device memory) is unmapped. */
SELFTEST(boot, direct_map_ram_only)
{
    unsigned int holes = 0;

    for (unsigned int i = 0; i < boot_info.nr_memmap; i++) {
        const struct memmap_entry *m = &boot_info.memmap[i];
        paddr_t first = ALIGN_UP(m->addr, PAGE_SIZE);
        paddr_t last = ALIGN_DOWN(m->addr + m->size, PAGE_SIZE) - PAGE_SIZE;
        uint64_t pte;

        if (first > last || first >= mm_ram_end())
            continue;
        if (m->type == XEN_HVM_MEMMAP_TYPE_RAM) {
            /* Page 0 is unmapped on purpose; image pages have their own
             * rights (boot.nx_wx), any other RAM page is RW- NX. */
            paddr_t probes[2] = { first ? first : PAGE_SIZE, last };
            for (int k = 0; k < 2; k++) {
                pte = paging_lookup(probes[k], NULL);
                CHECK(pte != 0);
                if (probes[k] < (paddr_t)__image_start ||
                    probes[k] >= (paddr_t)__image_end)
                    CHECK((pte & PTE_W) && (pte & PTE_NX));
            }
        } else {
            holes++;
            if (paging_lookup(first, NULL)) {
                test_diag("non-RAM %lx (type %u) is mapped", first, m->type);
                CHECK(!"non-RAM mapped");
            }
        }
    }
    test_diag("%u non-RAM ranges below the end of RAM checked", holes);
    return TEST_RESULT();
}
