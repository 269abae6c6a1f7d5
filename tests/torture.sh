#!/bin/sh
# `make torture` (tests/torture/): torture=TORTURE_S on each vCPU count
# given, all on 2 pCPUs, with the debug build (lock-order checker and
# assertions on).  Prints each run's progress (operations per kind every
# 10 s), its totals, and on a failure its seed and every vCPU's last
# operations; ends with a table and fails if any run did not pass.
# Run from the repository root:
#   ELF=build/xenith-debug.elf TORTURE_S=300 sh tests/torture.sh 8 64
# TORTURE_SEED=N makes every run use that seed (default: each draws one
# and prints it).  TORTURE_ARGS adds to the command line (evtchn=2l).
set -u

ELF=${ELF:-build/xenith-debug.elf}
TORTURE_S=${TORTURE_S:-300}
seed=${TORTURE_SEED:+ seed=$TORTURE_SEED}
args=${TORTURE_ARGS:+ $TORTURE_ARGS}
rows=
bad=0

for n in "$@"; do
    log=build/logs/torture-v$n.log
    # Boot and the end's checks take up to a few minutes at 64 vCPUs.
    python3 tests/xenrun.py --elf "$ELF" --vcpus "$n" --smp 2 \
        --timeout $((TORTURE_S * 3 / 2 + 120 + 5 * n)) --name "torture-v$n" \
        --log "$log" --cmdline "torture=$TORTURE_S$seed$args" > "$log.out" 2>&1
    rc=$?
    grep -a "# torture: \|^xenrun: torture" "$log" "$log.out" | sed 's/^[^:]*://'
    line=$(grep "^xenrun: torture-v$n: [A-Z]" "$log.out" | tail -n 1)
    verdict=$(printf '%s\n' "$line" | sed -n 's/^xenrun: [^:]*: \([A-Z]*\) .*/\1/p')
    wall=$(printf '%s\n' "$line" | sed -n 's/.* wall=\([0-9.]*\)s.*/\1/p')
    s=$(grep -a -o "torture: seed=[0-9]*" "$log" | head -n 1 | sed 's/.*=//')
    ops=$(grep -a "# torture: end, " "$log" | head -n 1 | \
          sed 's/.*: ops //' | tr ' ' '\n' | awk 'NR % 2 == 0 { t += $1 } END { print t + 0 }')
    fails=$(grep -a -o "failures [0-9]*" "$log" | tail -n 1 | sed 's/failures //')
    [ "$rc" -eq 0 ] || bad=$((bad + 1))
    rows="$rows$(printf '%5s  %-8s %8s s  %9s ops  %3s failures  seed=%s' \
        "$n" "${verdict:-ERROR}" "${wall:--}" "${ops:--}" "${fails:--}" "${s:--}")
"
done

echo
echo "torture=$TORTURE_S on 2 pCPUs ($(basename "$ELF")):"
printf '%5s  %-8s %10s  %13s  %12s  %s\n' vCPUs verdict wall operations failures seed
printf '%s' "$rows"
[ "$bad" -eq 0 ]
