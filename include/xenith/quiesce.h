/* Grace periods for lock-free readers of the event tables (kernel/quiesce.c). */
#ifndef XENITH_QUIESCE_H
#define XENITH_QUIESCE_H

void quiesce_enter(void);       /* upcall loop entry, interrupts off */
void quiesce_exit(void);
/* Inside the loop, between rounds that share no looked-up pointer: a
 * quiescent state, so a grace period never waits for the whole loop. */
void quiesce_pass(void);
/* Return once every other vCPU has left any upcall loop round it was in. */
void grace_wait(void);

#endif
