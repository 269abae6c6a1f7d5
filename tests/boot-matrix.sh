#!/bin/sh
# The boot runs of `make test`: each is one check, reported as a PASS or
# FAIL line, then a last line "N passed, M failed"; the status is non-zero
# when a check failed.  Needs build/xenith.elf and build/xenith-failtest.elf
# (make; make CONFIG=failtest) and build/xen (sh tests/deps.sh).  Runs are
# sequential (the machines have 2 cores); logs go to build/logs/.
#
# Run from the repository root: sh tests/boot-matrix.sh
set -u

RUN="python3 tests/xenrun.py"
ELF=build/xenith.elf
FAILTEST_ELF=build/xenith-failtest.elf
BADMAGIC_ELF=build/xenith-badmagic.elf
DEBUG_ELF=build/xenith-debug.elf
SMALL_ELF=build/xenith-small.elf
passed=0
failed=0

mkdir -p build/logs

# check DESCRIPTION XENRUN-ARGS...  Every run is bounded at 30 s (a normal
# one takes under 5), so a change that hangs every boot still ends the
# matrix in minutes; a check may give its own --timeout.  An expected
# failure must also show its evidence (--grep): the runner judges a run
# that never reached the guest ERROR, never FAIL.
check() {
    desc=$1
    shift
    out=$($RUN --timeout 30 "$@")
    rc=$?
    printf '%s\n' "$out"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS: $desc"
    else
        failed=$((failed + 1))
        echo "FAIL: $desc"
        whys="${whys}FAIL: $desc
$(printf '%s\n' "$out" | grep '^xenrun:   \(why\|not ok\|# FAIL\|no output\)')
"
    fi
}
whys=""

for f in "$ELF" "$DEBUG_ELF" "$SMALL_ELF" "$FAILTEST_ELF" "$BADMAGIC_ELF" \
         build/xen; do
    if [ ! -f "$f" ]; then
        echo "boot-matrix: $f missing (make; make CONFIG=failtest;" \
             "sh tests/deps.sh)" >&2
        exit 2
    fi
done

# a) every suite, at 1, 2, 4 and 8 vCPUs (4 and 8 vCPUs on 2 pCPUs:
# real overcommit, vCPUs preempted by Xen mid-race), under each
# event-channel ABI by name at 4 and 8.  Each boot of selftest=all at 4
# or 8 vCPUs costs 35-45 s, so each tests several things at once: the
# ABIs at 4 vCPUs run in the debug and small builds (a'), the small one
# with upcall=callback too, FIFO at 8 in the debug build with vCPUs
# offline (a~); the default build's 8 vCPUs run the 2-level ABI here.
for n in 1 2; do
    check "selftest=all, $n vCPUs on $n pCPUs" --name "v$n-selftest_all" \
        --vcpus "$n" --smp "$n" --cmdline "selftest=all" --expect PASS \
        --timeout 120
done
check "evtchn=2l, selftest=all, 8 vCPUs on 2 pCPUs" \
    --name "v8-2l-selftest_all" --vcpus 8 --smp 2 \
    --cmdline "selftest=all evtchn=2l" --expect PASS --timeout 120 \
    --grep "# events: 2-level ABI"

# a') booted exactly as Xen's CI smoke job boots XTF: no kernel command
# line, no exit device, noreboot, the serial console into a file; the
# default selection must end in "Test result: SUCCESS" within the bound.
if python3 tests/xen_ci_boot.py --elf "$ELF" --timeout 60 \
        >build/logs/xen-ci-boot.out 2>&1; then
    passed=$((passed + 1))
    echo "PASS: no command line, as Xen's CI boots XTF: Test result: SUCCESS"
else
    failed=$((failed + 1))
    echo "FAIL: no command line, as Xen's CI boots XTF (build/logs/xen-ci-boot.out)"
fi

# a'') all the RAM Xen gives: dom0_mem=5G (QEMU -m 6144), so RAM lies
# above 4 GiB; the allocator must cover it and mm.high_memory take pages
# from there.
check "dom0_mem=5G: RAM above 4 GiB mapped and handed out" \
    --name "v2-mem5g-selftest_mm" --vcpus 2 --smp 2 --mem 5120 \
    --cmdline "selftest=mm,boot" --expect PASS --timeout 180 \
    --grep "mm: [0-9]+ MiB RAM \\([0-9]*[1-9][0-9]* MiB of it above 4 GiB\\)" \
    --grep "^    ok [0-9]+ high_memory$"

# a*) the historic-bug regressions, 50 rounds each, 4 vCPUs on 2 pCPUs
# (each mutant shows one round catches its bug; the rounds are for the
# fixed code, whose flake would show here; 200 took 148 s and 100 60 s,
# too much of make test's 20 minutes on CI's slower machine); then the
# races the code review found, 20 rounds each: their windows hold a vCPU
# for up to a second and take
# vCPUs down and up, so 200 rounds of all ten take 7 minutes (run by
# hand: selftest=regress.* iterations=200, README).
HISTORIC=regress.unbind_vs_handler,regress.close_after_unmap
HISTORIC=$HISTORIC,regress.kick_all_waiters,regress.hotplug_alloc_lock
HISTORIC=$HISTORIC,regress.affinity_no_inversion
REVIEW=regress.up_timeout_late_vcpu,regress.kick_idle_vs_unbind
REVIEW=$REVIEW,regress.watch_deferred_wakeup,regress.console_flush_vs_write
REVIEW=$REVIEW,regress.grace_under_storm,hotplug.cancelled_down_quiet
check "historic-bug regressions, 50 rounds, 4 vCPUs" \
    --name "v4-regress_x50" --vcpus 4 --smp 2 --timeout 300 \
    --cmdline "selftest=$HISTORIC iterations=50" --expect PASS
check "review-race regressions, 20 rounds, 4 vCPUs" \
    --name "v4-regress_review_x20" --vcpus 4 --smp 2 --timeout 300 \
    --cmdline "selftest=$REVIEW iterations=20" --expect PASS

# a-) the hotplug stress case (run by name: about 20 s): 1000 offline and
# online cycles under event-channel load, 4 vCPUs on 2 pCPUs; and offline=
# at boot, through the same path, with a vCPU then brought back by a test.
check "selftest=hotplug.stress, 4 vCPUs on 2 pCPUs" --name "v4-hotplug_stress" \
    --vcpus 4 --smp 2 --timeout 300 --cmdline "selftest=hotplug.stress" \
    --expect PASS --grep "1000 cycles of vCPU[0-9]+ .* 0 lost"
check "offline=3: vCPU3 starts offline, the suites still pass" \
    --name "v4-offline_3" --vcpus 4 --smp 2 --timeout 120 \
    --cmdline "offline=3 selftest=smp,hotplug.*,spinlock" --expect PASS \
    --grep "hotplug: vCPU3 offline \(offline=\)"

# a~) vCPUs missing from the middle (offline=2,5 leaves 0 1 3 4 6 7, as
# xl vcpu-set or a domU's maxvcpus would): every case picks the vCPUs it
# uses at run time (test_pick_cpus), none names a number but 0.  The
# debug build (assertions, the lock-order checker) under FIFO, 8 vCPUs on
# 2 pCPUs; the default build's missing vCPUs are the scale run's and the
# xl rig's (xl vcpu-set).
check "CONFIG=debug, offline=2,5, evtchn=fifo, selftest=all, 8 vCPUs on 2 pCPUs" \
    --name "debug-v8-offline_2_5-fifo-selftest_all" --elf "$DEBUG_ELF" \
    --vcpus 8 --smp 2 --timeout 900 \
    --cmdline "selftest=all offline=2,5 evtchn=fifo" --expect PASS \
    --grep "8 vCPUs \(6 online\)" --grep "# events: FIFO ABI"

# a') the debug (-O1, assertions and the lock-order checker on) and small
# (-Os) builds run the same suites: different inlining, different bugs
# shaken out.  4 vCPUs on 2 pCPUs, so that the regress cases (which need 3
# or 4) run under the lock-order checker instead of skipping.
check "CONFIG=debug, evtchn=2l, selftest=all, 4 vCPUs on 2 pCPUs" \
    --name "debug-v4-2l-selftest_all" --elf "$DEBUG_ELF" --vcpus 4 \
    --smp 2 --timeout 180 --cmdline "selftest=all evtchn=2l" \
    --expect PASS --grep "# events: 2-level ABI"

# The small build also runs the fallback upcall (HVM_PARAM_CALLBACK_IRQ,
# no LAPIC EOI), forced: Xen here always offers the per-vCPU vector, so
# nothing else runs it.
check "CONFIG=small (-Os), evtchn=fifo, upcall=callback, selftest=all, 4 vCPUs on 2 pCPUs" \
    --name "small-v4-fifo-callback-selftest_all" --elf "$SMALL_ELF" --vcpus 4 \
    --smp 2 --timeout 120 \
    --cmdline "selftest=all evtchn=fifo upcall=callback" \
    --expect PASS --grep "# events: FIFO ABI" \
    --grep "domain-wide, HVM_PARAM_CALLBACK_IRQ"

# a'') console=e9 alone: the KTAP arrives only through Xen's "(d0)" mirror of
# port 0xe9, and the runner must still read it.
check "console=e9: KTAP through the port 0xe9 mirror" --name "v1-console_e9" \
    --cmdline "selftest=hypercall console=e9" --expect PASS \
    --grep "^\(d0\) Test result: SUCCESS"

# b) a pattern that matches nothing is an error that names the suites.
check "selftest=nonexistent fails and lists the suites" \
    --name "v1-selftest_nonexistent" --cmdline "selftest=nonexistent" \
    --expect FAIL --grep "pattern 'nonexistent' matches no test" \
    --grep "available suites: .*boot, cmdline, "

# Every run judged PASS above was also judged not vacuous (xenrun.py,
# vacuity_problems): the vCPUs asked for came online, some case ran, and
# every skip is explained by too few vCPUs or by what a dom0 lacks
# (xenstore, a PV console ring); any other skip fails the check.

# c) garbage command lines: each has an error, so each run fails cleanly
# (never a panic or a timeout).
check "garbage: empty selftest=" --name "v1-garbage_empty_selftest" \
    --cmdline "selftest=" --expect FAIL \
    --grep "cmdline: error: selftest= needs a value"
check "garbage: iterations=0x" --name "v1-garbage_iterations_0x" \
    --cmdline "iterations=0x selftest=boot" --expect FAIL \
    --grep "cmdline: error: iterations= wants a number"
# 2000 characters of a=b tokens.  Xen hands dom0 only the first 1023 bytes
# of its command line, so the kernel sees a line of unknown options (only
# warnings) that fills its buffer exactly, which it warns may have been
# cut: PASS (no test selected), never a panic or a timeout.
long=$(printf 'a=b %.0s' $(seq 500))
check "garbage: 2000-character line" --name "v1-garbage_long_line" \
    --cmdline "$long" --expect PASS --no-tests-ok --grep "may have been cut"
check "garbage: empty patterns, bad loglevel and console" \
    --name "v1-garbage_mixed" \
    --cmdline "selftest=boot,,,*** loglevel=99 console=nope exit=qemu" \
    --expect FAIL --grep "cmdline: error: empty pattern" \
    --grep "cmdline: error: loglevel=" --grep "cmdline: error: console="
check "garbage: non-ASCII bytes" --name "v1-garbage_non_ascii" \
    --cmdline "$(printf 'selftest=bo\303\251t')" --expect FAIL \
    --grep "cmdline: error: invalid character in selftest pattern 'bo\?\?t'"

# d) the runner catches a failing and a hanging test (CONFIG=failtest).
check "faildemo.fails is reported as a failure" \
    --name "failtest-v1-faildemo_fails" --elf "$FAILTEST_ELF" \
    --cmdline "selftest=faildemo.fails" --expect FAIL \
    --grep "# FAIL tests/faildemo/faildemo.c:[0-9]+: 1 \+ 1 == 3" \
    --grep "^    not ok 1 fails$"
check "faildemo.hangs is caught by the watchdog" \
    --name "failtest-v1-faildemo_hangs" --elf "$FAILTEST_ELF" \
    --cmdline "selftest=faildemo.hangs" --expect FAIL \
    --grep "timeout: faildemo.hangs still running after 500 ms" \
    --grep "^    not ok 1 hangs # timeout$"

# A hang with interrupts off: with 2 vCPUs the other vCPU's timer tick
# sees the bound pass and ends the run by name, after the hang report
# (kernel/hang_report.c: each vCPU's state, its upcall, the pending
# ports); with 1 vCPU nothing in the kernel can, and the runner's own
# wall bound must end it.
check "faildemo.hangs_irqs_off is caught by another vCPU's watchdog" \
    --name "failtest-v2-faildemo_hangs_irqs_off" --elf "$FAILTEST_ELF" \
    --vcpus 2 --smp 2 \
    --cmdline "selftest=faildemo.hangs_irqs_off" --expect FAIL \
    --grep "timeout: faildemo.hangs_irqs_off still running after 500 ms" \
    --grep "^    # vCPU0: online, irq nesting 0; calls empty, work empty$" \
    --grep "^    # vCPU1: online, irq nesting 1; " \
    --grep "^    #   upcall pending [01], mask 0; " \
    --grep "^    #   (FIFO: control block registered|2-level: pending_sel)" \
    --grep "^    not ok 1 hangs_irqs_off # timeout$"
check "faildemo.hangs_irqs_off with 1 vCPU is ended by the runner's wall bound" \
    --name "failtest-v1-faildemo_hangs_irqs_off" --elf "$FAILTEST_ELF" \
    --cmdline "selftest=faildemo.hangs_irqs_off" --timeout 8 --expect TIMEOUT \
    --grep "# Subtest: faildemo"

# d+) a failed REQUIRE leaves the kernel sound: each cleanup_* case that
# fails returns with work and a call queued to another vCPU, or with a
# vCPU held at an injection point and irqs bound whose handler data is
# in its frame; the runner's cleanup takes them back (kernel/selftest.c),
# and the case after each must run and pass.
check "faildemo.cleanup_*: a failed REQUIRE is cleaned up, the next case passes" \
    --name "failtest-v4-faildemo_cleanup" --elf "$FAILTEST_ELF" \
    --vcpus 4 --smp 2 --timeout 60 \
    --cmdline "selftest=faildemo.cleanup_*" --expect FAIL \
    --grep "cleanup: took back 1 scribble\(0x[0-9a-f]+\) queued to vCPU[0-9]+, never run" \
    --grep "^    not ok 1 cleanup_work_and_call$" \
    --grep "^    ok 2 cleanup_after_work$" \
    --grep "cleanup: 1 injection point left armed or holding a vCPU" \
    --grep "cleanup: irq [0-9]+ \(lo-a\) still bound, its data on the case's stack: unbound" \
    --grep "^    not ok 3 cleanup_point_held$" \
    --grep "^    ok 4 cleanup_after_point$" \
    --grep "^2 passed, 2 failed, 0 skipped$"

# d') a CPU exception: registers, a symbolised call trace, the panic verdict.
check "faildemo.panics prints a symbolised backtrace" \
    --name "failtest-v1-faildemo_panics" --elf "$FAILTEST_ELF" \
    --cmdline "selftest=faildemo.panics" --expect PANIC \
    --grep "#PF page fault at 0" --grep "RIP is at .* deref\+0x" \
    --grep "^  [0-9a-f]{16} run_case\+0x"

check "faildemo.stack_overflow hits the guard page and says so" \
    --name "failtest-v1-faildemo_stack_overflow" --elf "$FAILTEST_ELF" \
    --cmdline "selftest=faildemo.stack_overflow" --expect PANIC \
    --grep "stack overflow" --grep "recurse\+0x"

check "faildemo.lock_order: the checker names both locks" \
    --name "failtest-v1-faildemo_lock_order" --elf "$FAILTEST_ELF" \
    --cmdline "selftest=faildemo.lock_order" --expect PANIC \
    --grep "lock order: taking demo map \(rank 30\) while holding demo desc \(rank 50\)"

check "faildemo.leaks_*: a leaked page and a leaked port fail their tests" \
    --name "failtest-v1-faildemo_leaks" --elf "$FAILTEST_ELF" \
    --cmdline "selftest=faildemo.leaks_*" --expect FAIL \
    --grep "leak: 1 pages not returned" \
    --grep "leak: Xen has [0-9]+ ports open, [0-9]+ before the test" \
    --grep "2 failed"

# d'') the consistency oracle sees state the kernel did not make: a port
# masked with no mask reason, and (FIFO, auto's choice) one pending and
# unmasked on no queue.  Each case puts things back before it fails.
check "faildemo.oracle_*: the oracle names a bad mask bit and a stranded port" \
    --name "failtest-v1-faildemo_oracle" --elf "$FAILTEST_ELF" \
    --cmdline "selftest=faildemo.oracle_*" --expect FAIL \
    --grep "oracle: port [0-9]+ is masked but its mask reasons are 0x0" \
    --grep "oracle: port [0-9]+ is pending and unmasked but on no FIFO queue" \
    --grep "^0 passed, 2 failed, 0 skipped$"

# e) without Xen the kernel says so and fails.
check "no Xen: the kernel stops with 'not running under Xen'" \
    --name "noxen-selftest_all" --no-xen \
    --cmdline "selftest=all exit=qemu" --expect NOXEN

# f) a start info with the wrong magic: a message on port 0xe9, then stop
# (CONFIG=badmagic expects another magic, so the real one looks wrong).
check "bad start-info magic: a message, then the fail verdict" \
    --name "badmagic" --no-xen --elf "$BADMAGIC_ELF" \
    --cmdline "selftest=all" --expect FAIL --grep "bad hvm_start_info magic"

# Last, so that a log read from its tail names what failed.
[ -z "$whys" ] || printf '\nWhat failed:\n%s' "$whys"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
