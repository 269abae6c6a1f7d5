# Mutant D (test-only): a vCPU brought online at run time gets its timer
# VIRQ, IPIs and kicker bound inside the locked bring-up step, as Xen
# guests did when Linux began holding the sparse-irq lock across CPU up
# (../shared/seeds/003_*; kernel/cpu.c).  regress.hotplug_alloc_lock must
# catch it: the bind asserts it is not under the allocation lock.
CONFIG_CFLAGS := -DBUG_D_BIND_UNDER_ALLOC_LOCK=1
CONFIG_EXTRA_SRCS :=
