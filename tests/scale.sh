#!/bin/sh
# `make test-scale`: selftest=all with 16, 32, 48 and 64 vCPUs, all on 2
# pCPUs (Xen gives a dom0 at most 64), the overcommit the pv-spinlocks and
# the hotplug paths exist for.  Each case's own bounds scale with the
# vCPUs online (kernel/selftest.c, test_bound_ns); the wall bound here
# leaves room for a loaded host.  Prints a table (vCPUs, verdict, wall
# time) and fails if any run did not PASS.  The four boots take about 2.5
# minutes on 2 idle cores; `make test` runs them too.
# Run from the repository root: ELF=build/xenith.elf sh tests/scale.sh
# SCALE_VCPUS="16 32 48 64" (the default) selects the runs.
set -u

ELF=${ELF:-build/xenith.elf}
SCALE_VCPUS=${SCALE_VCPUS:-16 32 48 64}
# The cases' bounds already grow with the vCPUs (x8 at 64); these runs
# double them again: a CI machine ran the 64-vCPU boot 4.5 times slower
# than an idle one (592 s) and one case failed; on a host loaded on
# purpose here, regress.grace_under_storm failed its then-fixed 1 s
# bound.  A bound only says when a hang is declared.
BOUND_SCALE=${BOUND_SCALE:-2}
rows=
bad=0
whys=

for n in $SCALE_VCPUS; do
    out=$(python3 tests/xenrun.py --elf "$ELF" --vcpus "$n" --smp 2 \
          --timeout $((120 + 15 * n)) --name "scale-v$n" \
          --cmdline "selftest=all bound_scale=$BOUND_SCALE")
    rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep "^xenrun: scale-v$n: [A-Z]" | tail -n 1)
    verdict=$(printf '%s\n' "$line" | sed -n 's/^xenrun: [^:]*: \([A-Z]*\) .*/\1/p')
    wall=$(printf '%s\n' "$line" | sed -n 's/.* wall=\([0-9.]*\)s.*/\1/p')
    counts=$(printf '%s\n' "$line" | sed -n 's/.* \(passed=[0-9-]* failed=[0-9-]* skipped=[0-9-]*\).*/\1/p')
    if [ "$rc" -ne 0 ]; then
        bad=$((bad + 1))
        whys="$whys$(printf '%s\n' "$out" | grep '^xenrun:   \(why\|not ok\|# FAIL\)')
"
    fi
    rows="$rows$(printf '%5s  %-8s %8s s  %s' "$n" "${verdict:-ERROR}" "${wall:--}" "$counts")
"
done

echo
echo "selftest=all on 2 pCPUs:"
printf '%5s  %-8s %10s  %s\n' vCPUs verdict wall counts
printf '%s' "$rows"
# Last, so that a log read from its tail names what failed.
[ -z "$whys" ] || printf '\nWhat failed:\n%s' "$whys"
[ "$bad" -eq 0 ]
