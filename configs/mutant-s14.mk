# Mutant S14 (concurrency.md section 7, scenario 14): unmasking a port
# bound to another vCPU only clears its mask bit here, without
# EVTCHNOP_unmask, so a pending event on it raises no upcall on its
# target (events/twolevel.c).  evtchn.remote_unmask must catch it by its
# own diagnosis, with the target's tick silenced (its rescan would hide it).
CONFIG_CFLAGS := -DSCENARIO_14_REMOTE_UNMASK_LOCAL_ONLY=1
CONFIG_EXTRA_SRCS :=
