/*
 * Symbol lookup for backtraces.  The table is generated from the linked
 * image by scripts/ksyms.sh and linked in a second pass; in the first pass
 * it does not exist, hence the weak references.
 */
#include <xenith/ksyms.h>
#include <xenith/compiler.h>

struct ksym {
    uint32_t addr;
    uint32_t name_off;
};

extern const uint64_t ksym_count __weak;
extern const struct ksym ksym_table[] __weak;
extern const char ksym_names[] __weak;
extern char __text_start[], __text_end[];

const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
    uint64_t lo = 0, hi;

    if (!&ksym_count || addr < (uint64_t)__text_start ||
        addr >= (uint64_t)__text_end)
        return NULL;
    hi = ksym_count;
    if (!hi || addr < ksym_table[0].addr)
        return NULL;
    /* Last entry with addr <= target. */
    while (hi - lo > 1) {
        uint64_t mid = (lo + hi) / 2;
        if (ksym_table[mid].addr <= addr)
            lo = mid;
        else
            hi = mid;
    }
    *offset = addr - ksym_table[lo].addr;
    return ksym_names + ksym_table[lo].name_off;
}
