/*
 * Indices of a ring shared with a peer (xenstored, xenconsoled).  The
 * peer may write them at any moment with any value, so each is read once
 * per decision, through ring_peer_read, into a local that is checked and
 * then used: a second read could see another value than the one checked
 * (a double fetch).  The host fuzz build (tests/fuzz) defines
 * ring_peer_read first, to answer each read with a value of its choice.
 */
#ifndef XENITH_RING_H
#define XENITH_RING_H

#ifndef ring_peer_read
#define ring_peer_read(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#endif

#endif
