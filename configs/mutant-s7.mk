# Mutant S7 (test-only): a nested pv-spinlock wait returns to the outer
# wait and leaves the kicker clear (lock/pvlock.c: pv_wait), so the kick
# the outer lock's unlock meant for it, swallowed by the nested wait, is
# never replayed and the outer poll sleeps on a free lock (concurrency.md
# scenario 7).  spinlock.nested_wait must catch it by its own diagnosis.
CONFIG_CFLAGS := -DSCENARIO_7_KICKER_LEFT_CLEAR=1
CONFIG_EXTRA_SRCS :=
