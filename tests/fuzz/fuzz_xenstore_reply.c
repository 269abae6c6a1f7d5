/*
 * xenstore_reply: the reply and watch-event receiver
 * (drivers/xenstore_wire.c) against a backend that writes what the input
 * says: headers with any type, id and length, payloads delivered in
 * pieces across the ring's wrap, rsp_prod and rsp_cons set to anything.
 *
 * The input is a list of operations (one byte each, then its arguments):
 * write a header, write raw bytes or one byte many times, publish some
 * of what was written, set rsp_prod or rsp_cons outright, put a request
 * in flight (its reply buffer exactly its capacity, so ASan sees a byte
 * written past it), and run the receiver.
 *
 * Properties (each aborts when it does not hold):
 *  - every message handed on is exactly the bytes consumed since the last
 *    (header and payload, across the wrap, as the ring held them when
 *    consumed), its length at most XENSTORE_PAYLOAD_MAX, its payload
 *    NUL-terminated; a header is consumed whole or not at all; rsp_cons
 *    never moves backwards or past the rsp_prod just read;
 *  - a reply fills its request with at most its capacity, the rest
 *    reported by its full length; an XS_ERROR word stays terminated;
 *  - broken is called only for a real breach (rsp_prod more than a ring
 *    ahead, or a header's length over the maximum), ends the pass, and
 *    nothing of a bad header is consumed; the requests in flight are
 *    failed with -EIO;
 *  - a pass that ends otherwise leaves nothing it could take behind: no
 *    whole header, and no payload byte of the message under way (payloads
 *    longer than the ring must stream through it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xenith/xenstore_wire.h>
#include <xen/errno.h>

#define MAX_PENDING 8
#define HDR sizeof(struct xsd_sockmsg)

static struct xenstore_domain_interface ring;
static XENSTORE_RING_IDX wpos;          /* where the backend writes next */
static struct xs_pending pending[MAX_PENDING];
static struct xs_wire_rx rx;
static char payload[XENSTORE_PAYLOAD_MAX + 1];
static struct fuzz_stream taken;        /* consumed since the last message */

/* One pass of the receiver, as seen from outside. */
static struct {
    XENSTORE_RING_IDX cons;             /* rsp_cons as last moved */
    XENSTORE_RING_IDX prod_read;        /* the last rsp_prod it read */
    bool broken;
} pass;

FUZZ_ORACLE static uint32_t peer_read(const volatile uint32_t *p)
{
    uint32_t v = *p;

    if (p == &ring.rsp_prod)
        pass.prod_read = v;
    return v;
}

/* The message handed on: what was consumed since the last one. */
FUZZ_ORACLE static void check_message(const struct xsd_sockmsg *h, const char *pl)
{
    FUZZ_CHECK(!pass.broken, "a message handed on after broken");
    FUZZ_CHECK(h->len <= XENSTORE_PAYLOAD_MAX, "length %u", h->len);
    FUZZ_CHECK(taken.n == HDR + h->len,
               "%zu bytes consumed for a message of %zu", taken.n,
               HDR + h->len);
    FUZZ_CHECK(!memcmp(taken.b, h, HDR), "header not the ring's");
    FUZZ_CHECK(!memcmp(taken.b + HDR, pl, h->len),
               "payload not the ring's");
    FUZZ_CHECK(pl[h->len] == '\0', "payload not terminated");
    taken.n = 0;
}

FUZZ_ORACLE static void on_reply(void *ctx, const struct xsd_sockmsg *h, const char *pl)
{
    check_message(h, pl);
    for (int i = 0; i < MAX_PENDING; i++) {
        struct xs_pending *p = &pending[i];

        if (!p->req_id || p->done || p->req_id != h->req_id)
            continue;
        xs_wire_complete(p, h, pl);
        FUZZ_CHECK(p->done && p->type == h->type, "not completed");
        if (h->type == XS_ERROR) {
            long e = xs_wire_error(p->errstr);
            FUZZ_CHECK(memchr(p->errstr, '\0', sizeof(p->errstr)),
                       "error word not terminated");
            FUZZ_CHECK(e < 0 && e >= -XEN_EISCONN - 200, "error %ld", e);
        } else {
            FUZZ_CHECK(p->len == MIN((size_t)h->len, p->cap) &&
                       p->full == h->len, "len %zu full %zu for %u into %zu",
                       p->len, p->full, h->len, p->cap);
            FUZZ_CHECK(!memcmp(p->buf, pl, p->len), "reply bytes differ");
        }
        break;
    }
}

FUZZ_ORACLE static void on_watch(void *ctx, const char *pl, size_t len)
{
    struct xsd_sockmsg h;
    unsigned int id;
    bool ok;

    /* No header comes with an event: the one consumed it must be. */
    FUZZ_CHECK(taken.n >= HDR, "an event with no header consumed");
    memcpy(&h, taken.b, HDR);
    FUZZ_CHECK(h.type == XS_WATCH_EVENT && h.len + 1 == len,
               "event of type %u, %zu bytes for a length of %u", h.type, len,
               h.len);
    check_message(&h, pl);
    ok = xs_wire_watch_token(pl, len, &id);
    FUZZ_CHECK(ok == (strnlen(pl, len) + 1 < len), "token found: %d", ok);
}

FUZZ_ORACLE static void on_broken(void *ctx, const char *what, uint32_t prod,
                      uint32_t cons, uint32_t len)
{
    struct xsd_sockmsg h;

    FUZZ_CHECK(!pass.broken, "broken twice in a pass");
    FUZZ_CHECK(cons == pass.cons && ring.rsp_cons == pass.cons,
               "consumed into the bad message");
    fuzz_ring_read(&h, ring.rsp, cons, HDR);
    FUZZ_CHECK(prod - cons > XENSTORE_RING_SIZE ||
               (taken.n == 0 && prod - cons >= HDR &&
                h.len > XENSTORE_PAYLOAD_MAX && h.len == len),
               "broken for nothing: %s (prod %u cons %u len %u)", what, prod,
               cons, len);
    pass.broken = true;
    taken.n = 0;                        /* a half message goes with it */
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i].req_id && !pending[i].done) {
            pending[i].err = -XEN_EIO;
            pending[i].done = 1;
        }
}

FUZZ_ORACLE static void on_consumed(void *ctx)
{
    XENSTORE_RING_IDX now = ring.rsp_cons;

    FUZZ_CHECK(now != pass.cons && now - pass.cons <= pass.prod_read - pass.cons,
               "rsp_cons moved from %u to %u with rsp_prod %u", pass.cons,
               now, pass.prod_read);
    fuzz_stream_take(&taken, ring.rsp, pass.cons, now);
    FUZZ_CHECK(taken.n >= HDR, "a header consumed in part (%zu bytes)",
               taken.n);
    pass.cons = now;
}

static void receive(void)
{
    static const struct xs_wire_ops ops = {
        .reply = on_reply, .watch = on_watch, .broken = on_broken,
        .consumed = on_consumed,
    };

    pass.cons = ring.rsp_cons;
    pass.broken = false;
    xs_wire_receive(&ring, &rx, payload, &ops, NULL);
    if (!pass.broken) {
        XENSTORE_RING_IDX avail = ring.rsp_prod - ring.rsp_cons;

        FUZZ_CHECK(avail <= XENSTORE_RING_SIZE, "a bad rsp_prod passed");
        FUZZ_CHECK(taken.n ? avail == 0 : avail < HDR,
                   "%u bytes left behind %s", avail,
                   taken.n ? "in a message under way" : "with no message "
                   "under way");
    }
}

/* n bytes of src (NULL: n copies of fill) into rsp[] at wpos, wrapping:
 * a piece at a time, so a payload of 4 KiB costs a few copies. */
FUZZ_ORACLE static void put_fill(const void *src, int fill, size_t n)
{
    while (n) {
        size_t at = MASK_XENSTORE_IDX(wpos);
        size_t k = MIN(n, (size_t)XENSTORE_RING_SIZE - at);

        if (src) {
            memcpy(ring.rsp + at, src, k);
            src = (const char *)src + k;
        } else {
            memset(ring.rsp + at, fill, k);
        }
        wpos += (XENSTORE_RING_IDX)k;
        n -= k;
    }
}

static void put(const void *src, size_t n)
{
    put_fill(src, 0, n);
}

struct in {
    const uint8_t *p;
    size_t n;
};

FUZZ_ORACLE static uint32_t take(struct in *in, int bytes)
{
    uint32_t v = 0;

    for (int i = 0; i < bytes && in->n; i++, in->p++, in->n--)
        v |= (uint32_t)*in->p << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t types[] = {
        XS_READ, XS_WRITE, XS_ERROR, XS_WATCH_EVENT, XS_DIRECTORY,
        XS_TRANSACTION_START,
    };
    struct in in = { data, size };

    memset(&ring, 0, sizeof(ring));
    memset(pending, 0, sizeof(pending));
    memset(&rx, 0, sizeof(rx));
    taken.n = 0;
    wpos = 0;
    fuzz_hooks.peer_read = peer_read;
    /* Start anywhere on the 32-bit index circle, wraps included. */
    ring.rsp_cons = ring.rsp_prod = wpos = take(&in, 4);
    while (in.n) {
        switch (take(&in, 1) % 9) {
        case 0: {                       /* a header, its length as given */
            uint8_t t = (uint8_t)take(&in, 1);
            struct xsd_sockmsg h = {
                .type = t < 0x80 ? types[t % ARRAY_SIZE(types)] : t,
                .req_id = take(&in, 1) % 10,
                .tx_id = 0,
                .len = take(&in, 2),
            };
            if (h.len & 0x8000)
                h.len |= take(&in, 2) << 16;
            put(&h, sizeof(h));
            break;
        }
        case 1: {                       /* raw bytes */
            size_t n = take(&in, 1);
            n = MIN(n, in.n);
            put(in.p, n);
            in.p += n, in.n -= n;
            break;
        }
        case 2:                         /* publish all written */
            ring.rsp_prod = wpos;
            receive();
            break;
        case 3:                         /* publish part of it */
        {
            uint32_t n = take(&in, 1);
            ring.rsp_prod += MIN(n, wpos - ring.rsp_prod);
        }
            receive();
            break;
        case 4:                         /* rsp_prod: anything */
            ring.rsp_prod = take(&in, 4);
            receive();
            break;
        case 5:                         /* rsp_cons: anything */
            ring.rsp_cons = take(&in, 4);
            receive();
            break;
        case 6: {                       /* a request in flight */
            struct xs_pending *p = &pending[take(&in, 1) % MAX_PENDING];
            if (p->req_id)
                free(p->buf);
            *p = (struct xs_pending){ .req_id = 1 + take(&in, 1) % 9 };
            p->cap = take(&in, 2) % (XENSTORE_PAYLOAD_MAX + 2);
            p->buf = malloc(p->cap ? p->cap : 1);
            break;
        }
        case 7: {                       /* a byte over and over: payloads
                                         * longer than the ring, cheaply */
            size_t n = take(&in, 2) % (XENSTORE_PAYLOAD_MAX + 1);

            put_fill(NULL, (uint8_t)take(&in, 1), n);
            break;
        }
        default:                        /* an event with nothing new */
            receive();
            break;
        }
    }
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i].req_id)
            free(pending[i].buf);
    return 0;
}
