/*
 * ring_indices: the readers and writers of the shared rings against a
 * peer whose indices change between any two reads.  The xenstore ring's
 * receiver and writer (drivers/xenstore_wire.c) and the console ring's
 * writer and flush (drivers/xencons.c, whole, its hypercalls and events
 * from shim.c).  Every read of an index the peer writes goes through
 * ring_peer_read, which here answers from the input: the true value, one
 * near it, or anything at all, a new answer on each read, as a second
 * fetch of a hostile peer's index would see.
 *
 * Input: two bytes give the length of the operations; the rest after
 * them is the stream of answers to index reads (then the true values).
 *
 * Properties (each aborts when it does not hold):
 *  - each decision reads an index once: xs_wire_put reads req_cons once,
 *    and puts exactly what that value left room for, or fails with -EIO
 *    and puts nothing if it was out of range; only the bytes it puts
 *    change in req[];
 *  - the receiver moves rsp_cons only forward from the value it read,
 *    inside the rsp_prod it read, a header whole, hands on exactly the
 *    bytes it consumed, and reports a breach only for values that are
 *    one;
 *  - the console writer never writes past what the out_cons it last read
 *    left free (a byte the backend has not read), writes nothing once it
 *    read a value out of range (the ring is then broken), and its flush
 *    reports success only with every byte read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xenith/xenstore_wire.h>
#include <xenith/xencons.h>
#include <xen/errno.h>

static struct xenstore_domain_interface xs;
static struct xencons_interface cons_page;
static struct xencons con;
static char payload[XENSTORE_PAYLOAD_MAX + 1];

static const uint8_t *ans;              /* answers to index reads */
static size_t ans_n;
static uint64_t now;

/* What the peer's indices read as: the last answers. */
static struct {
    unsigned int req_cons_reads;
    uint32_t req_cons;                  /* the first answer in a put */
    uint32_t rsp_cons, rsp_prod;
    uint32_t out_cons;                  /* the last answer */
    XENCONS_RING_IDX prod_then;         /* con.prod when it was given */
    bool out_cons_read;
} seen;

FUZZ_ORACLE static void check_console_step(void);

static uint32_t answer(uint32_t truth)
{
    uint32_t v = truth;

    if (!ans_n)
        return truth;
    switch (*ans % 4) {
    case 0:
        break;
    case 1:                             /* near: off by a little */
        if (ans_n > 1)
            v = truth + (uint32_t)(int8_t)ans[1], ans++, ans_n--;
        break;
    case 2:                             /* anything */
        if (ans_n > 4) {
            memcpy(&v, ans + 1, 4);
            ans += 4, ans_n -= 4;
        }
        break;
    default:                            /* a ring's length away */
        v = truth + (*ans & 0x80 ? -1u : 1u) * (*ans & 0x40 ? 2048 : 1024);
        break;
    }
    ans++, ans_n--;
    return v;
}

static uint32_t peer_read(const volatile uint32_t *p)
{
    uint32_t v;

    if (p == &cons_page.out_cons)
        check_console_step();           /* the writes since the last read */
    v = answer(*p);
    if (p == &xs.req_cons && !seen.req_cons_reads++)
        seen.req_cons = v;
    else if (p == &xs.rsp_cons)
        seen.rsp_cons = v;
    else if (p == &xs.rsp_prod)
        seen.rsp_prod = v;
    else if (p == &cons_page.out_cons) {
        seen.out_cons = v;
        seen.prod_then = con.prod;
        seen.out_cons_read = true;
    }
    return v;
}

/* Between two reads of out_cons the writer used the last one: what it
 * wrote since must fit in what that value left free; after a value out
 * of range it must not write at all. */
FUZZ_ORACLE static void check_console_step(void)
{
    uint32_t size = sizeof(cons_page.out);

    if (!seen.out_cons_read)
        return;
    if (seen.prod_then - seen.out_cons > size) {
        FUZZ_CHECK(con.broken && con.prod == seen.prod_then,
                   "wrote %u bytes after out_cons %u out of range (prod %u)",
                   con.prod - seen.prod_then, seen.out_cons, seen.prod_then);
    } else {
        FUZZ_CHECK(con.prod - seen.out_cons <= size,
                   "wrote over unread bytes: prod %u, out_cons read %u",
                   con.prod, seen.out_cons);
    }
}

static uint64_t now_ns(void)
{
    return now += 50 * 1000 * 1000;     /* bounds pass in a few polls */
}

static long sched_op(int cmd, void *arg)
{
    /* The backend reads a little while we poll. */
    cons_page.out_cons += 64;
    return 0;
}

FUZZ_ORACLE static void xs_put(const uint8_t *src, size_t n)
{
    static char before[XENSTORE_RING_SIZE];
    XENSTORE_RING_IDX prod = xs.req_prod, p0 = prod;
    long put;

    memcpy(before, xs.req, sizeof(before));
    seen.req_cons_reads = 0;
    put = xs_wire_put(&xs, &prod, src, n);
    FUZZ_CHECK(seen.req_cons_reads == 1, "req_cons read %u times",
               seen.req_cons_reads);
    if (p0 - seen.req_cons > XENSTORE_RING_SIZE) {
        FUZZ_CHECK(put == -XEN_EIO && prod == p0,
                   "put %ld after req_cons %u out of range", put,
                   seen.req_cons);
    } else {
        size_t room = XENSTORE_RING_SIZE - (p0 - seen.req_cons);
        FUZZ_CHECK(put == (long)MIN(n, room) && prod == p0 + (uint32_t)put,
                   "put %ld of %zu with room %zu", put, n, room);
    }
    for (uint32_t i = 0; i < XENSTORE_RING_SIZE; i++) {
        uint32_t off = (i - MASK_XENSTORE_IDX(p0)) % XENSTORE_RING_SIZE;
        bool ours = put > 0 && off < (uint32_t)put;
        FUZZ_CHECK(ours ? xs.req[i] == (char)src[off] : xs.req[i] == before[i],
                   "req[%u] %s", i, ours ? "not what was put" : "changed");
    }
    xs.req_prod = prod;
}

static struct {
    XENSTORE_RING_IDX cons;
    bool broken;
} pass;
static struct xs_wire_rx rx;
static struct fuzz_stream taken;        /* consumed since the last message */

FUZZ_ORACLE static void on_message(const struct xsd_sockmsg *h)
{
    uint32_t size = sizeof(*h) + h->len;

    FUZZ_CHECK(!pass.broken, "a message after broken");
    FUZZ_CHECK(h->len <= XENSTORE_PAYLOAD_MAX, "length %u", h->len);
    FUZZ_CHECK(taken.n == size && !memcmp(taken.b, h, sizeof(*h)),
               "a message of %u after %zu bytes consumed", size, taken.n);
    taken.n = 0;
}

static void on_reply(void *ctx, const struct xsd_sockmsg *h, const char *pl)
{
    on_message(h);
}

static void on_watch(void *ctx, const char *pl, size_t len)
{
    struct xsd_sockmsg h;

    FUZZ_CHECK(taken.n >= sizeof(h), "an event with no header consumed");
    memcpy(&h, taken.b, sizeof(h));
    FUZZ_CHECK(h.len + 1 == len, "event of %zu for a length of %u", len,
               h.len);
    on_message(&h);
}

static void on_broken(void *ctx, const char *what, uint32_t prod,
                      uint32_t cons, uint32_t len)
{
    struct xsd_sockmsg h;

    fuzz_ring_read(&h, xs.rsp, cons, sizeof(h));
    FUZZ_CHECK(prod == seen.rsp_prod && cons == seen.rsp_cons,
               "broken on values not the last read");
    FUZZ_CHECK(prod - cons > XENSTORE_RING_SIZE ||
               (!taken.n && h.len > XENSTORE_PAYLOAD_MAX && h.len == len),
               "broken for nothing: %s", what);
    FUZZ_CHECK(xs.rsp_cons == pass.cons, "consumed, then broken");
    pass.broken = true;
    taken.n = 0;
}

/* Each move of rsp_cons is from the rsp_cons it read, inside the window
 * the rsp_prod it read gave, and takes a header whole. */
FUZZ_ORACLE static void on_consumed(void *ctx)
{
    uint32_t moved = xs.rsp_cons - seen.rsp_cons;

    FUZZ_CHECK(seen.rsp_prod - seen.rsp_cons <= XENSTORE_RING_SIZE &&
               moved && moved <= seen.rsp_prod - seen.rsp_cons,
               "rsp_cons %u after reading rsp_cons %u, rsp_prod %u",
               xs.rsp_cons, seen.rsp_cons, seen.rsp_prod);
    fuzz_stream_take(&taken, xs.rsp, seen.rsp_cons, xs.rsp_cons);
    FUZZ_CHECK(taken.n >= sizeof(struct xsd_sockmsg),
               "a header consumed in part");
    pass.cons = xs.rsp_cons;
}

static void xs_receive(void)
{
    static const struct xs_wire_ops ops = {
        .reply = on_reply, .watch = on_watch, .broken = on_broken,
        .consumed = on_consumed,
    };

    pass.cons = xs.rsp_cons;
    pass.broken = false;
    xs_wire_receive(&xs, &rx, payload, &ops, NULL);
}

static void console_done(bool flushed, bool wrote)
{
    check_console_step();
    seen.out_cons_read = false;
    if (flushed && !con.broken)
        FUZZ_CHECK(seen.out_cons == con.prod,
                   "flush said done with out_cons %u, prod %u",
                   seen.out_cons, con.prod);
    if (wrote && !con.broken)
        FUZZ_CHECK(cons_page.out_prod == con.prod, "prod not published");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t nops, i = 0;
    const uint8_t *ops;

    if (size < 2)
        return -1;
    nops = MIN((size_t)(data[0] | data[1] << 8), size - 2);
    ops = data + 2;
    ans = ops + nops;
    ans_n = size - 2 - nops;
    memset(&xs, 0, sizeof(xs));
    memset(&cons_page, 0, sizeof(cons_page));
    memset(&seen, 0, sizeof(seen));
    memset(&rx, 0, sizeof(rx));
    taken.n = 0;
    fuzz_hooks.peer_read = peer_read;
    fuzz_hooks.now_ns = now_ns;
    fuzz_hooks.sched_op = sched_op;
    if (xencons_ring_init(&con, &cons_page, 1) < 0)
        con.broken = true;
    console_done(false, false);
    while (i < nops) {
        uint8_t op = ops[i++];
        size_t n = MIN((size_t)(op >> 3) * 8, nops - i);

        switch (op & 7) {
        case 0:
            xs_put(ops + i, n);
            i += n;
            break;
        case 1:                         /* the backend writes responses */
            for (size_t k = 0; k < n; k++)
                xs.rsp[MASK_XENSTORE_IDX(xs.rsp_prod + k)] = ops[i + k];
            xs.rsp_prod += n;
            i += n;
            break;
        case 2:
            xs_receive();
            break;
        case 3:                         /* the backend reads requests */
            xs.req_cons += n;
            break;
        case 4:
            if (!con.broken)
                xencons_ring_write(&con, (const char *)ops + i, n);
            i += n;
            console_done(false, true);
            break;
        case 5:
            if (!con.broken)
                console_done(xencons_ring_flush(&con), true);
            break;
        case 6:                         /* the console backend reads */
            cons_page.out_cons += (uint32_t)n * 4;
            break;
        default:                        /* start the console over */
            cons_page.out_cons = cons_page.out_prod = (uint32_t)n << 24;
            if (xencons_ring_init(&con, &cons_page, 1) < 0)
                con.broken = true;
            console_done(false, false);
            break;
        }
    }
    return 0;
}
