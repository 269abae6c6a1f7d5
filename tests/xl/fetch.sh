#!/bin/sh
# Download and unpack what the xl rig's dom0 needs (tests/xl/README.md):
# Debian 12 packages, fetched with `apt-get download` (no install, no
# root) into build/xl-cache/debs/ and unpacked with `dpkg-deb -x` into
# build/xl-cache/root/.  A re-run with the cache complete downloads and
# unpacks nothing: the list of .debs that were unpacked is kept in
# build/xl-cache/unpacked and is the cache's proof of completeness.
#
# Then extracts the ELF vmlinux from Debian's bzImage into
# build/xl-cache/vmlinux (Xen xz-decompressing the bzImage itself costs
# ~4.4 s under TCG).  Prints nothing when there is nothing to do.
#
# Run from the repository root: sh tests/xl/fetch.sh
set -eu

CACHE=build/xl-cache
DEBS=$CACHE/debs
ROOT=$CACHE/root
STAMP=$CACHE/unpacked

# The hypervisor comes from tests/deps.sh (build/xen); everything else of
# the dom0 side is here.  The Linux image package is resolved through the
# linux-image-amd64 metapackage (security updates change its name).
PKGS="busybox-static xen-utils-4.17 xenstore-utils libxenmisc4.17
libxenstore4 libxencall1 libxendevicemodel1 libxenevtchn1
libxenforeignmemory1 libxengnttab1 libxenhypfs1 libxentoolcore1
libxentoollog1 libyajl2"

. tests/apt.sh

# cache_complete: every .deb named in the stamp is still there (and unpacked).
cache_complete() {
    [ -s "$STAMP" ] && [ -d "$ROOT" ] || return 1
    while read -r deb; do
        [ -f "$DEBS/$deb" ] || return 1
    done < "$STAMP"
    ls "$DEBS"/linux-image-*.deb >/dev/null 2>&1
}

if ! cache_complete; then
    mkdir -p "$DEBS"
    kpkg=$(ls "$DEBS" 2>/dev/null |
           sed -n 's/^\(linux-image-[0-9][^_]*\)_.*/\1/p' | head -n 1)
    if [ -z "$kpkg" ]; then
        kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
               sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' |
               head -n 1)
        if [ -z "$kpkg" ] && am_root; then
            apt-get update >/dev/null
            kpkg=$(apt-cache depends linux-image-amd64 |
                   sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' |
                   head -n 1)
        fi
        [ -n "$kpkg" ] || { echo "xl-fetch: cannot resolve" \
            "linux-image-amd64 (apt-get update?)" >&2; exit 1; }
    fi
    want=
    for p in $PKGS $kpkg; do
        ls "$DEBS/${p}_"*.deb >/dev/null 2>&1 || want="$want $p"
    done
    if [ -n "$want" ]; then
        echo "xl-fetch: downloading$want (into $DEBS, not installed)"
        # shellcheck disable=SC2086 # the list is meant to split
        apt_download xl-fetch "$DEBS" $want
    fi
    echo "xl-fetch: unpacking into $ROOT"
    rm -rf "$ROOT" "$STAMP" "$CACHE/vmlinux"
    mkdir -p "$ROOT"
    : > "$STAMP.tmp"
    for p in $PKGS $kpkg; do
        deb=$(ls "$DEBS/${p}_"*.deb | tail -n 1)
        dpkg-deb -x "$deb" "$ROOT"
        basename "$deb" >> "$STAMP.tmp"
    done
    mv "$STAMP.tmp" "$STAMP"
fi

# The ELF vmlinux inside the bzImage: an xz stream that starts at the
# first "FD 37 7A 58 5A 00" bytes (Python's lzma: no xz binary needed).
if [ ! -s "$CACHE/vmlinux" ]; then
    bz=$(ls "$ROOT"/boot/vmlinuz-* | head -n 1)
    python3 - "$bz" "$CACHE/vmlinux.tmp" <<'PY' || exit 1
import lzma, sys
data = open(sys.argv[1], "rb").read()
at = data.find(b"\xfd7zXZ\x00")
if at < 0:
    sys.exit("xl-fetch: no xz stream in " + sys.argv[1])
elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[at:])
if elf[:4] != b"\x7fELF":
    sys.exit("xl-fetch: %s did not yield an ELF vmlinux" % sys.argv[1])
open(sys.argv[2], "wb").write(elf)
PY
    mv "$CACHE/vmlinux.tmp" "$CACHE/vmlinux"
    echo "xl-fetch: $CACHE/vmlinux from $(basename "$bz")"
fi
