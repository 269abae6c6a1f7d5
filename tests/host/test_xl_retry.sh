#!/bin/sh
# Host test of the xl rig's retry rule (tests/xl/guest.sh's
# guest_fault_signature, tests/xl/scenario.sh's again_if_known_fault): a
# failed check is run once more only when Xen's dump shows the known
# nested-SVM triple fault; any other failure fails at once; a retry is
# counted.  Xen's console ring and the toolstack are stand-ins here.
# Run from tests/host (the Makefile does).
set -u
XL=${XL_DIR:-../xl}  # XL_DIR: another copy, e.g. a mutant
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
RIG=$T/rig
mkdir -p "$RIG"
fails=0
checks=0

say() { echo "xl| $*"; }
show() { [ -n "${2:-}" ] && say "--- $2"; sed 's/^/xl|     /' "$1"; }
xl() { [ "$1" = info ] && echo "nr_cpus                : 3"; }
. "$XL/guest.sh" > /dev/null
. "$XL/scenario.sh"
FAULT_SITES=$T/sites
printf '%s\n' "0000000000100068 after-hypercall 3" \
    "00000000001010d2 after-wrmsr" > "$FAULT_SITES"
# The ring the helpers read: the fixture of the case.
guest_ring() { cat "$T/ring"; }

# ring DOMID RIP: Xen's words for a triple fault of dDOMIDv1 at RIP.
ring() {
    printf '%s\n' "(d$1) KTAP version 1" \
        "(XEN) d$1v1 Triple fault - invoking HVM shutdown action 1" \
        "(XEN) *** Dumping Dom$1 vcpu#1 state: ***" \
        "(XEN) ----[ Xen-4.17.6  x86_64  debug=n  Not tainted ]----" \
        "(XEN) CPU:    1" \
        "(XEN) RIP:    0008:[<$2>]" \
        "(XEN) RFLAGS: 0000000000010006   CONTEXT: hvm guest (d$1v1)" \
        > "$T/ring"
}

# expect WHAT WANT-STATUS WANT-OUTPUT DOMID
expect() {
    checks=$((checks + 1))
    got=$(guest_fault_signature "$4")
    st=$?
    if [ "$st" != "$2" ] || [ "$got" != "$3" ]; then
        echo "FAIL: $1: status $st, '$got' (wanted $2, '$3')"
        sed 's/^/    evidence: /' "$RIG/fault-$4"
        fails=$((fails + 1))
    fi
}

ring 3 0000000000100068
expect "after a hypercall's vmmcall" 0 nested-svm-after-hypercall 3
grep -q "RIP 0000000000100068 is right after: after-hypercall 3" \
    "$RIG/fault-3" || { echo "FAIL: no evidence line"; fails=$((fails + 1)); }
ring 3 00000000001010d2
expect "after a wrmsr" 0 nested-svm-after-wrmsr 3
ring 3 ffff82d040345678
expect "Xen's own RIP" 0 nested-svm-xen-rip 3
ring 3 00000000001010d0
expect "a triple fault elsewhere (at the wrmsr, not after)" 1 "" 3
ring 4 0000000000100068
expect "another domain's triple fault" 1 "" 3
printf '%s\n' "(d3) PANIC on vCPU0" "(XEN) d3v0 crashed" > "$T/ring"
expect "a crash without a triple fault" 1 "" 3

# again_if_known_fault: a stand-in check that fails on its first guest
# with the ring of the case, passes on the second.
once() {
    tries=$((tries + 1))
    # shellcheck disable=SC2034 # read by again_if_known_fault
    domid=3
    [ "$tries" = 1 ] && return 1
    return 0
}
# retried CASE WANT-TRIES WANT-STATUS WANT-RETRY-LINES
retried() {
    checks=$((checks + 1))
    tries=0
    rm -f "$RIG/retries"
    again_if_known_fault once xenith > "$T/out"
    st=$?
    n=0
    [ -f "$RIG/retries" ] && n=$(wc -l < "$RIG/retries")
    if [ "$tries" != "$2" ] || [ "$st" != "$3" ] || [ "$n" != "$4" ]; then
        echo "FAIL: $1: $tries tries, status $st, $n retries counted" \
            "(wanted $2, $3, $4)"
        sed 's/^/    /' "$T/out"
        fails=$((fails + 1))
    fi
}
ring 3 0000000000100068
retried "known fault: retried once, counted" 2 0 1
grep -q "^xl| retry: xenith (domain 3) ended with the known fault" \
    "$T/out" || { echo "FAIL: the retry is not said"; fails=$((fails + 1)); }
ring 3 0000000000100070
retried "unclassified triple fault: fails at once" 1 1 0
printf '%s\n' "(d3) Test result: FAILURE" > "$T/ring"
retried "a test failure: fails at once" 1 1 0

echo "xl retry rule: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
