#!/bin/sh
# `make torture-mutants`: torture (not the regress cases) against every
# mutant build (configs/mutant-*.mk), up to TORTURE_MUTANT_S seconds each
# (default 600) at TORTURE_MUTANT_VCPUS vCPUs (default 4) on 2 pCPUs, with
# one seed for all (TORTURE_SEED, default 1) so a table can be compared
# with the next.  Prints, per mutant, caught or not, the time to the first
# failure and what torture said; a table at the end.  Is torture any good:
# a mutant it cannot catch names a path it does not exercise.
# MUTANTS="a b c" runs only those.  Mutant R (resume without IPIs) needs a
# save and restore, which only the xl rig does: listed, not run.
set -u

S=${TORTURE_MUTANT_S:-600}
VCPUS=${TORTURE_MUTANT_VCPUS:-4}
SEED=${TORTURE_SEED:-1}
all=$(ls configs/mutant-*.mk | sed 's/.*mutant-\(.*\)\.mk/\1/')
MUTANTS=${MUTANTS:-$all}
rows=
caught=0
total=0

# The 2-level mutants (S13-S16b: their code is the 2-level ABI's) run
# under evtchn=2l, as their regress cases do; the rest under FIFO.
abi_of() {
    case $1 in s13|s14|s15|s16|s16b) echo 2l ;; *) echo fifo ;; esac
}

for m in $MUTANTS; do
    up=$(echo "$m" | tr a-z A-Z)
    if [ "$m" = r ]; then
        rows="$rows$(printf '%-5s  %-10s %9s  %s' "$up" "not run" - \
            "needs a save and restore (xl rig: tests/mutants.sh)")
"
        continue
    fi
    total=$((total + 1))
    if ! make -s CONFIG=mutant-$m >/dev/null 2>&1; then
        rows="$rows$(printf '%-5s  %-10s %9s  %s' "$up" "NO BUILD" - -)
"
        continue
    fi
    abi=$(abi_of "$m")
    log=build/logs/torture-mutant-$m.log
    python3 tests/xenrun.py --elf build/xenith-mutant-$m.elf --vcpus "$VCPUS" \
        --smp 2 --timeout $((S * 3 / 2 + 180)) --name "torture-mutant-$m" \
        --log "$log" --cmdline "torture=$S seed=$SEED evtchn=$abi" \
        > "$log.out" 2>&1
    rc=$?
    wall=$(sed -n 's/.* wall=\([0-9.]*\)s.*/\1/p' "$log.out" | tail -n 1)
    # What caught it: torture's own report, a panic, or the runner's bound.
    at=$(grep -a -o "torture: FAILED at [0-9]* ms" "$log" | head -n 1 | \
         sed 's/.* at \([0-9]*\) ms/\1/')
    why=$(grep -a "torture: FAILED at" "$log" | head -n 1 | sed 's/.*: FAILED at [0-9]* ms //')
    if [ -z "$why" ]; then
        why=$(grep -a -m 1 "PANIC on\|# timeout:\|leak:" "$log" | sed 's/^ *#* *//')
    fi
    if [ -n "$at" ]; then
        t=$(awk "BEGIN { printf \"%.1f s\", $at / 1000 }")
    else
        t="${wall:-?} s wall"
    fi
    if [ "$rc" -ne 0 ]; then
        caught=$((caught + 1))
        verdict=caught
    else
        verdict="NOT caught"
        t="-"
        why="passed $S s"
    fi
    line=$(printf '%-5s  %-10s %12s  %-4s %s' "$up" "$verdict" "$t" "$abi" "$why")
    echo "$line"
    rows="$rows$line
"
done

echo
echo "torture=$S seed=$SEED at $VCPUS vCPUs against the mutants:"
printf '%-5s  %-10s %12s  %-4s %s\n' mutant verdict "first fail" abi "what torture saw"
printf '%s' "$rows"
echo "torture-mutants: $caught of $total caught"
