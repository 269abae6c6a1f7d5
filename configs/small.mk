# The default build optimised for size (-Os).  gcc then inlines less,
# which once exposed a hypercall wrapper that lost its argument registers
# across an out-of-line call; make test boots this config too so such
# optimisation-dependent bugs cannot hide.
CONFIG_CFLAGS := -Os
CONFIG_EXTRA_SRCS :=
