# Test-only build: debug checks plus the `faildemo` suite, whose cases fail
# and hang on purpose so the host runner can be shown to catch both.
# Never the default run: the suite exists only in this config.
CONFIG_CFLAGS := -DCONFIG_DEBUG=1 -DCONFIG_LOCK_ORDER=1 -DCONFIG_FAILDEMO=1
CONFIG_EXTRA_SRCS := tests/faildemo/faildemo.c
