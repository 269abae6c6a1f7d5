#!/bin/sh
# Build the xl rig's dom0 initramfs:
#     sh tests/xl/mkinitrd.sh ELF CFG SCENARIO OUT
# ELF is the guest kernel, CFG its xl config, SCENARIO the checks to run
# (tests/xl/scenario.sh, or another file of the same form).
#
# Two gzipped newc archives, concatenated (Linux unpacks one after the
# other):
#   base  the dom0 userland, from the unpacked .debs of tests/xl/fetch.sh:
#         busybox, xl, xenstored, xenconsoled, xen-init-dom0, xenctx,
#         xen-hvmctx,
#         xenstore and its links, their libraries (resolved with ldd
#         against the unpacked tree, then the host's Debian 12 ones),
#         libgcc_s (glibc dlopen()s it for pthread_cancel, ldd does not
#         list it), the five Xen modules.  Cached as
#         build/xl-cache/base.cpio.gz; rebuilt when the unpacked tree or
#         this script is newer.
#   rig   what a run tests: /init, /guest.sh, /scenario.sh, the guest ELF,
#         its symbol table and its xl config.  Built every time (cheap).
# No binary is ever committed: both are made from the cache at test time.
#
# Run from the repository root.
set -eu

ELF=$1
CFG=$2
SCENARIO=$3
OUT=$4
CACHE=build/xl-cache
ROOT=$CACHE/root
BASE=$CACHE/base.cpio.gz
HERE=tests/xl
XENBIN=usr/lib/xen-4.17/bin
LIBDIR=lib/x86_64-linux-gnu
MODS="xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc"

if [ ! -f "$CACHE/unpacked" ]; then
    echo "mkinitrd: run tests/xl/fetch.sh first" >&2
    exit 1
fi
BUSYBOX=$PWD/$ROOT/bin/busybox

# cpio_gz DIR OUT: a newc archive of DIR's contents, owned by root.
cpio_gz() {
    (cd "$1" && find . -mindepth 1 | sort |
        "$BUSYBOX" cpio -o -H newc -R 0:0 2>/dev/null) |
        gzip -1 > "$2.tmp"
    mv "$2.tmp" "$2"
}

build_base() {
    stage=$CACHE/base
    rm -rf "$stage"
    mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" \
             "$stage/$XENBIN" "$stage/$LIBDIR" "$stage/lib64" \
             "$stage/lib/modules/xen" "$stage/etc/xen" \
             "$stage/proc" "$stage/sys" "$stage/dev" "$stage/run" \
             "$stage/tmp" "$stage/var/lib/xen" "$stage/var/log/xen" \
             "$stage/var/lib/xenstored" "$stage/root"
    ln -s ../run "$stage/var/run"
    cp "$BUSYBOX" "$stage/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
    done
    bins=
    # libxl-save-helper: what xl save, restore and migrate run.
    for b in xl xenstored xenconsoled xen-init-dom0 xenctx xen-hvmctx \
             libxl-save-helper; do
        cp "$ROOT/$XENBIN/$b" "$stage/$XENBIN/$b"
        bins="$bins $ROOT/$XENBIN/$b"
    done
    cp "$ROOT/usr/bin/xenstore" "$stage/usr/bin/xenstore"
    bins="$bins $ROOT/usr/bin/xenstore"
    for l in read write ls list exists rm watch chmod; do
        ln -s xenstore "$stage/usr/bin/xenstore-$l"
    done
    # Libraries: the unpacked tree first, the host's (Debian 12) after.
    libpath=$PWD/$ROOT/usr/lib/x86_64-linux-gnu
    libpath=$libpath:$PWD/$ROOT/usr/lib/xen-4.17/lib/x86_64-linux-gnu
    # shellcheck disable=SC2086 # the list is meant to split
    libs=$(for b in $bins; do LD_LIBRARY_PATH=$libpath ldd "$b"; done |
           awk '/not found/ { print "MISSING " $1; next }
                $2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
    case "$libs" in
    *MISSING*)
        echo "mkinitrd: unresolved libraries:" \
             "$(echo "$libs" | sed -n 's/^MISSING //p' | tr '\n' ' ')" >&2
        exit 1 ;;
    esac
    gcc_s=$(ls /lib/x86_64-linux-gnu/libgcc_s.so.1 \
               /usr/lib/x86_64-linux-gnu/libgcc_s.so.1 2>/dev/null | head -n 1)
    if [ -z "$gcc_s" ]; then
        echo "mkinitrd: libgcc_s.so.1 not found" >&2
        exit 1
    fi
    for l in $libs $gcc_s; do
        cp -L "$l" "$stage/$LIBDIR/$(basename "$l")"
    done
    cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/ld-linux-x86-64.so.2"
    moddir=$(ls -d "$ROOT"/lib/modules/*/kernel/drivers/xen | head -n 1)
    for m in $MODS; do
        f=$(find "$moddir" -name "$m.ko" | head -n 1)
        [ -n "$f" ] || { echo "mkinitrd: module $m not found" >&2; exit 1; }
        cp "$f" "$stage/lib/modules/xen/$m.ko"
    done
    # No autoballooning: dom0 has a fixed dom0_mem, and xl must not try
    # to take memory back from it for a guest.
    echo 'autoballoon="off"' > "$stage/etc/xen/xl.conf"
    cpio_gz "$stage" "$BASE"
    rm -rf "$stage"
}

if [ ! -s "$BASE" ] || [ -n "$(find "$CACHE/unpacked" "$HERE/mkinitrd.sh" \
        -newer "$BASE" 2>/dev/null)" ]; then
    echo "mkinitrd: building $BASE (cached from now on)"
    build_base
fi

# The per-run archive.  The guest config is the user-facing one with the
# kernel path rewritten to where the guest ELF sits in the initramfs.
stage=$(dirname "$OUT")/rig-stage
rm -rf "$stage"
mkdir -p "$stage/etc/xen" "$stage/guest"
cp "$HERE/init" "$stage/init"
cp "$HERE/guest.sh" "$stage/guest.sh"
cp "$SCENARIO" "$stage/scenario.sh"
chmod 755 "$stage/init"
cp "$ELF" "$stage/guest/xenith.elf"
# Its symbols, System.map style, for xenctx's stack traces.
nm -n "$ELF" | grep -i ' [tdbr] ' > "$stage/guest/xenith.map"
# The addresses right after each instruction Xen intercepts, where the
# known nested-SVM triple fault leaves the guest's RIP (guest.sh,
# guest_fault_signature): "ADDRESS after-WHAT", 16 hex digits as Xen
# prints a RIP.  Hypercalls go through the page Xen fills, 32 bytes per
# hypercall: "mov $N, %eax" (5 bytes), vmmcall (3), ret.  wrmsr and rdtsc
# are 2 bytes each.
hp=$(nm "$ELF" | awk '$3 == "hypercall_page" { print $1 }')
[ -n "$hp" ] || { echo "mkinitrd: $ELF has no hypercall_page" >&2; exit 1; }
{
    i=0
    while [ "$i" -lt 128 ]; do
        printf '%016x after-hypercall %d\n' $((0x$hp + i * 32 + 8)) "$i"
        i=$((i + 1))
    done
    objdump -d --no-show-raw-insn "$ELF" |
        awk '$2 == "wrmsr" || $2 == "rdtsc" { sub(":", "", $1); print $1, $2 }' |
        while read -r addr insn; do
            printf '%016x after-%s\n' $((0x$addr + 2)) "$insn"
        done
} > "$stage/guest/intercept-sites"
sed 's|^kernel *=.*|kernel = "/guest/xenith.elf"|' "$CFG" \
    > "$stage/etc/xen/xenith.cfg"
grep -q '^kernel = "/guest/xenith.elf"$' "$stage/etc/xen/xenith.cfg" ||
    { echo "mkinitrd: $CFG has no kernel = line" >&2; exit 1; }
cpio_gz "$stage" "$(dirname "$OUT")/rig.cpio.gz"
cat "$BASE" "$(dirname "$OUT")/rig.cpio.gz" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
rm -rf "$stage"
