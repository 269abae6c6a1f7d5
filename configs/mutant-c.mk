# Mutant C (test-only): the pv-spinlock unlock kicks only the first
# waiting vCPU it finds, whatever its ticket, as Linux's Xen spinlocks did before
# ../shared/seeds/002_* (lock/pvlock.c).  regress.kick_all_waiters must
# catch it by its own bound.
CONFIG_CFLAGS := -DBUG_C_KICK_FIRST_WAITER_ONLY=1
CONFIG_EXTRA_SRCS :=
