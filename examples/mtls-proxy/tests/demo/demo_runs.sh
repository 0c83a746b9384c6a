#!/usr/bin/env bash
# demo_runs.sh MTLS_PROXY - `mtls-proxy demo` works out of the box: it exits 0, alice's
# verified identity reaches the built-in upstream, mallory is refused, and the temporary
# directory is gone afterwards. Skipped (77) when curl is not installed.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 MTLS_PROXY" >&2
    exit 2
fi
proxy=$1
if ! command -v curl > /dev/null; then
    echo "demo_runs: curl is not installed; skipping"
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$(TMPDIR=$tmp timeout 60 "$proxy" demo 2>&1)
rc=$?
printf '%s\n' "$out"

fail() {
    echo "demo_runs: FAIL: $*" >&2
    exit 1
}
expect() { # expect REGEX WHAT
    grep -Eq -- "$1" <<< "$out" || fail "$2 (no line matching /$1/ in the output above)"
}

[ "$rc" -eq 0 ] || fail "mtls-proxy demo exited with status $rc, want 0"
expect '^X-Client-Subject: CN=alice$' "alice's subject did not reach the upstream"
expect '^X-Client-Fingerprint: [0-9a-f]{64}$' "alice's fingerprint did not reach the upstream"
expect '^X-Client-Verified: SUCCESS$' "the upstream was not told that alice is verified"
expect '^=> accepted: HTTP 200' "alice was not reported as accepted"
expect '^=> refused: its CA is not trusted' "mallory's refusal was not reported"
expect '^mtls-proxy demo: OK' "no final OK line"
[ -z "$(ls -A "$tmp")" ] || fail "the demo left files in its TMPDIR: $(ls -A "$tmp")"
echo "demo_runs: ok"
