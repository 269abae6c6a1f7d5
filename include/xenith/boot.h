/*
 * What the loader told us, copied out of the hvm_start_info before any
 * memory is handed out (so the allocator cannot overwrite it), with every
 * pointer and length checked.
 */
#ifndef XENITH_BOOT_H
#define XENITH_BOOT_H

#include <xenith/types.h>

#define BOOT_CMDLINE_MAX 1024
#define BOOT_MEMMAP_MAX  128

struct memmap_entry {
    paddr_t addr;
    uint64_t size;
    uint32_t type;              /* XEN_HVM_MEMMAP_TYPE_* */
};

struct boot_info {
    uint32_t start_info_version;
    uint32_t flags;             /* SIF_* */
    paddr_t rsdp;
    char cmdline[BOOT_CMDLINE_MAX];
    bool cmdline_truncated;
    unsigned int nr_memmap;
    struct memmap_entry memmap[BOOT_MEMMAP_MAX];
};

extern struct boot_info boot_info;
extern uint64_t boot_tsc;               /* TSC at pvh_start32 */
/* head.S: the TSC once .bss is zeroed, and once paging is on. */
extern uint64_t boot_tsc_steps[2];
extern uint64_t ready_tsc;              /* TSC when the kernel was ready */
extern uint64_t ready_hypercalls;       /* hypercalls made until then */
/* vCPU0's stacks (head.S): per stack a guard page, then the stack;
 * first the kernel stack (BOOT_STACK_SIZE), then two IST stacks. */
extern char boot_stacks[];

void boot_info_init(paddr_t start_info_pa);
/* kernel/boot_trace.c, at loglevel=8 only: the end of a boot step (name:
 * a string literal), and the per-step report. */
void boot_trace_start(int loglevel);
void boot_step(const char *name);
void boot_trace_report(void);
void kernel_main(paddr_t start_info_pa) __attribute__((noreturn));

#endif
