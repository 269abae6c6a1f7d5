/* Grace periods for lock-free readers of the event tables (kernel/quiesce.c). */
#ifndef XENITH_QUIESCE_H
#define XENITH_QUIESCE_H

#include <xenith/types.h>

void quiesce_enter(void);       /* upcall loop entry, interrupts off */
void quiesce_exit(void);

/* A read-side section outside the upcall loop (thread or irq context):
 * interrupts off for its length, so keep it to a load and a hypercall.
 * Inside the upcall loop it adds nothing (that loop is one already). */
struct read_section {
    unsigned long flags;
    bool entered;
};
struct read_section quiesce_read_begin(void);
void quiesce_read_end(struct read_section rs);

/* Inside the loop, between rounds that share no looked-up pointer: a
 * quiescent state, so a grace period never waits for the whole loop. */
void quiesce_pass(void);
/* Return once every other vCPU has left any read-side section (upcall
 * loop round or quiesce_read_begin) it was in. */
void grace_wait(void);

#endif
