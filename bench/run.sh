#!/usr/bin/env bash
# run.sh [--quick] [--scaling] [bench.py options] - the end-to-end benchmark of issue 6
# (docs/performance.md): mtls-proxy, Caddy, nginx and HAProxy side by side, one table.
#
#   ./bench/run.sh            3 rounds, medians (about 10 minutes on 2 CPUs)
#   ./bench/run.sh --quick    1 short round (a functional check; numbers are noisy)
#   ./bench/run.sh --scaling  also 10,000 idle connections and a 1 GiB body each way
#   ./bench/run.sh --help     every option (servers, durations, CPU pinning, ...)
#
# Installs what is missing (Debian 12: nginx, haproxy and what scripts/setup.sh needs,
# without starting their system services), builds libmtls and mtls-proxy into ./build
# (BUILDDIR=... to change) with scripts/setup.sh, builds the bench tools, then runs
# bench/bench.py. Results: BUILD/bench-results/DATE/{table.md,results.json}.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}

for a in "$@"; do
    if [ "$a" = "--help" ] || [ "$a" = "-h" ]; then
        exec python3 "$top/bench/bench.py" --help
    fi
done

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

# --- packages ---------------------------------------------------------------------------------
need=()
for p in nginx haproxy caddy openssl python3 util-linux; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
# Debian's nginx, haproxy and caddy packages start their system services on install (nginx
# on port 80). A policy-rc.d that denies every start keeps them stopped; ours is removed again.
made_policy=0
cleanup_policy() {
    if [ "$made_policy" = 1 ]; then
        "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d
    fi
}
trap cleanup_policy EXIT
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# bench/run.sh: no service starts during package installs\nexit 101\n' |
        "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "run.sh: installing ${need[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
        --no-install-recommends "${need[@]}" >&2
    # Belt and braces, where systemd runs: the packages' services stay stopped.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        "${sudo_cmd[@]}" systemctl stop nginx haproxy caddy 2>/dev/null || true
    fi
fi

# --- libmtls and mtls-proxy -------------------------------------------------------------------
"$top/scripts/setup.sh" "$builddir"
cleanup_policy
made_policy=0

# --- the bench tools --------------------------------------------------------------------------
# meson builds them when the top-level meson.build has subdir('bench'); otherwise plain cc.
bindir=$builddir/bench
if [ ! -x "$bindir/loadgen" ] || [ ! -x "$bindir/upstream" ] || [ ! -x "$bindir/cryptofloor" ]; then
    bindir=$builddir/bench-standalone
    mkdir -p "$bindir"
    inc=${BORINGSSL_INCLUDEDIR:-/usr/include/android}
    lib=${BORINGSSL_LIBDIR:-/usr/lib/x86_64-linux-gnu/android}
    cflags=(-O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -isystem "$inc")
    ldssl=(-L"$lib" -Wl,-rpath,"$lib" -lssl -lcrypto)
    for t in loadgen upstream cryptofloor; do
        src=$top/bench/$t.c
        if [ ! -x "$bindir/$t" ] || [ "$src" -nt "$bindir/$t" ] ||
           [ "$top/bench/http1.h" -nt "$bindir/$t" ]; then
            echo "run.sh: cc bench/$t.c" >&2
            cc "${cflags[@]}" -o "$bindir/$t" "$src" "${ldssl[@]}" -pthread
        fi
    done
fi

# --- descriptors for --scaling (10,000 idle connections: loadgen and server each) -------------
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec python3 "$top/bench/bench.py" --build "$builddir" --bin-dir "$bindir" "$@"
