#!/usr/bin/env bash
# integrations/nginx/bench.sh [LIBMTLS_BUILD_DIR] - benchmark (not a test): server CPU per full
# mTLS handshake of Debian's nginx with ngx_http_mtls_module (mtls_policy, require_and_verify)
# against the same nginx's own client verification (ssl_verify_client on), in one run.
#
#   LIBMTLS_BUILD_DIR  the OpenSSL build of libmtls (default: build-openssl in the source tree); the module is
#                      built with build.sh when missing (MODULE=path.so to use another one).
#   Environment:       ROUNDS (5), DURATION (8 s), WARMUP (2 s), CONNECTIONS (8), KEY (p384:
#                      P-384 client key as bench/bench.py; p256 also works), LOADGEN (path to
#                      bench/loadgen; default: the main build's, else compiled here),
#                      SERVER_CPU (0) / CLIENT_CPU (1): taskset CPUs (empty: no pinning),
#                      TICKETS (on: nginx's default; off: `ssl_session_tickets off` on both
#                      ports -- libmtls issues no tickets to client-auth connections while
#                      nginx's own verification issues TLS 1.3's two, so `off` compares the
#                      verification work alone).
#
# One nginx (1 worker, pinned) serves two ports with the same certificate, cipher settings
# and one request (`return 200` of the client subject: $ssl_client_s_dn vs
# $mtls_client_subject, so each renders its identity):
#   nginx   ssl_verify_client on; ssl_client_certificate root-ca.pem
#   module  mtls_policy {"mode":"require_and_verify","trusted_ca_certs_pem_files":[root-ca.pem]}
# bench/loadgen (docs/performance.md, "Load generator") runs mode `handshake` (new TCP
# connection, full TLS 1.3 handshake with the client certificate, one GET, close) against each
# port in turn, ROUNDS times, and reads the worker's utime+stime over its window (--pid):
# CPU-us per handshake. Prints the medians and the module's overhead in percent: the median of
# the per-round ratios (each round runs both back to back), and the ratio of the medians.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${1:-${MTLS_BUILD_DIR:-$TOP/build-openssl}}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-8}
KEY=${KEY:-p384}
SERVER_CPU=${SERVER_CPU-0}
CLIENT_CPU=${CLIENT_CPU-1}
TICKETS=${TICKETS:-on}

die() { echo "bench.sh: $*" >&2; exit 1; }
log() { echo "$*" >&2; }

T=$(mktemp -d /tmp/mtls-nginx-bench.XXXXXX)
NGINX_PID=""
cleanup() {
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    [ "${MTLS_BENCH_KEEP:-0}" = 1 ] && log "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pin() { if [ -n "$1" ]; then echo taskset -c "$1"; fi; }

# --- the module
MODULE=${MODULE:-}
if [ -z "$MODULE" ]; then
    MODULE=$BUILD/nginx-module/ngx_http_mtls_module.so
    if [ ! -f "$MODULE" ]; then
        log "building the module: $HERE/build.sh $BUILD"
        MODULE=$("$HERE/build.sh" "$BUILD" | tail -1)
    fi
fi
[ -f "$MODULE" ] || die "no module $MODULE"

# --- the load generator
LOADGEN=${LOADGEN:-}
if [ -z "$LOADGEN" ]; then
    for c in "$TOP/build/bench/loadgen" "$BUILD/bench/loadgen"; do
        [ -x "$c" ] && LOADGEN=$c && break
    done
fi
if [ -z "$LOADGEN" ]; then
    # as bench/meson.build builds it: Debian's BoringSSL (android-libboringssl-dev)
    log "compiling bench/loadgen.c"
    BSSL_LIB=/usr/lib/x86_64-linux-gnu/android
    cc -O2 -std=c11 -D_GNU_SOURCE -isystem /usr/include/android -I"$TOP/bench" \
        "$TOP/bench/loadgen.c" -o "$T/loadgen" -L"$BSSL_LIB" -lssl -lcrypto -lpthread \
        -Wl,-rpath,"$BSSL_LIB" || die "cannot build bench/loadgen"
    LOADGEN=$T/loadgen
fi

# --- PKI (tests/pki/mkpki.sh): server.pem, root-ca.pem, client keys basic (P-256) / p384
bash "$TOP/tests/pki/mkpki.sh" "$T/pki" > /dev/null
case $KEY in
    p384) CERT=$T/pki/p384.pem; CKEY=$T/pki/p384.key.pem ;;
    p256) CERT=$T/pki/basic.pem; CKEY=$T/pki/basic.key.pem ;;
    *) die "KEY must be p384 or p256" ;;
esac
printf '{"mode":"require_and_verify","trusted_ca_certs_pem_files":["%s"]}\n' \
    "$T/pki/root-ca.pem" > "$T/policy.json"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_NGINX=$(free_port)
P_MODULE=$(free_port)
mkdir -p "$T/n/logs" "$T/n/tmp"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat > "$T/n/nginx.conf" <<EOF
load_module $MODULE;
$USER_LINE
worker_processes 1;
pid $T/n/nginx.pid;
error_log $T/n/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $T/n/tmp;
    proxy_temp_path $T/n/tmp;
    fastcgi_temp_path $T/n/tmp;
    uwsgi_temp_path $T/n/tmp;
    scgi_temp_path $T/n/tmp;
    ssl_certificate $T/pki/server.pem;
    ssl_certificate_key $T/pki/server.key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets $TICKETS;
    server {
        listen 127.0.0.1:$P_NGINX ssl;
        server_name localhost;
        ssl_client_certificate $T/pki/root-ca.pem;
        ssl_verify_client on;
        location / { return 200 "\$ssl_client_s_dn\n"; }
    }
    server {
        listen 127.0.0.1:$P_MODULE ssl;
        server_name localhost;
        mtls_policy $T/policy.json;
        location / { return 200 "\$mtls_client_subject\n"; }
    }
}
EOF
# shellcheck disable=SC2046
$(pin "$SERVER_CPU") nginx -p "$T/n/" -e "$T/n/logs/error.log" -c "$T/n/nginx.conf" \
    -g 'daemon off;' > "$T/n/stderr.txt" 2>&1 &
NGINX_PID=$!
for _ in $(seq 100); do
    [ -s "$T/n/nginx.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$P_MODULE") 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$T/n/stderr.txt" "$T/n/logs/error.log" >&2; die "nginx exited"; }
    sleep 0.1
done
WORKER=$(pgrep -P "$NGINX_PID" | head -1)
[ -n "$WORKER" ] || die "no nginx worker"
for p in $P_NGINX $P_MODULE; do
    out=$(curl -sS --cacert "$T/pki/server-ca.pem" --cert "$CERT" --key "$CKEY" \
        --resolve "localhost:$p:127.0.0.1" "https://localhost:$p/")
    log "check port $p: $out"
    [ -n "$out" ] || die "no client subject from port $p"
done
lib=$(grep -o 'mtls: libmtls [^:]*' "$T/n/stderr.txt" "$T/n/logs/error.log" 2>/dev/null | head -1 || true)
log "nginx $(nginx -v 2>&1 | sed 's/.*\///'), worker pid $WORKER${lib:+, $lib}"

run() { # PORT -> JSON line of loadgen
    # shellcheck disable=SC2046
    $(pin "$CLIENT_CPU") "$LOADGEN" handshake --port "$1" --sni localhost --cert "$CERT" \
        --key "$CKEY" --connections "$CONNECTIONS" --threads 1 --duration "$DURATION" \
        --warmup "$WARMUP" --pid "$WORKER" | sed -n 's/^JSON //p'
}
: > "$T/results"
for r in $(seq "$ROUNDS"); do
    for what in nginx module; do
        port=$P_NGINX
        [ $what = module ] && port=$P_MODULE
        j=$(run "$port")
        [ -n "$j" ] || die "loadgen printed no result"
        echo "$what $j" >> "$T/results"
        log "round $r $what: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.1f CPU-us/handshake, %.0f handshakes/s, %d errors" % (d["server_cpu_us_per_op"], d["ops"]/d["seconds"], d["errors"]))' "$j")"
    done
done
python3 - "$T/results" "$KEY" "$TICKETS" <<'EOF'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    what, j = line.split(" ", 1)
    rows.setdefault(what, []).append(json.loads(j))
med = {k: statistics.median(r["server_cpu_us_per_op"] for r in v) for k, v in rows.items()}
err = {k: sum(r["errors"] for r in v) for k, v in rows.items()}
print("CPU-us per full mTLS handshake + 1 request (TLS 1.3, %s client key, session tickets %s),"
      " median of %d:" % (sys.argv[2], sys.argv[3], len(rows["nginx"])))
print("  nginx ssl_verify_client on : %8.1f  (errors %d)" % (med["nginx"], err["nginx"]))
print("  nginx + mtls_policy        : %8.1f  (errors %d)" % (med["module"], err["module"]))
# Each round measures nginx and then the module back to back: the median of the per-round
# ratios is robust against load that other processes put on the machine between rounds.
ratios = [m["server_cpu_us_per_op"] / n["server_cpu_us_per_op"]
          for n, m in zip(rows["nginx"], rows["module"])]
print("  module overhead            : %+7.1f %%  (median of per-round ratios; target <= 3 %%)"
      % (100.0 * (statistics.median(ratios) - 1)))
print("  per round                  : %s" % " ".join("%+.1f%%" % (100 * (r - 1)) for r in ratios))
print("  ratio of the medians       : %+7.1f %%" % (100.0 * (med["module"] / med["nginx"] - 1)))
EOF
