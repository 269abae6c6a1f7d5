# Debug build: assertions and the lock-order checker on, less optimisation,
# for reading backtraces.
CONFIG_CFLAGS := -DCONFIG_DEBUG=1 -DCONFIG_LOCK_ORDER=1 -O1
CONFIG_EXTRA_SRCS :=
