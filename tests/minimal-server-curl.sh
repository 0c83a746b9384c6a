#!/usr/bin/env bash
# minimal-server-curl.sh SERVER MKPKI WORKDIR: start examples/minimal-server on 127.0.0.1 with
# a require_and_verify policy and check real curl clients: the tutorial client (v1 leaf) and
# its v3 variant get 200 and their identity, untrusted/expired/no-certificate clients are
# refused in the handshake, and the server log names the reason.
set -euo pipefail
server=$1 mkpki=$2 work=$3
rm -rf "$work"; mkdir -p "$work"
bash "$mkpki" "$work/pki" > /dev/null
pki=$work/pki
printf '{"mode":"require_and_verify","trusted_ca_certs_pem_files":["%s"]}\n' \
    "$pki/tutorial/ca-cert.pem" > "$work/policy.json"

server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT
. "$(dirname "$0")/../scripts/minimal-server-start.sh"
start_minimal_server "$server" "$pki" "$work/policy.json" "$work/out" "$work/err" || exit 1
port=$server_port

fails=0 passes=0
req() { # req NAME CERT KEY -> prints body, returns curl status
    local args=(--silent --max-time 10 --cacert "$pki/server-ca.pem" --resolve "localhost:$port:127.0.0.1")
    [ -n "$2" ] && args+=(--cert "$2" --key "$3")
    curl "${args[@]}" "https://localhost:$port/" 2>/dev/null
}
expect_ok() { # NAME CERT KEY SUBJECT
    local body
    if body=$(req "$@") && grep -qxF "http.request.tls.client.subject: $4" <<< "$body" \
            && grep -qxF "http.request.tls.client.verified: SUCCESS" <<< "$body"; then
        passes=$((passes + 1))
    else
        echo "FAIL: $1 should be accepted with subject $4; got: $body"; fails=$((fails + 1))
    fi
}
expect_refused() { # NAME CERT KEY LOGWORD
    if req "$1" "$2" "$3" > /dev/null; then
        echo "FAIL: $1 should be refused"; fails=$((fails + 1)); return
    fi
    sleep 0.2
    if tail -n 1 "$work/err" | grep -q "rejected: .*$4"; then
        passes=$((passes + 1))
    else
        echo "FAIL: $1: server log lacks '$4': $(tail -n 1 "$work/err")"; fails=$((fails + 1))
    fi
}
expect_ok tutorial-v1 "$pki/tutorial/alice.pem" "$pki/tutorial/alice-key.pem" "CN=alice"
expect_ok tutorial-v3 "$pki/tutorial/alice-v3.pem" "$pki/tutorial/alice-key.pem" "CN=alice"
expect_refused untrusted-ca "$pki/untrusted-ca.chain.pem" "$pki/untrusted-ca.key.pem" "unknown authority"
expect_refused no-cert "" "" "didn't provide a certificate"
# SIGTERM stops it cleanly: status 0, everything freed (the sanitizer build's LeakSanitizer
# runs at that exit and scripts/test.sh fails on any report).
kill -TERM "$server_pid"
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$server_pid" 2>/dev/null || true  # still running after 5 s: status 137, fails
status=0
wait "$server_pid" || status=$?
server_pid=
if [ "$status" -eq 0 ]; then
    passes=$((passes + 1))
else
    echo "FAIL: minimal-server exited with status $status after SIGTERM"; fails=$((fails + 1))
fi
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
