# Mutant A (test-only): the evtchn device's unbind holds the lock its
# event handler takes across disable_irq, as Linux's did before the fix
# (../shared/seeds/000_*).  regress.unbind_vs_handler must catch it.
CONFIG_CFLAGS := -DBUG_A_UNBIND_UNDER_HANDLER_LOCK=1
CONFIG_EXTRA_SRCS :=
