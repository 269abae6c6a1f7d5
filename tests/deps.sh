#!/bin/sh
# Install what a boot run needs on Debian 12, then (re)create build/xen,
# the uncompressed hypervisor QEMU's multiboot loader wants.  Quiet when
# there is nothing to do.  Run from the repository root: sh tests/deps.sh
set -eu

XEN_GZ=/boot/xen-4.17-amd64.gz
missing=

need() {        # need PACKAGE TEST...
    pkg=$1
    shift
    if ! "$@" >/dev/null 2>&1; then
        case " $missing " in
        *" $pkg "*) ;;
        *) missing="$missing $pkg" ;;
        esac
    fi
}

need qemu-system-x86 command -v qemu-system-x86_64
need xen-hypervisor-4.17-amd64 test -f "$XEN_GZ"
need libxen-dev test -f /usr/include/xen/xen.h
need python3 command -v python3

if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "deps: installing$missing"
        apt-get update
        # shellcheck disable=SC2086 # the list is meant to split
        DEBIAN_FRONTEND=noninteractive apt-get install -y \
            --no-install-recommends $missing
    else
        echo "deps: missing packages:$missing; install them with:" >&2
        echo "sudo apt-get install -y$missing" >&2
        exit 1
    fi
fi

test -f "$XEN_GZ" || { echo "deps: $XEN_GZ still missing" >&2; exit 1; }
if [ ! -s build/xen ] || [ -n "$(find "$XEN_GZ" -newer build/xen)" ]; then
    mkdir -p build
    zcat "$XEN_GZ" > build/xen.tmp
    mv build/xen.tmp build/xen
    echo "deps: build/xen from $XEN_GZ"
fi
