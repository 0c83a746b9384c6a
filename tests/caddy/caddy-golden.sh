#!/usr/bin/env bash
# tests/caddy/caddy-golden.sh PKIDIR OUTFILE - record what the REAL Caddy (apt's 2.6.2) makes
# of every client certificate of a test PKI (tests/pki/mkpki.sh PKIDIR).
#
# Runs, as plain processes on 127.0.0.1 with a private HOME/XDG dir (no systemd, admin off,
# auto_https off): an echo upstream (harness.py echo: answers with the raw request head it got)
# and one Caddy with two servers:
#   req  mode request (every certificate accepted unverified). For each placeholder of
#        placeholders.txt: /h/<i> reverse_proxies with header_up X-Mtls-<Name> {placeholder},
#        /r/<i> responds with the placeholder as the body; /all proxies with all the headers.
#   ver  mode require_and_verify, one connection policy per trust file of the manifest, picked
#        by SNI t<N>.mtls.test; answers 200 "verified".
# Writes (comment lines start with '#'):
#   OUTFILE                  name <TAB> placeholder <TAB> value as the upstream received it
#                            in the header (plus a row "(all-headers-request)" with the HTTP
#                            status of the request that sets every header at once)
#   OUTFILE-minus-.tsv.raw.tsv      same, value = the placeholder itself (respond body)
#   OUTFILE-minus-.tsv.verdicts.tsv name <TAB> accepted|rejected <TAB> detail (HTTP status,
#                            curl exit code, and the TLS handshake error Caddy logged)
# Value escaping: \\ \t \n \r \xHH for backslash, TAB, LF, CR and other control bytes; UTF-8
# raw. Markers: <absent> <HTTP nnn> <curl n>. Rows "no-client-cert" come from a client that
# sent no certificate.
# Env: KEEP_TMP=1 keeps the temp dir (Caddy config and log) and prints its path.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 PKIDIR OUTFILE" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
PKI=$(cd "$1" && pwd)
OUTFILE=$2
case $OUTFILE in /*) ;; *) OUTFILE=$PWD/$OUTFILE ;; esac
BASE=${OUTFILE%.tsv}
RAWFILE=$BASE.raw.tsv
VERFILE=$BASE.verdicts.tsv
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
H="$PY $HERE/harness.py"

die() { echo "caddy-golden: $*" >&2; exit 1; }
[ -s "$PKI/manifest.tsv" ] || die "$PKI/manifest.tsv missing (run tests/pki/mkpki.sh $PKI)"

if ! command -v caddy >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "caddy-golden: installing caddy with apt-get" >&2
        export DEBIAN_FRONTEND=noninteractive
        timeout 300 apt-get install -y -q caddy >&2 ||
            { timeout 300 apt-get update -q >&2 && timeout 300 apt-get install -y -q caddy >&2; } ||
            die "cannot install caddy"
    else
        die "caddy not found (apt-get install caddy)"
    fi
fi
for t in curl openssl timeout; do command -v $t >/dev/null || die "$t not found"; done
CADDY_VERSION=$(caddy version 2>/dev/null | head -n1)

T=$(mktemp -d "${TMPDIR:-/tmp}/caddy-golden.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "caddy-golden: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$T/home" "$T/cfg" "$T/data" "$T/c"
export HOME=$T/home XDG_CONFIG_HOME=$T/cfg XDG_DATA_HOME=$T/data

# --- echo upstream
$H echo "$T/echo.port" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$T/echo.port" ] && break; sleep 0.05; done
[ -s "$T/echo.port" ] || die "echo upstream did not start"
ECHO_PORT=$(cat "$T/echo.port")

# --- caddy
REQ_PORT=$($H freeport)
VER_PORT=$($H freeport)
while [ "$VER_PORT" = "$REQ_PORT" ]; do VER_PORT=$($H freeport); done
$H config "$PKI" "$T/caddy.json" "$ECHO_PORT" "$REQ_PORT" "$VER_PORT" "$T/caddy.log" "$T/trustmap.tsv"
caddy run --config "$T/caddy.json" >"$T/caddy.out" 2>&1 &
CADDY_PID=$!
PIDS+=($CADDY_PID)
up=0
for _ in $(seq 1 200); do
    kill -0 "$CADDY_PID" 2>/dev/null || break
    if (exec 3<>"/dev/tcp/127.0.0.1/$REQ_PORT") 2>/dev/null &&
       (exec 3<>"/dev/tcp/127.0.0.1/$VER_PORT") 2>/dev/null; then
        up=1
        break
    fi
    sleep 0.05
done
if [ $up = 0 ]; then
    cat "$T/caddy.out" "$T/caddy.log" >&2 2>/dev/null || true
    die "caddy did not start"
fi

# --- request mode: every placeholder for every leaf
export HDR_OUT=$OUTFILE RAW_OUT=$RAWFILE
for f in "$OUTFILE" "$RAWFILE"; do
    {
        echo "# $CADDY_VERSION, client_auth mode request; $( [ "$f" = "$OUTFILE" ] && echo 'value = header received by the upstream (header_up)' || echo 'value = placeholder as respond body')"
        echo "# escaping: \\\\ \\t \\n \\r \\xHH; markers <absent> <HTTP nnn> <curl n>"
    } > "$f"
done

curl_common=(-sS --max-time 30 --connect-timeout 5 --cacert "$PKI/server-ca.pem")
fetch_all() { # NAME [curl args...]
    local name=$1
    shift
    local d=$T/c/$name
    mkdir -p "$d"
    $H curlcfg "https://localhost:$REQ_PORT" "$d"
    local rc=0
    curl "${curl_common[@]}" --resolve "localhost:$REQ_PORT:127.0.0.1" "$@" \
        --config "$d/curl.cfg" -w '%{http_code} %{url_effective}\n' >"$d/codes" 2>"$d/curl.err" || rc=$?
    echo "$rc" > "$d/curl_rc"
    $H collect "$name" "$d"
}

n=0
while IFS=$'\t' read -r name cert key chain trust expect reason; do
    [ "$name" = name ] && continue
    fetch_all "$name" --cert "$PKI/$chain" --key "$PKI/$key"
    n=$((n + 1))
done < "$PKI/manifest.tsv"
fetch_all no-client-cert

# --- require_and_verify: verdicts
{
    echo "# $CADDY_VERSION, client_auth mode require_and_verify with the manifest's trust file"
    echo "# name, accepted|rejected, detail (http=status curl=exit: Caddy's TLS handshake error)"
} > "$VERFILE"
declare -A SNI
while IFS=$'\t' read -r t s; do SNI[$t]=$s; done < "$T/trustmap.tsv"
verdict() { # NAME TRUST [curl args...]
    local name=$1 sni=${SNI[$2]}
    shift 2
    local rc=0 out
    out=$(curl "${curl_common[@]}" --resolve "$sni:$VER_PORT:127.0.0.1" "$@" -o /dev/null \
          -w '%{http_code} %{local_port}' "https://$sni:$VER_PORT/" 2>"$T/verdict.err") || rc=$?
    echo "$name ${out:-000 0} $rc $(tr '\t\n' '  ' < "$T/verdict.err")" >> "$T/verdicts.raw"
}
: > "$T/verdicts.raw"
while IFS=$'\t' read -r name cert key chain trust expect reason; do
    [ "$name" = name ] && continue
    verdict "$name" "$trust" --cert "$PKI/$chain" --key "$PKI/$key"
done < "$PKI/manifest.tsv"
verdict no-client-cert root-ca.pem
# Let Caddy flush its log, then attach the handshake errors it logged (by client port).
sleep 0.5
$PY - "$T/verdicts.raw" "$T/caddy.log" >> "$VERFILE" <<'EOF'
import json, re, sys
errs = {}
for line in open(sys.argv[2], errors="replace"):
    try:
        msg = json.loads(line).get("msg", "")
    except ValueError:
        continue
    m = re.match(r"http: TLS handshake error from 127\.0\.0\.1:(\d+): (.*)", msg, re.S)
    if m:
        errs[m.group(1)] = m.group(2).replace("\t", " ").replace("\n", " ")
for line in open(sys.argv[1]):
    name, code, port, rc, err = (line.rstrip("\n").split(" ", 4) + [""])[:5]
    verdict = "accepted" if code == "200" else "rejected"
    detail = "http=%s curl=%s" % (code, rc)
    if port in errs:
        detail += ": " + errs[port]
    elif verdict == "rejected" and err:
        detail += ": (curl) " + err.strip()
    print("%s\t%s\t%s" % (name, verdict, detail))
EOF

kill -0 "$CADDY_PID" 2>/dev/null || die "caddy died during the run (see KEEP_TMP=1)"
echo "caddy-golden: $n certificates + no-client-cert: $OUTFILE, $RAWFILE, $VERFILE" >&2
