# Mutant S15 (concurrency.md section 7, scenario 15): a vCPU coming up
# clears its pending-event selector just before it enables interrupts,
# taking what is pending for stale (arch/x86/smp.c, ap_main).  An event
# raised on it after its upcall vector was set is then not found by its
# first upcall; hotplug.event_before_online must catch it by its own
# diagnosis.
CONFIG_CFLAGS := -DSCENARIO_15_STALE_EVENTS_CLEARED_AT_ONLINE=1
CONFIG_EXTRA_SRCS :=
