# Mutant FH (FIFO ABI): a port the consumer finds on its queue but owned
# by another vCPU now is handed back by raising it (setting its pending
# bit again), as events/chip.c's evtchn_hand_back first did.  If the new
# owner handled the event between the consumer's look and the raise, the
# raise makes a second event of it (affinity.no_loss_no_dup saw 1
# duplicate so at 64 vCPUs).  regress.fifo_handback_no_dup must catch it.
CONFIG_CFLAGS := -DBUG_FH_HANDBACK_RAISES=1
CONFIG_EXTRA_SRCS :=
