# Mutant S16b (concurrency.md section 7, scenario 16, its second half):
# every pass of the 2-level scan restarts at port 0 instead of where the
# last one stopped, so the low ports of a storm starve the high ones
# (events/twolevel.c).  evtchn.fair_scan must catch it by its own
# diagnosis: storm ports never served while the storm ran.
CONFIG_CFLAGS := -DSCENARIO_16_SCAN_FROM_ZERO=1
CONFIG_EXTRA_SRCS :=
