/*
 * Copy what the PVH loader handed us (hvm_start_info, the command line,
 * the memory map) into kernel data before anything allocates memory: the
 * loader put them in RAM that the page allocator will soon hand out.
 * Every pointer and count is bounded; the boot page tables map the first
 * 4 GiB, so anything above that is refused rather than dereferenced.
 */
#include <xenith/boot.h>
#include <xenith/mm.h>
#include <xenith/string.h>
#include <xen/arch-x86/hvm/start_info.h>

#define BOOT_MAPPED_LIMIT (4ull << 30)

struct boot_info boot_info;
uint64_t ready_tsc;
uint64_t ready_hypercalls;

static bool readable(paddr_t pa, uint64_t len)
{
    return pa && pa < BOOT_MAPPED_LIMIT && len <= BOOT_MAPPED_LIMIT - pa;
}

static void copy_cmdline(paddr_t pa)
{
    const char *src;
    size_t n;

    if (!pa || !readable(pa, BOOT_CMDLINE_MAX))
        return;
    src = phys_to_virt(pa);
    n = strnlen(src, BOOT_CMDLINE_MAX);
    if (n == BOOT_CMDLINE_MAX) {
        /* Keep a terminated prefix; the parser reports the truncation. */
        n = BOOT_CMDLINE_MAX - 1;
        boot_info.cmdline_truncated = true;
    }
    memcpy(boot_info.cmdline, src, n);
    boot_info.cmdline[n] = '\0';
}

static void copy_memmap(paddr_t pa, uint32_t entries)
{
    const char *src;

    if (!readable(pa, (uint64_t)entries *
                  sizeof(struct hvm_memmap_table_entry)))
        return;
    src = phys_to_virt(pa);
    if (entries > BOOT_MEMMAP_MAX)
        entries = BOOT_MEMMAP_MAX;      /* the rest is beyond what we use */
    for (uint32_t i = 0; i < entries; i++) {
        struct hvm_memmap_table_entry e;

        /* Copied bytewise: nothing says the loader aligns the table, and
         * reading its 64-bit fields in place at an odd address is
         * undefined (tests/fuzz memmap, bug-unaligned-table). */
        memcpy(&e, src + i * sizeof(e), sizeof(e));
        boot_info.memmap[i].addr = e.addr;
        boot_info.memmap[i].size = e.size;
        boot_info.memmap[i].type = e.type;
    }
    boot_info.nr_memmap = entries;
}

void boot_info_init(paddr_t start_info_pa)
{
    const struct hvm_start_info *si = phys_to_virt(start_info_pa);

    /* head.S checked the magic before we got here. */
    boot_info.start_info_version = si->version;
    boot_info.flags = si->flags;
    boot_info.rsdp = si->rsdp_paddr;
    copy_cmdline(si->cmdline_paddr);
    if (si->version >= 1 && si->memmap_entries)
        copy_memmap(si->memmap_paddr, si->memmap_entries);
}
