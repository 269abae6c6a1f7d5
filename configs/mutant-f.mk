# Mutant F (FIFO ABI): a port still LINKED on an offline vCPU's queue is
# closed without the drain, as Linux's FIFO close did before the fix:
# neither the dead vCPU's DEAD step nor the close takes it off its queue
# (events/fifo.c), so Xen never links the port's number again and the
# next binding it is given loses every event.
# regress.fifo_close_linked_on_dead_vcpu must catch it.
CONFIG_CFLAGS := -DBUG_F_CLOSE_LINKED_UNDRAINED=1
CONFIG_EXTRA_SRCS :=
