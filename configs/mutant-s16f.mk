# Mutant S16f (concurrency.md section 7, scenario 16, under FIFO): the
# timer VIRQ keeps Xen's default priority, so its event waits in the
# same FIFO queue behind every event of a storm (events/fifo.c).
# evtchn.fair_scan must catch it by its own diagnosis, as it catches S16
# under the 2-level ABI.
CONFIG_CFLAGS := -DSCENARIO_16_FIFO_TIMER_DEFAULT_PRIORITY=1
CONFIG_EXTRA_SRCS :=
