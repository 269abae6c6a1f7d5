#!/bin/sh
# Run the xl rig N times in a row and count: how flaky is it, how often
# did a pass need a retry (a known fault, by signature) or the guest's
# upcall watch (a lost interrupt raised again)?  Issue 13 asks for 20
# passes in a row on a quiet host.
#     sh tests/xl/repeat.sh N [xlrun.py options, e.g. --cfg FILE]
# Each run's log is kept as build/logs/xl-repeat-I.log.  Status 0 only if
# every run passed.
set -u
cd "$(dirname "$0")/../.."
n=${1:?usage: sh tests/xl/repeat.sh N [xlrun.py options]}
shift
make -s all > /dev/null || exit 1
passed=0 failed=0 retried=0 recovered=0
i=1
while [ "$i" -le "$n" ]; do
    log=build/logs/xl-repeat-$i.log
    line=$(python3 tests/xl/xlrun.py --elf build/xenith.elf --log "$log" \
           "$@" 2>&1 | grep '^xlrun: \(PASS\|FAIL\|ERROR\|TIMEOUT\)' |
           tail -n 1)
    echo "run $i: ${line:-no verdict line (see $log)}"
    case $line in
    "xlrun: PASS"*) passed=$((passed + 1)) ;;
    *) failed=$((failed + 1)) ;;
    esac
    case $line in
    *"retries: 0 "*) ;;
    *) retried=$((retried + 1)) ;;
    esac
    case $line in
    *"upcall watch: 0 lost"*) ;;
    *) recovered=$((recovered + 1)) ;;
    esac
    i=$((i + 1))
done
echo "xl rig x$n: $passed passed, $failed failed; $retried runs with a" \
     "retry or no retry count, $recovered with a lost interrupt or no" \
     "upcall-watch count"
[ "$failed" -eq 0 ]
