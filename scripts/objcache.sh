#!/bin/sh
# Compile one C file through a cache keyed by what the compiler really
# sees: its version, its flags without the -D and -I ones (those act only
# through the preprocessor), and the preprocessed text.  A mutant config
# differs from the default by one -D: every file that never tests the
# macro preprocesses to the same text, so its object is taken from the
# cache instead of compiled again.  make test builds 25 configs; this
# makes the 20 single-macro ones cost a preprocessing pass each.
#
#   sh scripts/objcache.sh CACHE-DIR OBJ SRC CC [FLAGS...]
#
# Writes OBJ and its dependency file (OBJ with .d), as CC -MMD -MP would.
set -eu
cache=$1 obj=$2 src=$3
shift 3
dep=${obj%.o}.d
pre=$obj.i

"$@" -E -MMD -MP -MF "$dep" -MT "$obj" "$src" -o "$pre"
key=$(
    {
        "$1" --version | head -n 1
        for a in "$@"; do
            case $a in -D*|-I*) ;; *) printf '%s\n' "$a" ;; esac
        done
        echo "$src"
        cat "$pre"
    } | sha256sum | cut -c1-40
)
rm -f "$pre"
hit=$cache/$key.o
if [ -f "$hit" ]; then
    cp "$hit" "$obj"
    exit 0
fi
# From the source, not the .i, so the debug information names it as a
# plain build would.
"$@" -c "$src" -o "$obj"
mkdir -p "$cache"
tmp=$(mktemp "$cache/.tmp.XXXXXX")
cp "$obj" "$tmp"
mv "$tmp" "$hit"                        # whole or not at all, under -j
