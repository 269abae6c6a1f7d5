# Mutant S8 (test-only): a pv-spinlock waiter publishes itself and clears
# its kicker, then polls without re-checking the lock (lock/pvlock.c:
# pv_wait), so an unlock between its spin and its publish, or a kick it
# cleared, leaves it asleep on a free lock (concurrency.md scenario 8).
# Dropping the unlock's full barrier instead would be the same loss, but
# a store-buffer reordering cannot be made to happen on purpose under
# TCG; pvlock.before_check makes this one certain.  spinlock.store_buffer
# must catch it by its own diagnosis.
CONFIG_CFLAGS := -DSCENARIO_8_NO_RECHECK_AFTER_PUBLISH=1
CONFIG_EXTRA_SRCS :=
