# Mutant S17 (test-only): an unlock kicks a vCPU it chose without checking
# that its kicker is still bound (lock/pvlock.c: kick_queue), so a vCPU
# that went down after the choice, its kicker cleared by DEAD, is kicked
# anyway, on a port that is no longer its own (concurrency.md scenario
# 17).  hotplug.kicker_on_dead_vcpu holds the unlock in that window
# (pvlock.before_kick) and must catch it by its own diagnosis.
CONFIG_CFLAGS := -DSCENARIO_17_DEAD_KICKER_NOT_SKIPPED=1
CONFIG_EXTRA_SRCS :=
