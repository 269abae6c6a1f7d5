# The xl rig's scenario, sourced by /init once the toolstack is up.
#
# CHECKS names the checks, run in that order.  A check is a shell function
# that prints what it saw and returns
#     0  pass
#     1  fail (the rig's verdict is then fail)
#     2  not supported yet: reported, not failed
# To add one: write the function below (the helpers of /guest.sh create,
# wait for, judge and report a guest) and add its name to CHECKS.  Give
# each guest its own name: its xl monitor log and console log are named
# after it.

# shellcheck disable=SC2034 # read by /init
CHECKS="check_selftest_verdict check_xl_shutdown check_maxvcpus_128 check_torture check_save_restore check_migrate"

# Bounds, in seconds' worth of polls (wait_for, guest_wait: a count of
# polls, never a clock).  selftest=all takes about 20 s as a domU under
# nested TCG (2 vCPUs).
SELFTEST_BOUND=300
START_BOUND=30
# The guest finishes the test it is in, then shuts down.
SHUTDOWN_GRACE=45

# check_xl_shutdown is a hard check once this is 1 (the kernel acts on
# xenstore control/shutdown); until then its failure to react is "not
# supported yet".
XL_SHUTDOWN_REQUIRED=1

# judge_reason REASON-CODE VERDICT: the pass/fail of a run that was to end
# on its own with exit=poweroff: poweroff with a KTAP SUCCESS is a pass;
# anything else fails, saying why.
judge_reason() {
    _reason=$(reason_name "$1")
    case "$_reason/$2" in
    poweroff/SUCCESS)
        say "pass: shutdown reason poweroff, KTAP verdict SUCCESS"
        return 0 ;;
    crash/FAILURE)
        say "fail: the guest reported a test failure (reason crash," \
            "KTAP verdict FAILURE)" ;;
    reboot/*)
        say "fail: the guest rebooted, which xenith never asks for: Xen's" \
            "answer to a triple fault (see Xen's words and the xenctx dump" \
            "above)" ;;
    crash/none)
        say "fail: the guest crashed without a KTAP verdict (a panic, or" \
            "an early crash: see its (dN) lines and Xen's messages above)" ;;
    *)
        say "fail: shutdown reason $_reason and KTAP verdict $2 disagree" ;;
    esac
    return 1
}

# a. The guest runs every self-test and powers off on its own: the shutdown
# reason Xen reports to the toolstack is the verdict (exit=poweroff:
# poweroff = pass, crash = fail or panic), cross-checked against the KTAP
# "Test result:" line.  The config is used as it is (name "xenith",
# cmdline "selftest=all exit=poweroff console=xen,e9").
check_selftest_verdict() {
    again_if_known_fault selftest_verdict_once xenith
}

# again_if_known_fault CHECK NAME: CHECK NAME, and once more as NAME-again
# only if the guest's failure carries the signature of the one known fault
# of this nested rig (guest_fault_signature: QEMU TCG's nested SVM losing
# the guest's state; never seen in hundreds of dom0 runs of the same
# kernel; see XEN_APPEND in xlrun.py for what makes it rare).  The retry
# is said with its evidence and counted in $RIG/retries for the rig's
# summary.  Any other failure fails the check at once, and so does a
# second failure.
again_if_known_fault() {
    domid=                              # none yet: no stale one judged
    "$1" "$2"
    rc=$?
    [ "$rc" = 1 ] || return $rc
    if [ -z "$domid" ]; then
        say "no retry: $2 failed before it had a domain"
    elif sig=$(guest_fault_signature "$domid"); then
        show "$RIG/fault-$domid" "the known fault, signature $sig"
        say "retry: $2 (domain $domid) ended with the known fault" \
            "'$sig' (evidence above): running the check once more"
        echo "$sig $2" >> "$RIG/retries"
        "$1" "$2-again"
        rc=$?
    else
        show "$RIG/fault-$domid" "no known fault signature"
        say "no retry: the failure of $2 matches no known fault signature"
    fi
    return $rc
}

selftest_verdict_once() {
    name=$1
    GUEST_PAUSED=1 guest_create "$name" || return 1
    domid=$GUEST_DOMID
    # hotplug.toolstack_vcpu_set waits for xl vcpu-set when this says so.
    xenstore-write "/local/domain/$domid/data/xenith-vcpu-set" drive
    xl unpause "$name"
    vcpu_set_driver "$name" "$domid" > "$RIG/vcpu-set-$name.out" 2>&1 &
    driver=$!
    run_logged "list-$name" xl list
    guest_wait "$name" "$SELFTEST_BOUND"
    ended=$?
    wait_for 5 pid_done "$driver" || kill "$driver" 2> /dev/null
    wait "$driver"
    driven=$?
    show "$RIG/vcpu-set-$name.out" "xl vcpu-set driver (status $driven)"
    t=$(( $(now_ms) - GUEST_T0 ))
    listed=
    case $ended in
    0) how="gone after $t ms" ;;
    2)  how="shut down and kept (state $(guest_state "$name")) after $t ms"
        listed=$(guest_reason_listed "$name")
        run_logged "list-v-$name" xl list -v "$name"
        # A crash is xenith's own fail verdict; anything else is not.
        [ "$listed" = 3 ] || guest_dump "$name" "$domid"
        guest_destroy "$name" ;;
    *)  how="still running after the ${SELFTEST_BOUND} s bound (in polls)"
        run_logged "list-$name-late" xl list
        guest_dump "$name" "$domid"
        guest_destroy "$name" ;;
    esac
    guest_freeze
    logged=$(guest_reason_logged "$name")
    verdict=$(guest_ktap_verdict "$name" "$domid")
    guest_report "$name" "$domid"
    say "--- outcome"
    say "domain $domid ($name): $how"
    if [ -n "$logged" ]; then
        say "shutdown reason: $(reason_name "$logged") (code $logged), from" \
            "the xl monitor log: $(tr -d '\000' < "$XL_LOGS/xl-$name.log" |
            grep 'has shut down' | tail -n 1)"
    else
        say "shutdown reason: none logged by the xl monitor"
    fi
    if [ -n "$listed" ]; then
        say "cross-check: xl list -v shows reason code $listed" \
            "($(reason_name "$listed"))"
        if [ -n "$logged" ] && [ "$listed" != "$logged" ]; then
            say "fail: xl list -v and the xl monitor log disagree"
            return 1
        fi
        [ -n "$logged" ] || logged=$listed
    fi
    guest_xen_trouble "$domid"
    say "cross-check: KTAP verdict ${verdict% *} (from the ${verdict#* }" \
        "output)"
    say "guest totals: $(guest_totals "$name" "$domid")"
    if [ "$ended" = 1 ] || [ -z "$logged" ]; then
        say "fail: the guest did not end on its own"
        return 1
    fi
    if [ "$driven" != 0 ]; then
        say "fail: xl vcpu-set 1 and back was not seen through (above)"
        return 1
    fi
    # A domU has a PV console ring: its KTAP must come through it (port
    # 0xe9 is Xen's debug mirror, not the console under test), and no
    # console case may skip (issue 20, item 11).
    guest_skips "$name" > "$RIG/skips-$name"
    show "$RIG/skips-$name" "cases the guest skipped"
    if [ "${verdict#* }" != PV-console ]; then
        say "fail: the guest's KTAP did not come through its PV console" \
            "(read from ${verdict#* } instead)"
        return 1
    fi
    if grep -q '^console\.' "$RIG/skips-$name"; then
        say "fail: a console case skipped, in a domU that has its PV" \
            "console ring"
        return 1
    fi
    judge_reason "$logged" "${verdict% *}"
}

# The other side of hotplug.toolstack_vcpu_set: once the guest says
# "waiting" in data/xenith-vcpu-set, take it to 1 vCPU; once it says
# "at-1", give it all 4 (its maxvcpus) back; it says "done" when it saw
# them online.  Each step bounded; status 0 when all went through.
vcpu_set_driver() {
    key=/local/domain/$2/data/xenith-vcpu-set
    for step in "waiting 1" "at-1 4" "done -"; do
        want=${step% *}
        n=${step#* }
        echo "waiting for the guest to say '$want'"
        if ! wait_key "$key" "$want" 1500; then
            echo "the guest never said '$want' (key: '$(xenstore-read \
                "$key" 2>&1)')"
            return 1
        fi
        [ "$n" = - ] && break
        t0=$(now_ms)
        echo "guest said '$want': xl vcpu-set $1 $n"
        # 4 vCPUs on the rig's 2 pCPUs: overcommit on purpose.
        xl vcpu-set --ignore-host "$1" "$n" || return 1
        echo "xl vcpu-set took $(( $(now_ms) - t0 )) ms; xl vcpu-list:"
        xl vcpu-list "$1"
    done
    echo "the guest saw 1 vCPU, then 4, online"
}

# Each read bounded: a dom0 tool hung under load (seen: the driver waited
# 90 s on a key the guest had long written) must not stall the wait.
key_is() {
    [ "$(timeout 5 xenstore-read "$1" 2> /dev/null)" = "$2" ]
}

# wait_key KEY VALUE TENTHS: counts its own 100 ms sleeps rather than read
# the clock: busybox tools in the nested dom0 have been seen to crash now
# and then under load, and one crash must not end the wait.
wait_key() {
    i=0
    while [ "$i" -lt "$3" ]; do
        key_is "$1" "$2" && return 0
        usleep 100000
        i=$((i + 1))
        [ $((i % 100)) = 0 ] && echo "  ... still '$(timeout 5 \
            xenstore-read "$1" 2>&1)' after $i tries"
    done
    return 1
}

# b. A long run (selftest=all iterations=50, minutes under TCG) asked to
# stop with `xl shutdown` once its tests run.  The toolstack writes
# "poweroff" to the guest's xenstore control/shutdown, then waits (up to
# 60 s, libxl's bound) for the guest to acknowledge it by removing the
# key; the shutdown itself is up to the guest.  So xl shutdown runs in the
# background, and the guest gets SHUTDOWN_GRACE seconds to end.  Until
# xenith acts on the request (XL_SHUTDOWN_REQUIRED=1), a guest still
# running then is destroyed and the check says "not supported yet"; a
# guest that ends with any reason but poweroff fails it either way.
check_xl_shutdown() {
    again_if_known_fault xl_shutdown_once xenith-shutdown
}

xl_shutdown_once() {
    name=$1
    guest_create "$name" \
        'cmdline="selftest=all iterations=50 exit=poweroff console=xen,e9"' ||
        return 1
    domid=$GUEST_DOMID
    if ! wait_for "$START_BOUND" guest_said "$domid" "KTAP version 1"; then
        say "fail: no KTAP output from the guest within $START_BOUND s"
        run_logged "list-$name" xl list
        guest_destroy "$name"
        guest_freeze
        guest_report "$name" "$domid"
        guest_xen_trouble "$domid"
        return 1
    fi
    sleep 1                             # well inside its first suite
    t0=$(now_ms)
    say "its tests run (first KTAP line $(( t0 - GUEST_T0 - 1000 )) ms" \
        "after xl create); asking it to stop: xl shutdown $name"
    xl shutdown "$name" > "$RIG/shutdown-$name.out" 2>&1 < /dev/null &
    xlpid=$!
    guest_wait "$name" "$SHUTDOWN_GRACE"
    ended=$?
    t=$(( $(now_ms) - t0 ))
    result=1
    reason=
    case $ended in
    0)  reason=$(guest_reason_logged "$name")
        say "the guest is gone $t ms after xl shutdown" ;;
    2)  reason=$(guest_reason_listed "$name")
        say "the guest shut down and is kept (state" \
            "$(guest_state "$name")) $t ms after xl shutdown"
        [ "$reason" = 3 ] || guest_dump "$name" "$domid"
        guest_destroy "$name" ;;
    *)  say "the guest is still running $t ms after xl shutdown; its" \
            "control/shutdown is '$(xenstore-read \
            "/local/domain/$domid/control/shutdown" 2>&1)'"
        run_logged "list-$name" xl list
        [ "$XL_SHUTDOWN_REQUIRED" = 1 ] && guest_dump "$name" "$domid"
        guest_destroy "$name" ;;
    esac
    # xl shutdown ends once the guest acknowledged, or is gone (its status
    # is then 0 too: the key vanished with the domain).
    wait_for 5 pid_done "$xlpid" || kill "$xlpid" 2> /dev/null
    wait "$xlpid"
    show "$RIG/shutdown-$name.out" "xl shutdown $name (status $?)"
    guest_freeze
    guest_report "$name" "$domid"
    guest_xen_trouble "$domid"
    say "--- outcome"
    if [ -n "$reason" ]; then
        say "shutdown reason: $(reason_name "$reason") (code $reason)"
        if [ "$(reason_name "$reason")" = poweroff ]; then
            say "pass: the guest honoured xl shutdown"
            result=0
        else
            say "fail: the guest ended with reason $(reason_name "$reason")" \
                "after xl shutdown, not poweroff"
        fi
    elif [ "$ended" != 1 ]; then
        say "fail: the guest ended but no shutdown reason was recorded"
    else
        say "shutdown reason: none: destroyed by the rig, still running" \
            "$SHUTDOWN_GRACE s after xl shutdown"
        if [ "$XL_SHUTDOWN_REQUIRED" = 1 ]; then
            say "fail: the guest ignored xl shutdown"
        else
            say "not supported yet: xenith does not act on xenstore" \
                "control/shutdown (XL_SHUTDOWN_REQUIRED=1 makes this a fail)"
            result=2
        fi
    fi
    return $result
}

# c. A domU may have up to 128 vCPUs (Xen's HVM maximum): with
# maxvcpus=128 and 2 of them up, xenith must boot, bring up the two, leave
# the other 126 offline until asked (cpu/N/availability), and pass the
# boot, SMP and hotplug cases on what it has.  Every set of vCPUs in the
# kernel is 128 bits wide for this; a 64-bit one broke past vCPU 63.
check_maxvcpus_128() {
    again_if_known_fault maxvcpus_128_once xenith-128
}

maxvcpus_128_once() {
    name=$1
    guest_run_to_end "$name" 'maxvcpus=128' 'vcpus=2' \
        'cmdline="selftest=boot,smp.*,hotplug.offline_online_each exit=poweroff console=xen,e9"' ||
        return 1
    # The guest must have seen all 128 (a 64-bit vCPU set stopped at 63).
    if ! guest_output "$name" "$domid" | grep -q '128 vCPUs (2 online)'; then
        say "fail: the guest did not report 128 vCPUs with 2 online"
        return 1
    fi
    judge_reason "$reason" "${verdict% *}"
}

# guest_run_to_end NAME CFG...: a guest that runs its command line and
# powers off on its own: created, waited for (SELFTEST_BOUND), dumped if
# it ended otherwise, reported.  Sets domid, reason (the shutdown reason
# code) and verdict (the KTAP verdict and where it was read); status 1 if
# there is no domain or no shutdown reason.
guest_run_to_end() {
    name=$1
    shift
    guest_create "$name" "$@" || return 1
    domid=$GUEST_DOMID
    guest_wait "$name" "$SELFTEST_BOUND"
    ended=$?
    reason=
    case $ended in
    0)  reason=$(guest_reason_logged "$name") ;;
    2)  reason=$(guest_reason_listed "$name")
        [ "$reason" = 3 ] || guest_dump "$name" "$domid"
        guest_destroy "$name" ;;
    *)  say "still running after the ${SELFTEST_BOUND} s bound (in polls)"
        guest_dump "$name" "$domid"
        guest_destroy "$name" ;;
    esac
    guest_freeze
    verdict=$(guest_ktap_verdict "$name" "$domid")
    guest_report "$name" "$domid"
    say "--- outcome"
    say "cross-check: KTAP verdict ${verdict% *} (from the ${verdict#* }" \
        "output)"
    if [ -z "$reason" ]; then
        say "fail: no shutdown reason"
        return 1
    fi
}

# e. Torture as a domU (tests/torture): TORTURE_GUEST_S seconds on 4
# vCPUs, with what a dom0 cannot have in the mix: xenstore writes, reads
# and watches (the guest has a xenstore; make test's own torture run is
# a dom0's).  Its totals must show xenstore operations done.
TORTURE_GUEST_S=30

check_torture() {
    again_if_known_fault torture_once xenith-torture
}

torture_once() {
    name=$1
    guest_run_to_end "$name" 'vcpus=4' \
        "cmdline=\"torture=$TORTURE_GUEST_S exit=poweroff console=xen,e9\"" ||
        return 1
    guest_output "$name" "$domid" | grep 'torture: ' > "$RIG/torture-$name"
    show "$RIG/torture-$name" "torture's report"
    if ! grep -Eq 'torture: xenstore +[1-9][0-9]* \(refused 0\)' \
            "$RIG/torture-$name"; then
        say "fail: the guest's torture did no xenstore operation, or" \
            "xenstore refused some (above)"
        return 1
    fi
    judge_reason "$reason" "${verdict% *}"
}

# d. Save, checkpoint, restore and migrate a guest under load: the case
# control.suspend_resume_under_load (tests/ktests/suspend.c) loads every
# vCPU and says "waiting" in data/xenith-suspend; the rig then suspends
# it through the toolstack (SUSPEND_STEPS, run in order) and says "done"
# in whichever domain the guest then is; the case checks its sequence
# counters and powers off.  The guest has 4 vCPUs on the rig's 2 guest
# pCPUs.  Each step's wall time is said.
SUSPEND_BOUND=240

check_save_restore() {
    SUSPEND_STEPS="checkpoint save-restore" SUSPEND_OPTS= \
        again_if_known_fault suspend_once xenith-save
}

# The migration runs under the 2-level ABI (evtchn=2l), the save and
# restore under FIFO (auto): each ABI's resume path is taken once.
check_migrate() {
    SUSPEND_STEPS="migrate" SUSPEND_OPTS="evtchn=2l" \
        again_if_known_fault suspend_once xenith-migrate
}

# suspend_step NAME STEP: one toolstack operation on the running guest;
# sets domid to the domain the guest runs in afterwards.
suspend_step() {
    _f=$RIG/$1.save
    _t0=$(now_ms)
    case $2 in
    checkpoint)
        # xl save -c: saved, then the same domain goes on (the guest's
        # suspend hypercall returns 1: cancelled).
        run_logged "save-c-$1" xl save -c "$1" "$_f" || return 1
        rm -f "$_f" ;;
    save-restore)
        run_logged "save-$1" xl save "$1" "$_f" || return 1
        say "saved to $_f ($(wc -c < "$_f") bytes) in" \
            "$(( $(now_ms) - _t0 )) ms; domain $domid is" \
            "$(guest_row "$1" | awk '{ print $2 }' | grep . || echo gone)"
        run_logged "restore-$1" xl restore "$_f" || return 1
        rm -f "$_f" ;;
    migrate)
        # No ssh in dom0: with -s "" xl runs the "host" as the receiving
        # command itself, here, on the same host.
        run_logged "migrate-$1" xl migrate -s "" "$1" \
            "xl migrate-receive" || return 1 ;;
    esac
    domid=$(guest_row "$1" | awk '{ print $2 }')
    say "$2 of $1 took $(( $(now_ms) - _t0 )) ms; it runs as domain" \
        "${domid:-?} now"
    [ -n "$domid" ]
}

# on_poweroff="preserve": the domain that powers off may be a restored or
# migrated one, whose xl monitor (if any) logs elsewhere; kept, its
# shutdown reason is read from xl list -v.
suspend_once() {
    name=$1
    GUEST_PAUSED=1 guest_create "$name" 'vcpus=4' 'on_poweroff="preserve"' \
        "cmdline=\"selftest=control.suspend_resume_under_load exit=poweroff console=xen,e9${SUSPEND_OPTS:+ $SUSPEND_OPTS}\"" ||
        return 1
    domid=$GUEST_DOMID
    first=$domid
    key=/local/domain/$domid/data/xenith-suspend
    xenstore-write "$key" drive
    xl unpause "$name"
    result=0
    if ! wait_key "$key" waiting 600; then
        say "fail: the guest never said 'waiting' (key: '$(xenstore-read \
            "$key" 2>&1)')"
        result=1
    fi
    for step in $SUSPEND_STEPS; do
        [ "$result" = 0 ] || break
        sleep 1                         # the load runs meanwhile
        suspend_step "$name" "$step" || result=1
    done
    if [ "$result" = 0 ]; then
        sleep 1
        xenstore-write "/local/domain/$domid/data/xenith-suspend" done
        guest_wait "$name" "$SUSPEND_BOUND"
    else
        guest_wait "$name" 1            # a failed step: no waiting out
    fi
    ended=$?
    reason=
    case $ended in
    0)  say "fail: the domain is gone: it should have been kept"
        result=1 ;;
    2)  reason=$(guest_reason_listed "$name")
        case $reason in 0 | 3) ;; *) guest_dump "$name" "$domid" ;; esac
        guest_destroy "$name" ;;
    *)  say "still running after the ${SUSPEND_BOUND} s bound (in polls)"
        guest_dump "$name" "$domid"
        guest_destroy "$name" ;;
    esac
    guest_freeze
    verdict=$(guest_ktap_verdict "$name" "$domid")
    guest_report "$name" "$first"
    [ "$domid" = "$first" ] || guest_e9_lines "$domid" > "$RIG/e9-$name-2.log"
    say "--- outcome"
    # The case's counters, as it printed them around each suspend.
    grep -E '^    # (load running|back from a suspend|stopped|vCPU[0-9])' \
        "$RIG/output-$name" | while IFS= read -r l; do say "guest: $l"; done
    say "cross-check: KTAP verdict ${verdict% *} (from the ${verdict#* }" \
        "output)"
    guest_xen_trouble "$domid"
    if [ "$result" != 0 ]; then
        say "fail: a toolstack step failed, or the domain vanished (above)"
        return 1
    fi
    if [ -z "$reason" ]; then
        say "fail: no shutdown reason"
        return 1
    fi
    if grep -q '^ok [0-9]* control # SKIP' "$RIG/output-$name"; then
        say "fail: the case skipped"
        return 1
    fi
    judge_reason "$reason" "${verdict% *}"
}
