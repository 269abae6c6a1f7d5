/*
 * Physical memory: a page allocator over the RAM in the start-info memory
 * map, and a small heap on top of it.  Memory is identity mapped, so a
 * page's address is both its physical and virtual address.  Exhaustion
 * returns NULL to the caller; nothing here panics on a failed allocation.
 */
#ifndef XENITH_MM_H
#define XENITH_MM_H

#include <xenith/types.h>

#include <xenith/asm.h>

#define PAGE_SHIFT 12

/* Memory is identity mapped: a physical address is its own pointer.
 * Said through these so that the host fuzz build (tests/fuzz), which
 * defines them first, can keep "physical" memory in a window of its own. */
#ifndef phys_to_virt
#define phys_to_virt(pa) ((void *)(uintptr_t)(pa))
#define virt_to_phys(va) ((paddr_t)(uintptr_t)(va))
#endif

void mm_init(void);                     /* RAM below 4 GiB */
void mm_init_high(void);                /* the rest, once mapped */
/* 2^order contiguous, naturally aligned, zeroed pages, or NULL. */
void *page_alloc(unsigned int order);
/* The same, from [lo, hi) only (first fit). */
void *page_alloc_range(unsigned int order, paddr_t lo, paddr_t hi);
void page_free(void *p, unsigned int order);
uint64_t mm_free_pages(void);
uint64_t mm_total_pages(void);
/* Highest RAM address + 1, for the page tables' direct map. */
paddr_t mm_ram_end(void);
/* Pages of RAM above 4 GiB the allocator covers. */
uint64_t mm_high_pages(void);

void *kmalloc(size_t size);
void kfree(void *p);
/* Bytes currently handed out by the heap (leak checks). */
uint64_t heap_in_use(void);
/* Pages the heap keeps for its size classes (never returned). */
uint64_t heap_slab_pages(void);

#endif
