# Mutant R (test-only): resume in a new domain without binding the IPIs
# again (events/resume.c): their irqs keep the ports of the old domain,
# where nothing listens.  The first cross-vCPU call after a restore or a
# migration goes nowhere.  control.suspend_resume_under_load, run by the
# xl rig's check_save_restore (tests/mutants.sh), must catch it.
CONFIG_CFLAGS := -DBUG_R_RESUME_NO_IPIS=1
CONFIG_EXTRA_SRCS :=
