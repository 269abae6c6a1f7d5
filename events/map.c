/*
 * evtchn_to_irq: port -> irq in two levels, a page of ints per row, rows
 * allocated when a port in them is first mapped.  Readers (the upcall)
 * use one atomic load per level and no lock.  Writers hold the mapping
 * lock, except PIRQ startup, which runs under desc->lock and cannot take
 * it: so a new row is installed with compare-and-swap against NULL, and
 * two writers mapping ports in one new row both keep their mapping (the
 * loser of the race frees its row and uses the winner's).
 * Rows live until evtchn_map_trim_row() (tests) frees an empty one after
 * a grace period.
 */
#include "internal.h"
#include <xenith/inject.h>
#include <xenith/mm.h>
#include <xenith/quiesce.h>
#include <xen/errno.h>

#define ROW_INTS        (PAGE_SIZE / sizeof(int))
#define NR_ROWS         ((1u << 17) / ROW_INTS)   /* the FIFO ABI's range */

static int *rows[NR_ROWS];
static unsigned int nr_row_pages;       /* atomic */

DEFINE_INJECT(map_row_alloc, "map.row_alloc");

int evtchn_to_irq(evtchn_port_t port)
{
    int *row;

    if (port / ROW_INTS >= NR_ROWS)
        return -1;
    row = __atomic_load_n(&rows[port / ROW_INTS], __ATOMIC_ACQUIRE);
    if (!row)
        return -1;
    return __atomic_load_n(&row[port % ROW_INTS], __ATOMIC_ACQUIRE);
}

static int *row_get(unsigned int r)
{
    int *row = __atomic_load_n(&rows[r], __ATOMIC_ACQUIRE), *expected = NULL;

    if (row)
        return row;
    row = page_alloc(0);
    if (!row)
        return NULL;
    for (unsigned int i = 0; i < ROW_INTS; i++)
        row[i] = -1;
    inject(&inject_map_row_alloc, r);   /* the window two writers race in */
#ifdef SCENARIO_5_ROW_INSTALLED_BLINDLY
    expected = __atomic_load_n(&rows[r], __ATOMIC_ACQUIRE);  /* a blind store */
#endif
    if (__atomic_compare_exchange_n(&rows[r], &expected, row, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&nr_row_pages, 1, __ATOMIC_RELAXED);
        return row;
    }
    page_free(row, 0);                  /* lost: use the winner's row */
    return expected;
}

int evtchn_map_set(evtchn_port_t port, int irq)
{
    int *row;

    if (port / ROW_INTS >= NR_ROWS)
        return -XEN_EINVAL;
    row = row_get(port / ROW_INTS);
    if (!row)
        return -XEN_ENOMEM;
    __atomic_store_n(&row[port % ROW_INTS], irq, __ATOMIC_RELEASE);
    return 0;
}

void evtchn_map_clear(evtchn_port_t port)
{
    int *row;

    if (port / ROW_INTS >= NR_ROWS)
        return;
    row = __atomic_load_n(&rows[port / ROW_INTS], __ATOMIC_ACQUIRE);
    if (row)
        __atomic_store_n(&row[port % ROW_INTS], -1, __ATOMIC_RELEASE);
}

void evtchn_map_clear_all(void)
{
    for (unsigned int r = 0; r < NR_ROWS; r++) {
        int *row = __atomic_load_n(&rows[r], __ATOMIC_ACQUIRE);

        for (unsigned int i = 0; row && i < ROW_INTS; i++)
            __atomic_store_n(&row[i], -1, __ATOMIC_RELEASE);
    }
}

unsigned int evtchn_map_pages(void)
{
    return __atomic_load_n(&nr_row_pages, __ATOMIC_RELAXED);
}

unsigned int evtchn_map_row_ports(void)
{
    return ROW_INTS;
}

/* Free the row holding port if nothing is mapped in it (for tests that
 * need a row that does not exist yet).  True if freed. */
bool evtchn_map_trim_row(evtchn_port_t port)
{
    unsigned int r = port / ROW_INTS;
    int *row;

    mutex_lock(&evtchn_mapping_lock);
    row = rows[r];
    for (unsigned int i = 0; row && i < ROW_INTS; i++) {
        if (row[i] != -1) {
            mutex_unlock(&evtchn_mapping_lock);
            return false;
        }
    }
    __atomic_store_n(&rows[r], NULL, __ATOMIC_RELEASE);
    mutex_unlock(&evtchn_mapping_lock);
    if (!row)
        return false;
    grace_wait();                       /* an upcall may still read it */
    page_free(row, 0);
    __atomic_fetch_sub(&nr_row_pages, 1, __ATOMIC_RELAXED);
    return true;
}
