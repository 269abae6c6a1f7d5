/*
 * Torture (tests/torture): every concurrent path at once, drawn at random
 * from a seed, for as long as torture= says.  torture.c conducts the run
 * on vCPU0; ops.c is what each vCPU's worker does; slots.c owns the
 * event channels a worker binds, and the sequence counters that say
 * whether each of their events was handled once, and only once.
 */
#ifndef XENITH_TESTS_TORTURE_H
#define XENITH_TESTS_TORTURE_H

#include <xenith/types.h>
#include <xenith/compiler.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/spinlock.h>
#include <xenith/xenstore.h>
#include <xen/event_channel.h>

/* What a worker does; the conductor's own steps come last. */
enum torture_op {
    OP_BIND, OP_UNBIND, OP_SEND, OP_STORM, OP_MASK, OP_MOVE, OP_EVTDEV,
    OP_LOCK, OP_NESTED_LOCK, OP_CALL, OP_INJECT, OP_XENSTORE,
    OP_DOWN, OP_UP, OP_ORACLE,
    NR_TORTURE_OPS
};

enum slot_kind {
    SK_NONE,
    SK_LOOP,            /* unbound port + interdomain loopback to it */
    SK_STORM,           /* the same, sent to in bursts */
    SK_IPI,             /* IPI_TEST on some vCPU */
    SK_VIRQ,            /* VIRQ_DEBUG on some vCPU (per-vCPU) */
    SK_GVIRQ,           /* a global VIRQ Xen never raises here */
    SK_PIRQ,            /* a pirq with no device behind it */
    NR_SLOT_KINDS
};

/*
 * One binding a worker owns.  Only its worker binds, sends and unbinds
 * it; its handler runs wherever the port targets.  The counters are the
 * invariants: sent is bumped before each send, the handler copies it to
 * seen, so after a paced send (the sender waits for seen) a run that
 * finds nothing new is a second handling of one event; inside catches
 * two handlers at once; live, a handler after unbind returned.
 */
struct slot {
    enum slot_kind kind;
    int irq;                    /* handled here */
    int irq_b;                  /* loop kinds: the sending end */
    evtchn_port_t port, send_port;
    unsigned int target;        /* per-vCPU kinds: the vCPU bound to */
    unsigned int gen;           /* torture.downs[target] when bound */
    unsigned int pirq;
    bool late_eoi;              /* the handler EOIs */
    bool takes_lock;            /* the handler takes torture.irq_lock */
    bool paced;                 /* one event in flight at a time */
    unsigned int sent, seen;    /* atomic: sequence numbers */
    unsigned int runs;          /* atomic */
    int inside;                 /* atomic: handlers running */
    int live;                   /* atomic: bound, not yet unbound */
    int masked;                 /* atomic: disabled, no handler may run */
};

#define TORTURE_SLOTS   6
#define TORTURE_OPLOG   16
#define TORTURE_LOCKS   4       /* the last one handlers take too */

/* A recent operation, for the failure report. */
struct oprec {
    uint64_t t_ms;
    uint8_t op, kind;
    int16_t rc;
    int32_t a, b;
};

struct tworker {
    unsigned int cpu;
    uint64_t rng;
    struct slot slots[TORTURE_SLOTS];
    struct oprec log[TORTURE_OPLOG];
    unsigned int nlog;
    unsigned long ops[NR_TORTURE_OPS];
    unsigned long refused[NR_TORTURE_OPS];  /* Xen or the kernel said no */
    unsigned long progress;     /* atomic: ops finished (hang check) */
    struct cpu_work work;
    bool queued;                /* work queued, not yet seen done */
    struct xs_watch watch;
    char xs_path[32];
    int watch_fired;            /* atomic */
};

struct torture {
    uint64_t seed;
    uint64_t start_ns, end_ns;
    int stop;                   /* atomic: the run is over */
    int pause;                  /* atomic: workers leave their loop */
    int leaving[MAX_VCPUS];     /* atomic: this vCPU's worker must leave */
    int fail_claim;             /* atomic: the first failure's writer */
    int failed;                 /* atomic: set once fail_msg is written */
    unsigned long failures;     /* atomic: every failure seen */
    uint64_t fail_ms;
    bool hung;                  /* a worker stopped moving */
    char fail_msg[192];
    unsigned int fail_cpu;
    unsigned int downs[MAX_VCPUS];  /* atomic: taken down so far */
    unsigned long cycled;       /* vCPUs taken down and up again */
    unsigned long events;       /* atomic: slot handler runs */
    unsigned long calls;        /* atomic: cross-vCPU calls run */
    bool pirq_ok, gvirq_ok, xs_ok;
    spinlock_t locks[TORTURE_LOCKS];
    int owner[TORTURE_LOCKS];   /* atomic: holder + 1, 0 = free */
    unsigned long held[TORTURE_LOCKS];  /* under the lock */
    struct tworker w[MAX_VCPUS];
};

extern struct torture torture;

/* The last lock: thread context takes it with interrupts off. */
#define TORTURE_IRQ_LOCK (TORTURE_LOCKS - 1)

/* Bounds: an event not handled in LOST, a worker with no op done in
 * HANG, are failures (scaled with the vCPUs, as every test bound).  Only
 * a hang's detection waits on them, so they are generous: at 8 vCPUs on
 * 2 pCPUs, while Xen still scrubs memory after boot, the debug build saw
 * an event handled 3 s after it was sent. */
#define TORTURE_LOST_NS test_bound_ns(10 * NSEC_PER_SEC)
#define TORTURE_HANG_NS (4 * TORTURE_LOST_NS)

/* The generator: each worker's own, seeded from the run's seed. */
uint64_t trand(struct tworker *w);
static inline unsigned int trand_below(struct tworker *w, unsigned int n)
{
    return n ? (unsigned int)(trand(w) % n) : 0;
}
unsigned int trand_online(struct tworker *w);

/* The first failure stops the run; later ones are counted only. */
void torture_fail(unsigned int cpu, const char *fmt, ...) __printf(2, 3);
static inline bool torture_over(void)
{
    return __atomic_load_n(&torture.stop, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&torture.failed, __ATOMIC_ACQUIRE);
}
void torture_log(struct tworker *w, enum torture_op op, unsigned int kind,
                 long rc, long a, long b);
const char *torture_op_name(unsigned int op);
const char *torture_kind_name(unsigned int kind);

/* slots.c */
int slot_bind(struct tworker *w, struct slot *s, enum slot_kind kind);
/* Wait until every event sent to s was handled (unless settle is false),
 * then unbind it.  0, or -1 after reporting a lost event. */
int slot_unbind(struct tworker *w, struct slot *s, bool settle);
int slot_send(struct tworker *w, struct slot *s);
int slot_storm(struct tworker *w, struct slot *s);
int slot_mask(struct tworker *w, struct slot *s);
int slot_move(struct tworker *w, struct slot *s);

/* ops.c */
void torture_op(struct tworker *w);
void torture_worker_teardown(struct tworker *w);

#endif
