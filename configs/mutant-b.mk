# Mutant B (test-only): shutdown closes the port before unbind clears its
# mapping, as Linux's shutdown_pirq did before the fix
# (../shared/seeds/001_*).  regress.close_after_unmap must catch it.
CONFIG_CFLAGS := -DBUG_B_CLOSE_BEFORE_CLEAR=1
CONFIG_EXTRA_SRCS :=
