/*
 * Page tables.  All RAM is identity mapped read-write, no-execute; the
 * kernel image is mapped with 4 KiB pages so text is R-X, rodata R--,
 * data/bss RW- NX, and the page below each stack is left unmapped.
 */
#ifndef XENITH_PAGING_H
#define XENITH_PAGING_H

#include <xenith/types.h>
#include <xenith/asm.h>

#define PTE_NX          (1ull << 63)
#define PTE_ADDR_MASK   0x000ffffffffff000ull

void paging_init(void);
/* The leaf entry mapping va (0 if unmapped) and its level: 1 = 4 KiB,
 * 2 = 2 MiB, 3 = 1 GiB.  For tests and the panic path. */
uint64_t paging_lookup(vaddr_t va, int *level);
/* Map one 4 KiB page (va and pa page aligned). 0 or -ENOMEM. */
int paging_map_page(vaddr_t va, paddr_t pa, uint64_t flags);

#endif
