# Debug build: assertions on, less optimisation, for reading backtraces.
CONFIG_CFLAGS := -DCONFIG_DEBUG=1 -O1
CONFIG_EXTRA_SRCS :=
