#!/usr/bin/env bash
# demo.sh - the main job, end to end: build, then `mtls-proxy demo`: a throwaway PKI (Ed25519
# client CA, P-384 client key, as the YubiKey tutorial), the proxy on 127.0.0.1 running the
# tutorial Caddyfile in front of a built-in upstream, one client accepted (with the identity
# the upstream saw) and one refused; everything is stopped and removed at the end.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
"$top/scripts/setup.sh" "$builddir"
exec "$builddir/examples/mtls-proxy/mtls-proxy" demo "$@"
