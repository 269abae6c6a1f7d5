# The default build: what users run.  No debug checks, no test-only code.
CONFIG_CFLAGS :=
CONFIG_EXTRA_SRCS :=
