#!/usr/bin/env bash
# tests/caddy/compare.sh PKIDIR [MTLS_IDENTITY] - differential test of libmtls against the
# real Caddy 2.6.2.
#
# 1. makes the test PKI in PKIDIR with tests/pki/mkpki.sh unless PKIDIR/manifest.tsv exists
#    and is less than a day old;
# 2. records Caddy's placeholders, headers and verdicts with caddy-golden.sh;
# 3. runs mtls-identity (path as 2nd argument, or $MTLS_IDENTITY, or `mtls-identity` on PATH)
#    on the same chains: identity under {"mode":"request"}, verdict under
#    {"mode":"require_and_verify","trusted_ca_certs_pem_files":[<manifest trust file>]};
# 4. compare.py: any difference other than the deliberate ones of DESIGN.md §3 fails.
# Exit: 0 agree, 1 differences or errors, 77 (meson: skipped) when Caddy cannot be had.
# Env: KEEP_TMP=1 keeps the work dir (golden.*.tsv, mtls.*.tsv) and prints its path;
#      MTLS_COMPARE_REASONS=0 reports reason-word mismatches without failing.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PKIDIR [MTLS_IDENTITY]" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PKI=$1
TOOL=${2:-${MTLS_IDENTITY:-mtls-identity}}
case $TOOL in */*) TOOL=$(cd "$(dirname "$TOOL")" && pwd)/$(basename "$TOOL") ;; esac
command -v "$TOOL" >/dev/null 2>&1 || { echo "compare: mtls-identity not found: $TOOL" >&2; exit 1; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

if ! command -v caddy >/dev/null 2>&1 &&
   { [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; }; then
    echo "compare: SKIP: caddy is not installed and cannot be installed here" >&2
    exit 77
fi

# (re)make the PKI when missing or older than a day: validity periods are relative to its making
if [ ! -s "$PKI/manifest.tsv" ] || [ -n "$(find "$PKI/manifest.tsv" -mmin +1440)" ]; then
    bash "$ROOT/tests/pki/mkpki.sh" "$PKI" >&2
fi
PKI=$(cd "$PKI" && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/mtls-compare.XXXXXX")
cleanup() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "compare: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

KEEP_TMP=0 timeout 300 bash "$HERE/caddy-golden.sh" "$PKI" "$T/golden.tsv"

: > "$T/mtls.raw.tsv"
: > "$T/mtls.verdicts.tsv"
while IFS=$'\t' read -r name cert key chain trust expect reason; do
    [ "$name" = name ] && continue
    timeout 20 "$TOOL" --name "$name" --placeholders "$HERE/placeholders.txt" "$PKI/$chain" \
        >> "$T/mtls.raw.tsv"
    $PY -c 'import json,sys; print(json.dumps({"mode":"require_and_verify","trusted_ca_certs_pem_files":[sys.argv[1]]}))' \
        "$PKI/$trust" > "$T/policy.json"
    timeout 20 "$TOOL" --name "$name" --policy "$T/policy.json" --verdict "$PKI/$chain" \
        >> "$T/mtls.verdicts.tsv"
done < "$PKI/manifest.tsv"
timeout 20 "$TOOL" --name no-client-cert --placeholders "$HERE/placeholders.txt" --no-cert \
    >> "$T/mtls.raw.tsv"
$PY -c 'import json,sys; print(json.dumps({"mode":"require_and_verify","trusted_ca_certs_pem_files":[sys.argv[1]]}))' \
    "$PKI/root-ca.pem" > "$T/policy.json"
timeout 20 "$TOOL" --name no-client-cert --policy "$T/policy.json" --verdict --no-cert \
    >> "$T/mtls.verdicts.tsv"

$PY "$HERE/compare.py" "$T" "$PKI"
