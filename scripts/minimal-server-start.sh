# minimal-server-start.sh - sourced by tests/minimal-server-curl.sh: start minimal-server, wait for its port.
# start_minimal_server SERVER PKIDIR POLICY OUT ERR: starts minimal-server on a free
# 127.0.0.1 port with PKIDIR's server certificate; sets server_pid and server_port. Waits at
# most 5 s for the "listening on" line; on failure prints ERR and returns 1.
start_minimal_server() {
    local bin=$1 pki=$2 policy=$3 out=$4 errf=$5
    "$bin" --cert "$pki/server.pem" --key "$pki/server.key.pem" --policy "$policy" \
        --port 0 > "$out" 2> "$errf" &
    server_pid=$!
    server_port=
    for _ in $(seq 50); do
        server_port=$(sed -n 's|^listening on https://127.0.0.1:\([0-9]*\)$|\1|p' "$out")
        [ -n "$server_port" ] && return 0
        sleep 0.1
    done
    cat "$errf" >&2
    echo "minimal-server did not start" >&2
    return 1
}
