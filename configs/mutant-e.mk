# Mutant E (test-only): the late-EOI path reads the irq's target vCPU
# under desc->lock while holding info->lock: the inverse of set_affinity's
# order, the ABBA deadlock of ../shared/seeds/004_* (events/chip.c).
# regress.affinity_no_inversion must catch it by its own bound.
CONFIG_CFLAGS := -DBUG_E_TARGET_UNDER_DESC_LOCK=1
CONFIG_EXTRA_SRCS :=
