/*
 * Lock ranks: the documented lock order (events/bind.c, kernel/irq.c,
 * kernel/cpu_hotplug.c, drivers/evtchn.c) as numbers.  A vCPU may take a
 * lock only if every lock it holds has a smaller rank; with
 * CONFIG_LOCK_ORDER (debug and test builds) anything else panics naming
 * both locks (lock/lockorder.c).  Rank 0: not checked.
 */
#ifndef XENITH_LOCKORDER_H
#define XENITH_LOCKORDER_H

enum lock_rank {
    RANK_NONE = 0,
    RANK_HOTPLUG = 10,          /* hotplug_lock (mutex) */
    RANK_EVTDEV_BIND = 20,      /* evtchn device bind_lock (mutex) */
    RANK_XS_REQ = 25,           /* xenstore request writer (mutex) */
    RANK_MAPPING = 30,          /* evtchn_mapping_lock (mutex) */
    RANK_IRQ_ALLOC = 40,        /* irq_alloc_lock (mutex) */
    RANK_DESC = 50,             /* desc->lock: chip callbacks run under it */
    RANK_FIFO_QUEUE = 55,       /* events/fifo.c per-vCPU qlock: consumer */
    RANK_FIFO_ARRAY = 56,       /* events/fifo.c array_lock: event array */
    RANK_INFO = 60,             /* info->lock: mask reasons */
    RANK_EVTDEV_CONS = 70,      /* evtchn device ring, consumer side */
    RANK_EVTDEV_PROD = 72,      /* evtchn device ring, producer (handler) */
    RANK_XS = 75,               /* xenstore requests in flight, watches */
    RANK_CALL = 80,             /* per-vCPU call/work queue */
    RANK_TIMER = 81,            /* per-vCPU timer list */
    RANK_HEAP = 85,             /* kmalloc */
    RANK_PAGING = 86,           /* page tables */
    RANK_MM = 87,               /* page allocator */
    RANK_CONSOLE = 95,          /* printk: innermost, may nest in anything */
};

#endif
