# Mutant S16 (concurrency.md section 7, scenario 16): the 2-level scan no
# longer serves the timer's port first; it waits for its turn in the
# round robin like any port (events/twolevel.c).  evtchn.fair_scan must
# catch it by its own diagnosis: under a storm on 512 ports below the
# timer's, a timer delivery waits for up to a whole turn of them.
CONFIG_CFLAGS := -DSCENARIO_16_TIMER_NOT_FIRST=1
CONFIG_EXTRA_SRCS :=
