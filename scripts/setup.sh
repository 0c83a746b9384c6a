#!/usr/bin/env bash
# setup.sh [BUILDDIR] - install what is missing (Debian 12 packages) and build libmtls.
# Sourced by demo.sh and test.sh; safe to run again.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${1:-$top/build}

# python3-venv, golang-go, nodejs + npm: the bindings' test suites (bindings/*).
# libssl-dev: the OpenSSL 3 build of libmtls (-Dtls_backend=openssl); nginx + nginx-dev: its
# nginx module (integrations/nginx), built and tested against Debian's own nginx.
packages=(build-essential meson ninja-build pkg-config android-libboringssl-dev
          libjansson-dev libcmocka-dev openssl curl caddy python3 python3-venv g++ golang-go
          libssl-dev nginx nginx-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js by command, not package: a nodejs from another repository (NodeSource) bundles npm,
# and Debian's npm package would conflict with it.
command -v node > /dev/null || missing+=(nodejs)
command -v npm > /dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    # A policy-rc.d that denies every start keeps the caddy and nginx packages from starting
    # their system services (on ports 80/443); ours is removed again.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# libmtls setup.sh: no service starts during package installs\nexit 101\n' |
            "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d > /dev/null
        "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2 || status=$?
    [ "$made_policy" = 1 ] && "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d
    [ "$status" = 0 ] || exit "$status"
fi

werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" "$top" -Dwerror=$werror >&2
fi
meson compile -C "$builddir" >&2
