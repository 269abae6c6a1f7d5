#!/bin/sh
# Mutant proof: for each historic bug (A-F, and FH of the FIFO ABI) and
# each scenario of concurrency.md section 7 (S5-S17), build the kernel
# with the mistake put back (configs/mutant-X.mk, a compile-time switch named
# after the bug), boot it under Xen, and require that the bug's regress
# case FAILS, by its own bound and with its own diagnosis, while the
# normal build passes the same case.  One line per mutant:
#   mutant A caught by CASE / mutant S7 NOT caught by CASE
# Exit status 0 only if every mutant was caught.
set -u
cd "$(dirname "$0")/.."
RUN="python3 tests/xenrun.py"
VCPUS=4
SMP=2
caught=0
missed=0

# mutant LETTER CASE OUTCOME WHY_REGEX...  (OUTCOME: FAIL, or PANIC when an
# assertion is what catches the bug; every regex must match the log).
# CASE may carry more options after the case name ("evtchn.fair_scan
# evtchn=2l"): a mistake in the 2-level ABI's own code is tested under it.
mutant() {
    letter=$1 case=$2 outcome=$3
    shift 3
    if [ "$collect" = yes ]; then
        # The first pass only gathers the cases, for the normal build.
        case "$case" in
        *" evtchn=2l") cases_2l="$cases_2l,${case% evtchn=2l}" ;;
        *) cases_fifo="$cases_fifo,$case" ;;
        esac
        return
    fi
    greps=""
    for why in "$@"; do greps="$greps --grep '$why'"; done
    lower=$(echo "$letter" | tr A-Z a-z)
    elf=build/xenith-mutant-$lower.elf
    if ! make -s CONFIG=mutant-$lower >/dev/null; then
        echo "mutant $letter NOT caught (the mutant does not build)"
        missed=$((missed + 1))
        return
    fi
    # The normal build must pass the case: a case that always fails
    # proves nothing.
    if [ "$normal_ok" != yes ] &&
       ! $RUN --elf build/xenith.elf --vcpus $VCPUS --smp $SMP --timeout 60 \
         --name "mutants-normal-$lower" --cmdline "selftest=$case" \
         --expect PASS >/dev/null; then
        echo "mutant $letter NOT caught (the normal build fails $case)"
        missed=$((missed + 1))
        return
    fi
    # The mutant must fail it, reported by the kernel (a FAIL verdict, or
    # the panic of an assertion that names the bug; never a harness
    # timeout), with the diagnosis the case prints for this bug.
    if eval "$RUN --elf $elf --vcpus $VCPUS --smp $SMP --timeout 60 \
         --name mutant-$lower --cmdline \"selftest=$case\" \
         --expect $outcome $greps" >/dev/null; then
        echo "mutant $letter caught by $case"
        caught=$((caught + 1))
    else
        echo "mutant $letter NOT caught by $case (see build/logs/mutant-$lower.log)"
        missed=$((missed + 1))
    fi
}

make -s >/dev/null || exit 1
boot_mutants() {
mutant A regress.unbind_vs_handler FAIL "deadlock \\(bug A\\)"
# B is caught twice: scenario 4 (interdomain unbind) and 3 (PIRQ shutdown).
mutant B regress.close_after_unmap FAIL "mapping was wiped \\(bug B\\)" \
    "FAIL .*scenario_interdomain" "FAIL .*scenario_pirq"
mutant C regress.kick_all_waiters FAIL "livelock \\(bug C\\)"
# D: the bind's assertion fires inside the case (a panic attributed to it).
mutant D regress.hotplug_alloc_lock PANIC \
    "under the hotplug allocation lock \\(bug D\\)" \
    "not ok 1 hotplug_alloc_lock # panic"
mutant E regress.affinity_no_inversion FAIL "deadlock \\(bug E\\)"
# The scenarios of concurrency.md section 7 beyond the five bugs: each
# one-line mistake (configs/mutant-sN.mk) caught by its case's own words.
mutant S5 evtchn.row_race FAIL "was lost: now -1 \\(scenario 5"
mutant S7 spinlock.nested_wait FAIL "lost its kick \\(scenario 7\\)"
mutant S8 spinlock.store_buffer FAIL "lost wake-up \\(scenario 8\\)"
mutant S12 evtchn.deferred_free FAIL "free was not deferred"
# S13-S16 are mistakes in 2-level code (events/twolevel.c, the 2-level
# mask word, the selector): run under evtchn=2l, since auto picks FIFO.
mutant S13 "evtchn.no_double_handling evtchn=2l" FAIL \
    "replay lost: the event sent while port [0-9]+ moved"
mutant S14 "evtchn.remote_unmask evtchn=2l" FAIL "remote unmask lost the event"
mutant S15 "hotplug.event_before_online evtchn=2l" FAIL \
    "while it came up (was never handled|waited for its upcall #[0-9]+)"
# S16, both halves: the timer served first, and the scan resumed where it
# stopped (round robin).
mutant S16 "evtchn.fair_scan evtchn=2l" FAIL \
    "timer not first: [0-9]+ of [0-9]+ timer deliveries waited"
mutant S16b "evtchn.fair_scan evtchn=2l" FAIL "scan not round robin"
# S16 under FIFO: the timer keeps the default priority (auto picks FIFO).
mutant S16f evtchn.fair_scan FAIL \
    "timer not first: [0-9]+ of [0-9]+ timer deliveries waited"
mutant S17 hotplug.kicker_on_dead_vcpu FAIL \
    "send to an unbound port, scenario 17"
# F: the FIFO ABI (auto picks it on Xen 4.17).
mutant F regress.fifo_close_linked_on_dead_vcpu FAIL \
    "closed while still LINKED on dead vCPU[0-9]+.s queue \\(mutant F\\)" \
    "oracle: port [0-9]+ is closed in Xen but still LINKED on a FIFO queue"
# FH: the FIFO consumer's hand-back of a moved port raises it again.
mutant FH regress.fifo_handback_no_dup FAIL \
    "handed port [0-9]+ back by raising it .*\\(mutant FH\\)"
# N: an upcall inside the upcall loop (delivered by the platform with
# interrupts off, seen under QEMU TCG) runs the loop too.
mutant P regress.per_vcpu_event_survives_down FAIL \
    "was never handled after it came back"
mutant N regress.nested_upcall FAIL \
    "handler ran inside port [0-9]+.s on vCPU[0-9]+: the nested upcall ran its loop \\(mutant N\\)"
# R: a mistake in the resume path, which only a domU that is saved and
# restored takes: the xl rig's check_save_restore, with the mutant as its
# guest, must fail, with the guest's own word on the IPI that went nowhere
# (the send is refused: its port belongs to the old domain).  The normal
# build passes the same check in the rig run make test ends with
# (tests/xl/scenario.sh), not here: a rig run is a minute.
}

# The normal build must pass every case a mutant is judged by: two boots
# (the FIFO cases, the 2-level ones) rather than one per mutant.  If
# either fails, each mutant boots the normal build with its own case, so
# the line says which case the normal build fails.
collect=yes cases_fifo= cases_2l=
boot_mutants
normal_ok=yes
$RUN --elf build/xenith.elf --vcpus $VCPUS --smp $SMP --timeout 120 \
    --name mutants-normal --cmdline "selftest=${cases_fifo#,}" \
    --expect PASS >/dev/null || normal_ok=no
$RUN --elf build/xenith.elf --vcpus $VCPUS --smp $SMP --timeout 120 \
    --name mutants-normal-2l --cmdline "selftest=${cases_2l#,} evtchn=2l" \
    --expect PASS >/dev/null || normal_ok=no
collect=no
boot_mutants

rig_mutant() {
    letter=$1 check=$2
    shift 2
    lower=$(echo "$letter" | tr A-Z a-z)
    log=build/logs/mutant-$lower-xl.log
    if ! make -s CONFIG=mutant-$lower >/dev/null; then
        echo "mutant $letter NOT caught (the mutant does not build)"
        missed=$((missed + 1))
        return
    fi
    if python3 tests/xl/xlrun.py --elf build/xenith-mutant-$lower.elf \
           --checks "$check" --log "$log" > "$log.out" 2>&1; then
        echo "mutant $letter NOT caught by $check (the rig passed; $log)"
        missed=$((missed + 1))
        return
    fi
    for why in "FAIL: $check" "$@"; do
        if ! grep -Eq "$why" "$log"; then
            echo "mutant $letter NOT caught by $check (no '$why' in $log)"
            missed=$((missed + 1))
            return
        fi
    done
    echo "mutant $letter caught by $check (xl rig)"
    caught=$((caught + 1))
}

rig_mutant R check_save_restore "PANIC on vCPU[0-9]+: events: IPI [0-9]+ to vCPU[0-9]+ failed" \
    "not ok 1 suspend_resume_under_load"

echo "mutants: $caught caught, $missed not caught"
[ "$missed" -eq 0 ]
