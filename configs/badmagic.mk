# Test-only build: head.S expects a different start-info magic, so a real
# PVH loader's start info is "wrong" and the refusal path (a message on
# port 0xe9, then stop) runs.  Used by tests/boot-matrix.sh.
CONFIG_CFLAGS := -DCONFIG_TEST_BAD_MAGIC=1
CONFIG_EXTRA_SRCS :=
