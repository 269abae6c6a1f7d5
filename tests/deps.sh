#!/bin/sh
# Install what a boot run needs on Debian 12, then (re)create build/xen,
# the uncompressed hypervisor QEMU's multiboot loader wants.  Quiet when
# there is nothing to do.  Run from the repository root: sh tests/deps.sh
#
# The hypervisor is NOT installed as a package: installing
# xen-hypervisor-4.17-amd64 makes GRUB boot Xen by default on the next
# reboot of a real machine.  Its .deb is downloaded and unpacked under
# build/ instead (no root needed for that); an already installed
# /boot/xen-4.17-amd64.gz is used as it is.
set -eu

XEN_PKG=xen-hypervisor-4.17-amd64
XEN_GZ=${XEN_GZ:-/boot/xen-4.17-amd64.gz}
DEB_DIR=build/deps
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

need gcc command -v gcc
need binutils command -v ld
need qemu-system-x86 command -v qemu-system-x86_64
need libxen-dev test -f /usr/include/xen/xen.h
need python3 command -v python3
# make fuzz (tests/fuzz): clang with libFuzzer and the sanitizers
need clang command -v clang
need libclang-rt-14-dev test -f \
    /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a
# make bench's pictures (tests/bench_plots.sh)
need gnuplot-nox command -v gnuplot

. tests/apt.sh

if [ -n "$missing" ]; then
    if am_root; then
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

# The hypervisor image: installed, or unpacked from its .deb under build/.
if [ ! -f "$XEN_GZ" ]; then
    XEN_GZ=$DEB_DIR/root/boot/xen-4.17-amd64.gz
    if [ ! -f "$XEN_GZ" ]; then
        echo "deps: fetching $XEN_PKG (unpacked under $DEB_DIR, not installed)"
        mkdir -p "$DEB_DIR"
        apt_download deps "$DEB_DIR" "$XEN_PKG"
        dpkg-deb -x "$DEB_DIR"/"$XEN_PKG"_*.deb "$DEB_DIR/root"
    fi
fi

test -f "$XEN_GZ" || { echo "deps: $XEN_GZ still missing" >&2; exit 1; }
if [ ! -s build/xen ] || [ -n "$(find "$XEN_GZ" -newer build/xen)" ]; then
    mkdir -p build
    zcat "$XEN_GZ" > build/xen.tmp
    mv build/xen.tmp build/xen
    echo "deps: build/xen from $XEN_GZ"
fi
