# Mutant N: an upcall that arrives inside this vCPU's own upcall loop
# runs the loop too (events/upcall.c), so a handler can run inside
# another's, and a nested handle_edge can spin for ever on a descriptor
# lock its interrupted outer one holds (seen under QEMU TCG with
# upcall=callback).  regress.nested_upcall must catch it.
CONFIG_CFLAGS := -DBUG_N_NESTED_UPCALL_RUNS=1
CONFIG_EXTRA_SRCS :=
