# Mutant S13 (concurrency.md section 7, scenario 13): an affinity move
# lifts the mask it set by clearing the bit, without handing a pending
# event to Xen, so an event that fired during the move is never raised on
# the new vCPU (events/chip.c).  evtchn.no_double_handling must catch it
# by its own diagnosis, with the new vCPU's tick silenced.
CONFIG_CFLAGS := -DSCENARIO_13_MOVE_UNMASK_NO_REPLAY=1
CONFIG_EXTRA_SRCS :=
