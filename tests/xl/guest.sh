# Sourced by /init: building blocks for the checks of /scenario.sh, each
# about one xenith domU, named.  Uses say, show, run_logged, wait_for and
# now_ms from /init.
#
# Where a guest's words and fate can be read from dom0:
#   - its port-0xe9 output: Xen prints it as "(dN) ..." lines (needs Xen's
#     guest_loglvl=all), read with `xl dmesg`;
#   - its PV console ring: xenconsoled's log, $CONSOLE_LOGS/guest-NAME.log
#     (empty if the guest died before its ring was up);
#   - its shutdown reason: the xl monitor that `xl create` leaves behind
#     logs "Domain N has shut down, reason code R 0x..." into
#     /var/log/xen/xl-NAME.log when Xen reports the shutdown, whatever the
#     on_poweroff/on_crash action then does; a domain that is kept
#     (on_crash = "preserve") also shows R in `xl list -v`.
# Xen's console ring is 4 MiB here (conring_size), so nothing of a run is
# lost to wrap-around.

XL_CFG=/etc/xen/xenith.cfg
XL_LOGS=/var/log/xen

# Xen's shutdown reasons (SHUTDOWN_* in xen/sched.h, as xl prints them).
reason_name() {
    case $1 in
    0) echo poweroff ;;
    1) echo reboot ;;
    2) echo suspend ;;
    3) echo crash ;;
    4) echo watchdog ;;
    5) echo soft_reset ;;
    *) echo "unknown($1)" ;;
    esac
}

# The pCPUs the guests run on: all but pCPU0, which is dom0's alone (why:
# XEN_APPEND in xlrun.py); all of them on a one-pCPU machine.
guest_pcpus() {
    _n=$(xl info | awk '$1 == "nr_cpus" { print $3 }')
    case $_n in
    '' | 1) echo all ;;
    2) echo 1 ;;
    *) echo "1-$((_n - 1))" ;;
    esac
}
GUEST_PCPUS=$(guest_pcpus)
say "guests run on pCPUs $GUEST_PCPUS; dom0 on pCPU0"

# guest_create NAME [KEY=VALUE...]: `xl create` the xenith config under
# NAME, with the options given overriding the file's (xl's own syntax:
# 'cmdline="..."').  on_reboot becomes "preserve": xenith never asks for a
# reboot, so a reboot is Xen's answer to a triple fault, and the domain is
# kept for guest_dump.  tsc_mode="native": rdtsc is not trapped (under
# TCG every trap is a nested-SVM round trip, slow, and where triple
# faults were seen).  cpus=: off dom0's pCPU.  GUEST_PAUSED=1: created
# paused (xl create -p), for a caller that writes xenstore keys before the
# guest runs.  Sets GUEST_DOMID, GUEST_T0 (its start, ms) and GUEST_RING,
# the number of lines Xen's console ring had before, so that the helpers
# below read only what came after (one guest at a time).
guest_create() {
    _gname=$1
    shift
    rm -f "$XL_LOGS/xl-$_gname.log"* "$CONSOLE_LOGS/guest-$_gname.log" \
        "$CONSOLE_LOGS/guest-$_gname--incoming.log"
    rm -f "$RIG/ring"
    GUEST_RING=$(xl dmesg | wc -l)
    GUEST_DOMID=
    GUEST_T0=$(now_ms)
    run_logged "create-$_gname" xl create ${GUEST_PAUSED:+-p} "$XL_CFG" \
        "name=\"$_gname\"" 'on_reboot="preserve"' 'tsc_mode="native"' \
        "cpus=\"$GUEST_PCPUS\"" "$@"
    _crc=$?
    # The monitor's first line names the domid even if the guest is
    # already gone (a short run that powered off and was destroyed).
    GUEST_DOMID=$(tr -d '\000' < "$XL_LOGS/xl-$_gname.log" 2> /dev/null |
        sed -n 's/^Waiting for domain .* (domid \([0-9]*\)) to die.*/\1/p' |
        head -n 1)
    [ -n "$GUEST_DOMID" ] ||
        GUEST_DOMID=$(guest_row "$_gname" | awk '{ print $2 }')
    say "$_gname is domain ${GUEST_DOMID:-?}; xl create took" \
        "$(( $(now_ms) - GUEST_T0 )) ms"
    if [ -z "$GUEST_DOMID" ]; then
        say "no domain named $_gname after xl create"
        return 1
    fi
    # xl create was seen dying (SIGSEGV; glibc's "corrupted double-linked
    # list" abort) after the domain was up: go on with the domain, saying
    # so; its monitor may be gone, so the on_* actions may not be done.
    [ "$_crc" = 0 ] || say "note: xl create failed (status $_crc) but" \
        "domain $GUEST_DOMID exists; going on with it"
}

# guest_row NAME: its row of `xl list` ("NAME ID MEM VCPUS STATE TIME"),
# empty when there is none.  Status 1, with what xl said, if xl list
# itself failed: then nothing is known (a toolstack hiccup must not pass
# for the guest being gone).
guest_row() {
    if ! _out=$(xl list 2>&1); then
        say "note: xl list failed: $_out" >&2
        return 1
    fi
    echo "$_out" | awk -v n="$1" 'NR > 1 && $1 == n'
}

# guest_state NAME: its xl state flags (r b p s c d), empty if it is gone.
guest_state() {
    guest_row "$1" 2> /dev/null | awk '{ print $5 }'
}

# guest_wait NAME SECONDS: wait for the domain to end; polls `xl list`
# (not `xl domid NAME`, which was seen failing now and then while the
# domain ran) every 0.2 s, SECONDS * 5 times at most (a count, not a
# clock: see wait_for).  0: it is gone; 2: it has shut down and is kept
# (state s or c in 10 polls running: on_crash = "preserve", or a triple
# fault; a domain whose action is destroy shows s only until the xl
# monitor destroys it); 1: still running after the last poll.
guest_wait() {
    _polls=$(( $2 * 5 ))
    _kept=0
    while :; do
        if _row=$(guest_row "$1"); then
            [ -n "$_row" ] || return 0
            case $(echo "$_row" | awk '{ print $5 }') in
            *s* | *c*)
                _kept=$(( _kept + 1 ))
                [ "$_kept" -lt 10 ] || return 2 ;;
            *)  _kept=0 ;;
            esac
        fi
        if [ "$_polls" -le 0 ]; then
            # Up to 10 polls more, only to see a shut-down domain through.
            [ "$_kept" -gt 0 ] && [ "$_polls" -gt -10 ] || return 1
        fi
        _polls=$(( _polls - 1 ))
        usleep 200000
    done
}

# guest_reason_logged NAME: the shutdown reason code the xl monitor
# logged, polling up to 15 times 0.2 s apart for the line (it may trail
# the state change); empty if none.
guest_reason_logged() {
    _polls=15
    while :; do
        _r=$(tr -d '\000' < "$XL_LOGS/xl-$1.log" 2> /dev/null |
             sed -n 's/.*has shut down, reason code \([0-9]*\) .*/\1/p' |
             tail -n 1)
        if [ -n "$_r" ] || [ "$_polls" -le 0 ]; then
            echo "$_r"
            return
        fi
        _polls=$(( _polls - 1 ))
        usleep 200000
    done
}

# guest_reason_listed NAME: the reason code `xl list -v` shows for a
# domain that has shut down and is kept (hex there, decimal here); empty
# otherwise.
guest_reason_listed() {
    _r=$(xl list -v "$1" 2> /dev/null | awk 'NR == 2 { print $8 }')
    case $_r in
    '' | -) echo ;;
    *) echo $(( 0x$_r )) ;;
    esac
}

# guest_ring: Xen's console ring since guest_create: live, or once
# guest_freeze has run, the snapshot it took (a report reads it several
# times; each `xl dmesg` costs a few hundred ms under TCG).
guest_ring() {
    if [ -f "$RIG/ring" ]; then
        cat "$RIG/ring"
    else
        xl dmesg | tail -n +"$(( GUEST_RING + 1 ))"
    fi
}

# guest_freeze: snapshot the ring for the report, once the guest is gone.
guest_freeze() {
    rm -f "$RIG/ring"
    guest_ring > "$RIG/ring.tmp"
    mv "$RIG/ring.tmp" "$RIG/ring"
}

# guest_e9_lines DOMID: the guest's port-0xe9 output, "(dN) " stripped.
guest_e9_lines() {
    guest_ring | sed -n "s/^(d$1) //p"
}

# guest_said DOMID TEXT: the guest printed a line containing TEXT on
# port 0xe9.
guest_said() {
    guest_e9_lines "$1" | grep -qF "$2"
}

# guest_console NAME: the guest's PV console, as xenconsoled logged it;
# after an xl migrate the rest is in the log of the name the receiving
# domain was created under (NAME--incoming).
guest_console() {
    cat "$CONSOLE_LOGS/guest-$1.log" "$CONSOLE_LOGS/guest-$1--incoming.log" \
        2> /dev/null
}

# guest_output NAME DOMID: the guest's console output: its PV console
# log if that has KTAP in it, else its port-0xe9 lines.  Sets
# GUEST_OUTPUT_FROM to which.
guest_output() {
    if guest_console "$1" | grep -q '^KTAP version'; then
        GUEST_OUTPUT_FROM=PV-console
        guest_console "$1" | tr -d '\r'
    else
        GUEST_OUTPUT_FROM=port-0xe9
        guest_e9_lines "$2"
    fi
}

# guest_ktap_verdict NAME DOMID: "WORD SOURCE": the word of the guest's
# last "Test result: WORD" line ("none" if it has none) and where it was
# read (PV-console or port-0xe9).
guest_ktap_verdict() {
    guest_output "$1" "$2" > "$RIG/output-$1"
    _v=$(sed -n 's/^Test result: \([A-Z]*\).*/\1/p' "$RIG/output-$1" |
         tail -n 1)
    echo "${_v:-none} $GUEST_OUTPUT_FROM"
}

# guest_skips NAME: "suite.case # SKIP reason" for each case the guest
# skipped, from the output guest_ktap_verdict saved.
guest_skips() {
    awk '/^    # Subtest: / { suite = $3 }
         /^    ok [0-9]+ .* # SKIP/ { sub(/^    ok [0-9]+ /, "");
                                     print suite "." $0 }' "$RIG/output-$1"
}

# guest_totals NAME DOMID: its "N passed, N failed, N skipped" line.
guest_totals() {
    guest_output "$1" "$2" |
        grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1
}

# guest_report NAME DOMID: everything dom0 saw of the guest: the xl
# monitor's log, Xen's own messages since guest_create, the guest's
# port-0xe9 lines and its PV console log.
guest_report() {
    show "$XL_LOGS/xl-$1.log" "xl monitor log ($XL_LOGS/xl-$1.log)"
    guest_ring | grep -v "^(d$2) " |
        grep -vE "^\(XEN\) HVM d$2(v[0-9]+)? save: " > "$RIG/xen-$1.log"
    show "$RIG/xen-$1.log" \
        "xl dmesg: Xen's messages since xl create (less its HVM save lines)"
    guest_e9_lines "$2" > "$RIG/e9-$1.log"
    show "$RIG/e9-$1.log" "xl dmesg: (d$2) lines, the guest's port 0xe9"
    guest_console "$1" > "$RIG/console-$1.log"
    show "$RIG/console-$1.log" "PV console log ($CONSOLE_LOGS/guest-$1.log)"
}

# guest_xen_trouble DOMID: Xen's own words about the guest going wrong
# (a triple fault, which Xen turns into a reboot shutdown, a crash, an
# unhandled exit), since guest_create; says so when there are none.
guest_xen_trouble() {
    _t=$(guest_ring | grep -v "^(d$1) " |
         grep -E "d$1(v[0-9]+)?[ :]" |
         grep -iE 'triple fault|crash|unhandled|fatal|bad |invalid')
    if [ -n "$_t" ]; then
        echo "$_t" | while IFS= read -r _l; do say "Xen about d$1: $_l"; done
    else
        say "Xen about d$1: no fault or crash reported"
    fi
}

# guest_fault_signature DOMID: the name of the known fault the guest's end
# matches, with status 0; status 1 if it matches none.  Its evidence goes
# to $RIG/fault-DOMID either way.  The one known fault (README, "The
# machine"): QEMU TCG's nested SVM loses a guest's state at a VMRUN, and
# the guest triple-faults with its RIP right after an instruction Xen
# intercepts (a hypercall's vmmcall, a wrmsr such as the x2APIC EOI, an
# rdtsc: $FAULT_SITES, listed by mkinitrd.sh from the guest ELF), or with
# Xen's own RIP (the instruction after its VMRUN) as the guest's.  A
# triple fault anywhere else is a bug until shown otherwise, and so is a
# failure without one: neither is retried.
FAULT_SITES=/guest/intercept-sites
guest_fault_signature() {
    _ev=$RIG/fault-$1
    # Xen's words: "dNvM Triple fault - invoking HVM shutdown action R",
    # then its dump of that vCPU, whose first RIP line is the guest's.
    guest_ring | sed -n "/d$1v[0-9]* Triple fault/,\$p" |
        grep -E "d$1v[0-9]+ Triple fault|RIP: " | head -n 2 > "$_ev"
    if ! grep -q "Triple fault" "$_ev"; then
        echo "Xen reported no triple fault of d$1" >> "$_ev"
        return 1
    fi
    _rip=$(sed -n 's/.*RIP: *[0-9a-f]*:\[<\([0-9a-f]*\)>\].*/\1/p' "$_ev")
    case $_rip in
    '')
        echo "no RIP in Xen's dump after the triple fault" >> "$_ev"
        return 1 ;;
    ffff82d0*)
        echo "RIP $_rip is Xen's own, not the guest's" >> "$_ev"
        echo nested-svm-xen-rip ;;
    *)
        _site=$(grep "^$_rip " "$FAULT_SITES" | head -n 1)
        if [ -z "$_site" ]; then
            echo "RIP $_rip is not right after an instruction Xen" \
                "intercepts ($FAULT_SITES)" >> "$_ev"
            return 1
        fi
        echo "RIP $_rip is right after: ${_site#* }" >> "$_ev"
        echo "nested-svm-${_site#* }" | cut -d' ' -f1 ;;
    esac
}

# guest_dump NAME DOMID: where its vCPUs are (a hang, a triple fault):
# registers and a symbolised stack trace of each vCPU, by xenctx, with
# xenith's symbols (it runs at low addresses: -k 0, all of it is
# "kernel"; built with frame pointers: -f).  The domain must still exist.
guest_dump() {
    run_logged "xenctx-$1" xenctx -f -S -C -k 0 -s /guest/xenith.map "$2"
    guest_lapic "$1" "$2"
}

# guest_lapic NAME DOMID: each vCPU's local APIC ISR and IRR, from Xen's
# save record (xen-hvmctx): a deaf vCPU with the upcall vector's bit set in
# ISR missed an EOI; with it set in IRR only, or in neither, the interrupt
# was not delivered (issue 13).  xen-hvmctx prints the 1 KiB register
# page two registers a row; ISR is 0x100-0x170, IRR 0x200-0x270, one
# 32-bit register every 0x10, vector v in register v/32, bit v%32 (the
# guest's log names its upcall vector).
guest_lapic() {
    xen-hvmctx "$2" > "$RIG/hvmctx-$1.raw" 2>&1
    _rc=$?
    awk '/^Entry/ { entry = $0; on = 0 }
         /LAPIC registers/ { print entry; on = 1; next }
         on && /^ *0x01[0246]0:/ { print "  ISR " $0 }
         on && /^ *0x02[0246]0:/ { print "  IRR " $0 }' \
        "$RIG/hvmctx-$1.raw" > "$RIG/hvmctx-$1.out"
    show "$RIG/hvmctx-$1.out" \
        "xen-hvmctx $2 (status $_rc): LAPIC ISR and IRR per vCPU"
}

# guest_destroy NAME: xl destroy, showing what it said.
guest_destroy() {
    run_logged "destroy-$1" xl destroy "$1"
}
