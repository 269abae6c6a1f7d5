# Mutant B (test-only): the port is closed before its mapping is cleared,
# as Linux's shutdown_pirq did before the fix (../shared/seeds/001_*):
# PIRQ shutdown in events/pirq.c, every other type's shutdown in
# events/chip.c.  regress.close_after_unmap must catch both (scenarios 3
# and 4).
CONFIG_CFLAGS := -DBUG_B_CLOSE_BEFORE_CLEAR=1
CONFIG_EXTRA_SRCS :=
