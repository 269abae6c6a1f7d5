# Mutant S12 (test-only): unbind frees the descriptor and irq_info as soon
# as the mapping is cleared, without waiting a grace period (events/bind.c,
# unbind), so an upcall on another vCPU that looked the irq up just before
# uses freed memory (concurrency.md scenario 12).  evtchn.deferred_free
# holds that upcall at upcall.after_lookup and must catch the early free.
CONFIG_CFLAGS := -DSCENARIO_12_FREE_NOT_DEFERRED=1
CONFIG_EXTRA_SRCS :=
