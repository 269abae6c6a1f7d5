# Mutant P (FIFO ABI; found by torture, seed 1 at 4 vCPUs): a vCPU that
# comes back does not hand back the events parked on its own per-vCPU
# ports (events/fifo.c, relink_owned).  An IPI or VIRQ bound to it by
# someone else, sent as it went down, stays pending and off every queue,
# and Xen never links it again.  regress.per_vcpu_event_survives_down
# must catch it.
CONFIG_CFLAGS := -DBUG_P_NO_RELINK_ON_RETURN=1
CONFIG_EXTRA_SRCS :=
