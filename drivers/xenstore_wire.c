/*
 * The xenstore wire (include/xenith/xenstore_wire.h): the part of the
 * client that reads what the backend wrote, kept apart from the locking
 * and waiting of drivers/xenstore.c so that tests/fuzz runs this very
 * code on the host against a hostile backend.
 *
 * Every index the backend writes is read once per decision through
 * ring_peer_read (include/xenith/ring.h) and checked (never more than a
 * ring apart from ours); a header is copied out of the ring before it is
 * looked at, its length checked against XENSTORE_PAYLOAD_MAX, and the
 * payload copied out before it is used: nothing is read twice from shared
 * memory.
 */
#include <xenith/xenstore_wire.h>
#include <xenith/compiler.h>
#include <xenith/ring.h>
#include <xenith/string.h>
#include <xen/errno.h>

/* n bytes (at most a ring) from rsp[] at idx into dst: two pieces when
 * the ring wraps in between. */
static void ring_copy(const struct xenstore_domain_interface *ring,
                      void *dst, XENSTORE_RING_IDX idx, size_t n)
{
    size_t at = MASK_XENSTORE_IDX(idx);
    size_t first = MIN(n, (size_t)XENSTORE_RING_SIZE - at);

    memcpy(dst, ring->rsp + at, first);
    memcpy((char *)dst + first, ring->rsp, n - first);
}

/* A header is taken whole or not at all: its length is checked before
 * any of it is consumed, so a bad one is left in place for the report. */
static bool take_header(struct xenstore_domain_interface *ring,
                        struct xs_wire_rx *rx, XENSTORE_RING_IDX prod,
                        XENSTORE_RING_IDX cons, const struct xs_wire_ops *ops,
                        void *ctx)
{
    ring_copy(ring, &rx->h, cons, sizeof(rx->h));
    if (rx->h.len > XENSTORE_PAYLOAD_MAX) {
        ops->broken(ctx, "message too long", prod, cons, rx->h.len);
        return false;
    }
    rx->have = 0;
    rx->in_body = true;
    return true;
}

void xs_wire_receive(struct xenstore_domain_interface *ring,
                     struct xs_wire_rx *rx, char *payload,
                     const struct xs_wire_ops *ops, void *ctx)
{
    for (;;) {
        XENSTORE_RING_IDX cons = ring_peer_read(&ring->rsp_cons);
        XENSTORE_RING_IDX prod = ring_peer_read(&ring->rsp_prod);
        size_t n;

        if (ops->corrupt_prod && ops->corrupt_prod(ctx))
            prod = cons + XENSTORE_RING_SIZE + 16;
        if (prod - cons > XENSTORE_RING_SIZE) {
            /* Where the stream stands is lost with the ring. */
            rx->in_body = false;
            ops->broken(ctx, "rsp_prod out of range", prod, cons, 0);
            return;
        }
        if (!rx->in_body) {
            if (prod - cons < sizeof(rx->h))
                return;
            if (!take_header(ring, rx, prod, cons, ops, ctx))
                return;
            n = sizeof(rx->h);
        } else {
            /* A payload longer than the ring comes in pieces: each is
             * copied out and its space given back, so the backend can
             * write the next (XENSTORE_PAYLOAD_MAX is 4 rings). */
            n = MIN((size_t)(prod - cons), (size_t)(rx->h.len - rx->have));
            ring_copy(ring, payload + rx->have, cons, n);
            rx->have += (uint32_t)n;
        }
        if (n) {
            /* Copied out: only now give the space back. */
            __atomic_store_n(&ring->rsp_cons, cons + (XENSTORE_RING_IDX)n,
                             __ATOMIC_RELEASE);
            ops->consumed(ctx);
        }
        if (rx->have < rx->h.len) {
            if (!n)
                return;                 /* the rest is on its way */
            continue;
        }
        payload[rx->h.len] = '\0';
        rx->in_body = false;
        if (rx->h.type == XS_WATCH_EVENT)
            ops->watch(ctx, payload, rx->h.len + 1);
        else
            ops->reply(ctx, &rx->h, payload);
    }
}

long xs_wire_put(struct xenstore_domain_interface *ring,
                 XENSTORE_RING_IDX *prod, const void *src, size_t n)
{
    XENSTORE_RING_IDX cons = ring_peer_read(&ring->req_cons);
    XENSTORE_RING_IDX used = *prod - cons;
    size_t room;

    if (used > XENSTORE_RING_SIZE)
        return -XEN_EIO;
    room = MIN(n, (size_t)(XENSTORE_RING_SIZE - used));
    for (size_t i = 0; i < room; i++) {
        ring->req[MASK_XENSTORE_IDX(*prod)] = ((const char *)src)[i];
        (*prod)++;
    }
    return (long)room;
}

void xs_wire_complete(struct xs_pending *p, const struct xsd_sockmsg *h,
                      const char *payload)
{
    p->type = h->type;
    if (h->type == XS_ERROR) {
        /* Not into the caller's buffer, which may be tiny. */
        strlcpy(p->errstr, payload, sizeof(p->errstr));
    } else {
        p->full = h->len;
        p->len = MIN((size_t)h->len, p->cap);
        memcpy(p->buf, payload, p->len);
    }
    __atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
}

long xs_wire_error(const char *s)
{
    static const struct { const char *name; long err; } errs[] = {
        { "EINVAL", -XEN_EINVAL }, { "EACCES", -XEN_EACCES },
        { "EEXIST", -XEN_EEXIST }, { "EISDIR", -XEN_EISDIR },
        { "ENOENT", -XEN_ENOENT }, { "ENOMEM", -XEN_ENOMEM },
        { "ENOSPC", -XEN_ENOSPC }, { "EIO", -XEN_EIO },
        { "ENOTEMPTY", -XEN_ENOTEMPTY }, { "ENOSYS", -XEN_ENOSYS },
        { "EROFS", -XEN_EROFS }, { "EBUSY", -XEN_EBUSY },
        { "EAGAIN", -XEN_EAGAIN }, { "EISCONN", -XEN_EISCONN },
        { "E2BIG", -XEN_E2BIG }, { "EPERM", -XEN_EPERM },
    };

    for (size_t i = 0; i < ARRAY_SIZE(errs); i++)
        if (!strcmp(s, errs[i].name))
            return errs[i].err;
    return -XEN_EIO;
}

bool xs_wire_watch_token(const char *payload, size_t len, unsigned int *id)
{
    size_t plen = strnlen(payload, len);
    unsigned int v = 0;

    if (plen + 1 >= len)
        return false;                   /* no token: malformed */
    for (const char *t = payload + plen + 1; *t >= '0' && *t <= '9'; t++)
        v = v * 10 + (unsigned int)(*t - '0');
    *id = v;
    return true;
}
