#!/bin/sh
# Fuzz each target for SECONDS (make fuzz; make test's short run):
#   sh tests/fuzz/run.sh SECONDS TARGET...
# The corpus libFuzzer grows goes to build/fuzz/corpus/TARGET (written
# first), the committed seeds are read from tests/fuzz/corpus/TARGET;
# crash, leak and timeout inputs to build/fuzz/artifacts/TARGET-*.
# One line per target (executions, exec/s, coverage, corpus, crashes),
# then a summary; non-zero exit on any crash, with the reproducer's path.
# One job per target, never in parallel: the machine is shared.
set -u
cd "$(dirname "$0")/../.."
secs=$1
shift
out=build/fuzz
mkdir -p "$out/artifacts" "$out/logs"
fail=0
total=0
for t in "$@"; do
    bin=$out/bin/$t
    log=$out/logs/$t.log
    mkdir -p "$out/corpus/$t" "tests/fuzz/corpus/$t"
    # cmdline: Xen passes 1023 bytes at most.  xenstore_reply: 1 KiB of
    # operations reaches every length (its fill operation writes a 4 KiB
    # payload in 4 bytes), and longer inputs only cost executions.
    case $t in
    cmdline) opts="-max_len=1100" ;;
    xenstore_reply) opts="-max_len=1024" ;;
    *) opts="-max_len=4096" ;;
    esac
    dict=
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    # shellcheck disable=SC2086 # the options are meant to split
    "$bin" "$out/corpus/$t" "tests/fuzz/corpus/$t" $opts $dict \
        -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$out/artifacts/$t-" \
        >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(find "$out/corpus/$t" "tests/fuzz/corpus/$t" -type f | wc -l)
    crashes=0
    if [ "$rc" -ne 0 ]; then
        crashes=1
        fail=$((fail + 1))
    fi
    total=$((total + ${execs:-0}))
    printf 'fuzz: %-15s %6ss  execs %10s  exec/s %6s  cov %5s  ft %6s  corpus %5s  crashes %s\n' \
        "$t" "$secs" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" \
        "$corp" "$crashes"
    if [ "$rc" -ne 0 ]; then
        grep -h -m1 -e 'PROPERTY FAILED' -e 'ERROR: ' "$log" | sed 's/^/      /'
        art=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
        echo "      reproducer: ${art:-none written} (log: $log; rerun: $bin ${art:-})"
    fi
done
echo "fuzz: $# targets, ${secs}s each, $total executions, crashes $fail"
[ "$fail" -eq 0 ]
