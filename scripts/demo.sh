#!/usr/bin/env bash
# demo.sh - the main job, end to end on a throwaway PKI: build, start minimal-server with a
# require_and_verify policy on 127.0.0.1, and show one client accepted and one rejected.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
"$top/scripts/setup.sh" "$builddir"

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

echo "== generating a throwaway PKI (Ed25519 CA, P-384 client key, as the YubiKey tutorial)"
bash "$top/tests/pki/mkpki.sh" "$work/pki" > /dev/null
pki=$work/pki
cat > "$work/policy.json" <<JSON
{"mode": "require_and_verify", "trusted_ca_certs_pem_files": ["$pki/tutorial/ca-cert.pem"]}
JSON
echo "== policy: $(cat "$work/policy.json")"

. "$top/scripts/minimal-server-start.sh"
start_minimal_server "$builddir/examples/minimal-server/minimal-server" "$pki" "$work/policy.json" \
    "$work/server.out" "$work/server.err"
port=$server_port

url=https://localhost:$port/
curl_args=(--silent --show-error --max-time 10 --cacert "$pki/server-ca.pem"
           --resolve "localhost:$port:127.0.0.1")
echo
echo "== client 1: alice (CN=alice, signed by the trusted Ed25519 CA) -> accepted"
curl "${curl_args[@]}" --cert "$pki/tutorial/alice.pem" --key "$pki/tutorial/alice-key.pem" "$url"
echo
echo "== client 2: a certificate from a CA the policy does not trust -> rejected"
if curl "${curl_args[@]}" --cert "$pki/untrusted-ca.chain.pem" --key "$pki/untrusted-ca.key.pem" \
        "$url" 2>&1; then
    echo "demo: the untrusted client was NOT rejected" >&2; exit 1
fi
echo
echo "== server log"
grep "^client " "$work/server.err"
