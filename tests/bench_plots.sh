#!/bin/sh
# make bench's pictures: build/bench/*.dat (written by tests/bench.sh) to
# PNGs beside them, with gnuplot (tests/deps.sh installs gnuplot-nox).  A
# picture is drawn only when its part of the bench ran and left data.
# Prints the path of every picture written.  Run from the repository root:
# sh tests/bench_plots.sh [DIR]
set -u
D=${1:-build/bench}
bad=0

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "bench: gnuplot missing, no pictures (sh tests/deps.sh installs it)"
    exit 1
fi

COMMON="set terminal pngcairo size 960,600 font 'sans,11' noenhanced
set grid
set datafile missing '-'
set key top left box opaque"

# draw NAME: gnuplot's script on stdin, output $D/NAME.png.
draw() {
    { printf '%s\n' "$COMMON"; printf "set output '%s/%s.png'\n" "$D" "$1"; cat; } |
        gnuplot 2>"$D/$1.err"
    if [ -s "$D/$1.png" ] && ! [ -s "$D/$1.err" ]; then
        echo "bench: wrote $D/$1.png"
        rm -f "$D/$1.err"
    else
        echo "bench: gnuplot failed on $1 ($D/$1.err)"
        bad=$((bad + 1))
    fi
}

if [ -s "$D/lock.dat" ]; then
    draw lock_throughput <<EOF
set title 'One lock taken by every online vCPU, on 2 pCPUs (QEMU TCG)'
set xlabel 'vCPUs (4 and more: overcommitted, vCPUs preempted while they hold or wait)'
set ylabel 'lock acquisitions per second'
set logscale x 2
set logscale y 10
set xtics (2, 4, 8, 16, 32, 64)
set xrange [1.8:72]
set key bottom left
plot '$D/lock.dat' using 1:2 with linespoints lw 2 pt 7 title 'pv-spinlock: spin briefly, then SCHEDOP_poll; unlock kicks', \
     '' using 1:3 with linespoints lw 2 pt 5 title 'plain ticket lock: spin until served'
EOF
    draw lock_hypercalls <<EOF
set title 'pv-spinlock: hypercalls per acquisition (one lock, every vCPU, 2 pCPUs)'
set xlabel 'vCPUs'
set ylabel 'per acquisition'
set logscale x 2
set xtics (2, 4, 8, 16, 32, 64)
set xrange [1.8:72]
set yrange [0:*]
set offsets 0, 0, graph 0.05, 0
plot '$D/lock.dat' using 1:4 with linespoints lw 2 pt 7 title 'all the lock''s hypercalls', \
     '' using 1:5 with linespoints lw 2 pt 5 title 'SCHEDOP_poll calls', \
     '' using 1:6 with linespoints lw 2 pt 9 title 'kicks sent (one multicall per unlock)'
EOF
fi

if [ -s "$D/ports.dat" ]; then
    draw ports <<EOF
set title 'Event delivery against ports bound, 4 vCPUs on 2 pCPUs (QEMU TCG)'
set xlabel 'ports bound (2-level ABI: at most 4096)'
set ylabel 'microseconds per event'
set logscale x 10
set format x '%.0f'
set xrange [0.7:300000]
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set key top left
plot '$D/ports.dat' using 1:2 with linespoints lw 2 pt 7 title 'upcall dispatch, FIFO', \
     '' using 1:3 with linespoints lw 2 pt 5 title 'upcall dispatch, 2-level', \
     '' using 1:4 with linespoints lw 2 pt 9 dt 2 title 'send->handler, FIFO (median)', \
     '' using 1:5 with linespoints lw 2 pt 11 dt 2 title 'send->handler, 2-level (median)'
EOF
fi

if [ -s "$D/boot.dat" ]; then
    total2=$(awk '$1 == "ready" { print $2 }' "$D/boot.dat")
    total4=$(awk '$1 == "ready" { print $3 }' "$D/boot.dat")
    grep -v '^ready ' "$D/boot.dat" > "$D/boot-steps.dat"
    draw boot <<EOF
set title 'Boot, PVH entry to ready, per step (medians of 5 boots): ${total2:-?} us at 2 vCPUs, ${total4:-?} us at 4'
set ylabel 'microseconds'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [0:*]
set offsets 0, 0, graph 0.05, 0
set key top left
plot '$D/boot-steps.dat' using 2:xtic(1) title '2 vCPUs', '' using 3 title '4 vCPUs (on 2 pCPUs)'
EOF
fi
[ "$bad" -eq 0 ]
