# Sourced by tests/deps.sh and tests/xl/fetch.sh (from the repository
# root): fetching Debian packages without installing them.

am_root() { [ "$(id -u)" -eq 0 ]; }

# apt_download WHO DIR PKG...: `apt-get download` into DIR; if that fails
# (package lists missing or stale), one `apt-get update` when root and a
# second try, else a message naming WHO and exit 1.
apt_download() {
    who=$1 dir=$2
    shift 2
    if (cd "$dir" && apt-get download "$@" >/dev/null 2>&1); then
        return 0
    fi
    if am_root; then
        apt-get update >/dev/null
        (cd "$dir" && apt-get download "$@")
    else
        echo "$who: cannot download $*; run 'sudo apt-get update' first" >&2
        exit 1
    fi
}
