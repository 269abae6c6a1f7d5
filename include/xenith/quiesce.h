/* Grace periods for lock-free readers of the event tables (kernel/quiesce.c). */
#ifndef XENITH_QUIESCE_H
#define XENITH_QUIESCE_H

void quiesce_enter(void);       /* upcall loop entry, interrupts off */
void quiesce_exit(void);
/* Return once every other online vCPU has left any upcall loop it was in. */
void grace_wait(void);

#endif
