#!/bin/sh
# `make bench`: 5 boots with selftest=boot on 2 vCPUs.  Prints min, median
# and max of the guest's boot time (PVH entry to ready, from its
# "# xenith: boot to ready N us" line) and of the whole QEMU run's wall
# time (QEMU start to exit, Xen's boot included).  Fails if a run did not
# PASS.  Run from the repository root: sh tests/bench.sh
set -u

RUNS=5
VCPUS=2
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
trap 'rm -f "$tmp"; exit 130' INT TERM
bad=0

mkdir -p build/logs
i=1
while [ "$i" -le "$RUNS" ]; do
    out=$(python3 tests/xenrun.py --elf "${ELF:-build/xenith.elf}" \
          --vcpus "$VCPUS" --cmdline "selftest=boot" \
          --report-boot --name "bench-$i")
    rc=$?
    line=$(printf '%s\n' "$out" | grep '^boot_us=')
    boot=$(printf '%s\n' "$line" | sed -n 's/^boot_us=\([0-9][0-9]*\) .*/\1/p')
    wall=$(printf '%s\n' "$line" | sed -n 's/.* wall_s=\([0-9.][0-9.]*\) .*/\1/p')
    hc=$(printf '%s\n' "$line" | sed -n 's/.* hypercalls=\([0-9][0-9]*\)$/\1/p')
    if [ "$rc" -ne 0 ] || [ -z "$boot" ] || [ -z "$wall" ] || [ -z "$hc" ]; then
        printf '%s\n' "$out" | grep -v '^boot_us='
        echo "bench: run $i did not PASS"
        bad=$((bad + 1))
    else
        echo "$boot $wall $hc" >> "$tmp"
        printf 'run %d: boot %6d us, wall %6.2f s, %d hypercalls to ready\n' \
            "$i" "$boot" "$wall" "$hc"
    fi
    i=$((i + 1))
done

# row LABEL COLUMN FORMAT: LABEL, then min, median and max of one column
# of $tmp.
row() {
    sort -n -k "$2,$2" "$tmp" | awk -v l="$1" -v c="$2" -v f="$3" '
        { v[NR] = $c }
        END {
            if (NR == 0) { printf "%-36s %8s %8s %8s\n", l, "-", "-", "-"; exit }
            med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%-36s " f " " f " " f "\n", l, v[1], med, v[NR]
        }'
}

n=$(wc -l < "$tmp")
echo
echo "selftest=boot, $VCPUS vCPUs, $n of $RUNS runs passed:"
printf '%-36s %8s %8s %8s\n' "" min median max
row "guest boot, PVH entry to ready (us)" 1 '%8d'
row "QEMU run, start to exit (s)" 2 '%8.2f'
row "hypercalls, PVH entry to ready" 3 '%8d'
[ "$bad" -eq 0 ]
