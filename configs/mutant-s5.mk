# Mutant S5 (test-only): a new evtchn_to_irq row is installed with a blind
# store instead of a compare-and-swap against NULL (events/map.c, row_get),
# so of two vCPUs mapping ports in one not-yet-allocated row the later one
# replaces the row the earlier one installed, and that mapping is lost
# (concurrency.md scenario 5).  evtchn.row_race holds one vCPU between
# "row absent" and "install" while vCPU0 maps in the row, and must catch it.
CONFIG_CFLAGS := -DSCENARIO_5_ROW_INSTALLED_BLINDLY=1
CONFIG_EXTRA_SRCS :=
