/*
 * A xenstore client over the shared ring (drivers/xenstore.c).  A domU
 * has one (HVM_PARAM_STORE_PFN / _EVTCHN); a PVH dom0 started by Xen
 * alone has none, and every call answers -ENODEV.
 *
 * Calls run in thread context (interrupts on, not in a handler) from any
 * vCPU, several at once; each returns 0 or a length on success and a
 * negative Xen errno on failure (xenstored's error strings mapped: -ENOENT,
 * -EAGAIN, ...; -EIO when the backend broke the ring protocol; -ETIMEDOUT
 * when it did not answer in time).
 */
#ifndef XENITH_XENSTORE_H
#define XENITH_XENSTORE_H

#include <xenith/types.h>

typedef uint32_t xs_tx_t;               /* 0: no transaction */

int xenstore_init(void);
bool xenstore_available(void);
/* Times the backend broke the ring protocol (bad index or length). */
unsigned int xenstore_broken_events(void);

/* Value of path into buf (NUL-terminated); its length, or -errno. */
long xs_read(xs_tx_t tx, const char *path, char *buf, size_t size);
long xs_write(xs_tx_t tx, const char *path, const char *value);
long xs_rm(xs_tx_t tx, const char *path);
/* Children of path, NUL-separated, into buf; how many, or -errno. */
long xs_directory(xs_tx_t tx, const char *path, char *buf, size_t size);

long xs_transaction_start(xs_tx_t *tx);
long xs_transaction_end(xs_tx_t tx, bool commit);
/* Run fn in a transaction, again while the commit answers -EAGAIN (at
 * most 16 times); *retries counts the repeats. */
long xs_transaction(long (*fn)(xs_tx_t tx, void *arg), void *arg,
                    unsigned int *retries);

/*
 * Watches.  cb runs in thread context (an idle loop, or a caller of
 * xs_run_watches), never in the event handler, and may call xenstore.
 * Xen fires each watch once when it is set, then on every change under
 * path.
 */
struct xs_watch {
    const char *path;
    void (*cb)(struct xs_watch *w, const char *path);
    void *data;
    /* private (drivers/xenstore.c, under its xs_lock) */
    struct xs_watch *next, *fired_next;
    unsigned int id;
    bool fired;
    int not_cpu;                /* deferred away from this vCPU, or -1 */
    char fired_path[128];       /* the latest path that fired (cut off) */
};
long xs_watch(struct xs_watch *w);
/* After a resume (kernel/suspend.c): new port, watches again. */
int xenstore_resume(void);
long xs_unwatch(struct xs_watch *w);
/* Run queued watch callbacks now (one runner at a time). */
void xs_run_watches(void);
/* A fired watch waits for this vCPU (the idle loop must not halt). */
bool xs_watches_waiting(void);
/* From a callback: run me again, on any vCPU but not_cpu. */
void xs_watch_defer(struct xs_watch *w, unsigned int not_cpu);

/* Self-tests, with or without a backend (a PVH dom0 has none): a watch
 * known only here, an event for it as the event handler would queue it
 * (then idle vCPUs are kicked), and its removal. */
void xs_watch_test_add(struct xs_watch *w);
void xs_watch_test_event(struct xs_watch *w, const char *path);
void xs_watch_test_remove(struct xs_watch *w);

#endif
