/* Constants shared by assembly and C: control registers, page-table bits,
 * segment selectors.  Kept free of C so head.S can include it. */
#ifndef XENITH_ASM_H
#define XENITH_ASM_H

#define CR0_PE          0x00000001
#define CR0_WP          0x00010000
#define CR0_PG          0x80000000
#define CR4_PAE         0x00000020

#define MSR_EFER        0xc0000080
#define EFER_LME        0x00000100
#define EFER_NXE        0x00000800
#define MSR_FS_BASE     0xc0000100
#define MSR_GS_BASE     0xc0000101

#define PTE_P           0x001
#define PTE_W           0x002
#define PTE_U           0x004
#define PTE_PWT         0x008
#define PTE_PCD         0x010
#define PTE_A           0x020
#define PTE_D           0x040
#define PTE_PS          0x080
#define PTE_G           0x100
/* PTE_NX is bit 63: a C-only constant, see include/xenith/paging.h */

#define GDT_KCODE       0x08
#define GDT_KDATA       0x10
#define GDT_TSS         0x18

#define BOOT_STACK_SIZE 16384
#define BOOT_IST_SIZE   8192
#ifdef __ASSEMBLY__
#define PAGE_SIZE       4096
#else
#define PAGE_SIZE       4096ul
#endif

#endif
