/*
 * The xenstore wire (drivers/xenstore_wire.c): messages in and out of the
 * shared ring of xen/io/xs_wire.h, with every index and length the backend
 * writes checked.  Pure C with no kernel around it (no locks, no events),
 * so tests/fuzz runs it on the host; drivers/xenstore.c does the locking,
 * waiting and notifying.
 */
#ifndef XENITH_XENSTORE_WIRE_H
#define XENITH_XENSTORE_WIRE_H

#include <xenith/types.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>

/* A request waiting for its reply. */
struct xs_pending {
    uint32_t req_id;            /* 0: slot free */
    int done;                   /* atomic: reply (or error) is in */
    uint32_t type;              /* reply type */
    long err;                   /* -EIO: the ring broke meanwhile */
    char *buf;                  /* reply payload goes here */
    size_t cap, len, full;      /* full: the reply's own length */
    char errstr[16];            /* an XS_ERROR reply's word */
};

/* What the receive loop hands on; ctx is the caller's. */
struct xs_wire_ops {
    void (*reply)(void *ctx, const struct xsd_sockmsg *h, const char *payload);
    /* payload is "path\0token" (len bytes, NUL-terminated at len - 1). */
    void (*watch)(void *ctx, const char *payload, size_t len);
    /* The backend broke the protocol: fail what is in flight. */
    void (*broken)(void *ctx, const char *what, uint32_t prod, uint32_t cons,
                   uint32_t len);
    void (*consumed)(void *ctx);        /* rsp_cons moved: notify */
    bool (*corrupt_prod)(void *ctx);    /* fault injection, may be NULL */
};

/* A message on its way in, across passes: its header, once taken whole,
 * and how much of its payload is copied out.  Zeroed: between messages. */
struct xs_wire_rx {
    struct xsd_sockmsg h;
    uint32_t have;              /* payload bytes in the caller's buffer */
    bool in_body;               /* h taken; its payload is coming */
};

/*
 * Every message in rsp[], in order, to ops.  A header is copied out of the
 * ring whole before it is looked at, and consumed only once its length is
 * checked; the payload is copied out piece by piece as the backend writes
 * it, each piece's space given back at once (a payload of up to
 * XENSTORE_PAYLOAD_MAX does not fit in the ring), and handed on when
 * whole.  rsp_prod more than a ring ahead of rsp_cons, or a length over
 * XENSTORE_PAYLOAD_MAX, calls broken and stops there, consuming nothing of
 * a bad header; a message half in is dropped with the ring.  payload is
 * the caller's buffer of XENSTORE_PAYLOAD_MAX + 1 bytes, kept with rx
 * between passes.
 */
void xs_wire_receive(struct xenstore_domain_interface *ring,
                     struct xs_wire_rx *rx, char *payload,
                     const struct xs_wire_ops *ops, void *ctx);

/* Up to n bytes of src into req[] at *prod (moved on; not published):
 * how many fitted, or -XEN_EIO if the backend's req_cons is out of range. */
long xs_wire_put(struct xenstore_domain_interface *ring,
                 XENSTORE_RING_IDX *prod, const void *src, size_t n);

/* A reply (h, its payload NUL-terminated at h->len) into its request:
 * at most p->cap bytes into p->buf, an XS_ERROR's word into p->errstr. */
void xs_wire_complete(struct xs_pending *p, const struct xsd_sockmsg *h,
                      const char *payload);
/* An XS_ERROR word as -errno (-XEN_EIO for a word we do not know). */
long xs_wire_error(const char *word);
/* The watch id in an XS_WATCH_EVENT's "path\0token" (len bytes, NUL at
 * len - 1); false if it has no token. */
bool xs_wire_watch_token(const char *payload, size_t len, unsigned int *id);

#endif
