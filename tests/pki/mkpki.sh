#!/usr/bin/env bash
# tests/pki/mkpki.sh OUTDIR - build the libmtls test PKI with the openssl CLI only.
#
# Writes PEM files (and .der copies of every certificate) into OUTDIR, plus OUTDIR/manifest.tsv:
#   name  cert  key  chain  trust  expect  reason
# one row per client-certificate test case, paths relative to OUTDIR:
#   cert   the leaf (PEM)             key    its private key (PEM)
#   chain  what the client presents (leaf first, then the intermediates it sends)
#   trust  the CA file to trust under mode require_and_verify
#   expect accept|reject, reason a word (expired, not_yet_valid, unknown_issuer, wrong_eku,
#          issuer_not_ca, -) for the verdict Caddy 2.6.2 (Go 1.19 crypto/x509) gives.
# Also: server.pem / server.key.pem (127.0.0.1, ::1, localhost, *.mtls.test) signed by
# server-ca.pem, a separate CA that is in no client trust file.
#
# Names are fixed, keys and serials random. Validity: "now" for most certificates (365 days,
# CAs 3650); expired = [now-60d, now-30d], not-yet-valid = [now+30d, now+395d], made with
# `openssl ca -startdate/-enddate` (OpenSSL 3.0's `x509 -req` can only start at now).
# The tutorial chain is made by exactly the commands of the YubiKey tutorial, in
# OUTDIR/tutorial/ (ca-key.pem, ca-cert.pem, alice-key.pem, alice.csr, alice.pem); alice.pem is
# an X.509 v1 certificate on OpenSSL 3.0. alice-v3.pem is the same CSR signed the way
# OpenSSL >= 3.2 does by default (v3, SKI + AKI only).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
CNF=$HERE/openssl.cnf

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ -e "$OUT/.mkpki" ]; then
    # Idempotent: start again from scratch (only our own files live here).
    find "$OUT" -mindepth 1 -delete
elif [ -n "$(ls -A "$OUT")" ]; then
    echo "mkpki: $OUT is not empty and was not made by mkpki.sh; refusing to touch it" >&2
    exit 1
fi
: > "$OUT/.mkpki"
W=$OUT/work
mkdir -p "$W/newcerts" "$OUT/tutorial"
: > "$W/index.txt"
echo 1000 > "$W/serial"
export PKI_CADIR=$W
export OPENSSL_CONF=$CNF   # never read the machine's openssl.cnf (except for the tutorial)

fail() { echo "mkpki: $*" >&2; exit 1; }

# newkey NAME TYPE -> NAME.key.pem
newkey() {
    case $2 in
        p256)    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/$1.key.pem" ;;
        p384)    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$OUT/$1.key.pem" ;;
        p521)    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$OUT/$1.key.pem" ;;
        ed25519) openssl genpkey -algorithm ed25519 -out "$OUT/$1.key.pem" ;;
        rsa2048) openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$OUT/$1.key.pem" ;;
        *) fail "unknown key type $2" ;;
    esac
}

serial() { echo "0x$(openssl rand -hex 8 | sed 's/^./4/')"; }

# selfsigned NAME SUBJ KEYTYPE [EXT]
selfsigned() {
    newkey "$1" "$3"
    openssl req -new -x509 -config "$CNF" -utf8 -key "$OUT/$1.key.pem" -subj "$2" \
        -days 3650 -set_serial "$(serial)" -extensions "${4:-v3_ca}" -out "$OUT/$1.pem"
}

# issue NAME SUBJ KEYTYPE ISSUER EXT [extra req args...]  (validity: now .. now+365d)
issue() {
    local name=$1 subj=$2 kt=$3 issuer=$4 ext=$5
    shift 5
    newkey "$name" "$kt"
    openssl req -new -config "$CNF" -utf8 "$@" -key "$OUT/$name.key.pem" -subj "$subj" \
        -out "$W/$name.csr"
    openssl x509 -req -in "$W/$name.csr" -CA "$OUT/$issuer.pem" -CAkey "$OUT/$issuer.key.pem" \
        -set_serial "$(serial)" -days 365 -extfile "$CNF" -extensions "$ext" \
        -out "$OUT/$name.pem" 2>"$W/$name.x509.err" || { cat "$W/$name.x509.err" >&2; fail "signing $name"; }
}

# issue_dated NAME SUBJ KEYTYPE ISSUER EXT START END  (openssl ca; times YYYYMMDDHHMMSSZ)
issue_dated() {
    local name=$1 subj=$2 kt=$3 issuer=$4 ext=$5 start=$6 end=$7
    newkey "$name" "$kt"
    openssl req -new -config "$CNF" -utf8 -key "$OUT/$name.key.pem" -subj "$subj" \
        -out "$W/$name.csr"
    openssl ca -config "$CNF" -batch -notext -preserveDN -utf8 -in "$W/$name.csr" \
        -cert "$OUT/$issuer.pem" -keyfile "$OUT/$issuer.key.pem" \
        -startdate "$start" -enddate "$end" -extfile "$CNF" -extensions "$ext" \
        -out "$OUT/$name.pem" 2>"$W/$name.ca.err" || { cat "$W/$name.ca.err" >&2; fail "signing $name"; }
}

# chain NAME FILE... -> NAME.chain.pem (concatenation, leaf first)
chain() {
    local name=$1
    shift
    local f
    : > "$OUT/$name.chain.pem"
    for f in "$@"; do cat "$OUT/$f.pem" >> "$OUT/$name.chain.pem"; done
}

MANIFEST=$W/manifest.tsv
printf 'name\tcert\tkey\tchain\ttrust\texpect\treason\n' > "$MANIFEST"
# row NAME CERT KEY CHAIN TRUST EXPECT REASON (paths relative to OUT)
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$MANIFEST"; }
# simple CASE ISSUER_TRUST EXPECT REASON: leaf CASE.pem, chain = leaf alone
simple() {
    chain "$1" "$1"
    row "$1" "$1.pem" "$1.key.pem" "$1.chain.pem" "$2.pem" "$3" "$4"
}

# ---------------------------------------------------------------------------------------
# 1. The YubiKey tutorial chain, command for command, with the machine's default config.
(
    unset OPENSSL_CONF
    cd "$OUT/tutorial"
    openssl genpkey -algorithm ed25519 -out ca-key.pem
    openssl req -new -x509 -key ca-key.pem -out ca-cert.pem -days 365 \
        -subj "/C=US/ST=California/L=San Francisco/O=My Organization/CN=My Root CA"
    # the YubiKey generates the P-384 key; we generate it in software
    openssl ecparam -name secp384r1 -genkey -noout -out alice-key.pem
    openssl req -new -key alice-key.pem -out alice.csr -subj "/CN=alice"
    openssl x509 -req -in alice.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
        -out alice.pem -days 365
    # OpenSSL >= 3.2 adds SKI/AKI (and so makes a v3 certificate) by default:
    openssl x509 -req -in alice.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial \
        -out alice-v3.pem -days 365 -extfile "$CNF" -extensions tutorial_v3
) 2>"$W/tutorial.err" || { cat "$W/tutorial.err" >&2; fail "tutorial chain"; }
v=$(openssl x509 -in "$OUT/tutorial/alice.pem" -noout -text | sed -n 's/^ *Version: \([0-9]\).*/\1/p')
[ "$v" = 1 ] || echo "mkpki: note: tutorial/alice.pem is X.509 v$v, not v1 (OpenSSL >= 3.2?)" >&2
v=$(openssl x509 -in "$OUT/tutorial/alice-v3.pem" -noout -text | sed -n 's/^ *Version: \([0-9]\).*/\1/p')
[ "$v" = 3 ] || fail "tutorial/alice-v3.pem is X.509 v$v, expected v3"
cat "$OUT/tutorial/alice.pem" > "$OUT/tutorial/alice.chain.pem"
cat "$OUT/tutorial/alice-v3.pem" > "$OUT/tutorial/alice-v3.chain.pem"
row tutorial-v1 tutorial/alice.pem tutorial/alice-key.pem tutorial/alice.chain.pem tutorial/ca-cert.pem accept -
row tutorial-v3 tutorial/alice-v3.pem tutorial/alice-key.pem tutorial/alice-v3.chain.pem tutorial/ca-cert.pem accept -

# ---------------------------------------------------------------------------------------
# 2. CAs
selfsigned root-ca "/O=libmtls tests/CN=Test Root CA" p256
selfsigned other-ca "/O=libmtls tests/CN=Other Root CA (untrusted)" p256
selfsigned server-ca "/O=libmtls tests/CN=Test Server CA" p256
selfsigned long-root "/O=libmtls tests/CN=Long Chain Root" p256
issue int-ca "/O=libmtls tests/CN=Test Intermediate CA" p256 root-ca v3_ca
prev=long-root
for i in 1 2 3 4; do
    issue "long-int$i" "/O=libmtls tests/CN=Long Chain Intermediate $i" p256 "$prev" v3_ca
    prev=long-int$i
done
issue issuer-cafalse "/O=libmtls tests/CN=Issuer with CA FALSE" p256 root-ca issuer_cafalse
issue issuer-nobc "/O=libmtls tests/CN=Issuer without basicConstraints" p256 root-ca issuer_nobc

# server certificate for Caddy / the proxy
issue server "/O=libmtls tests/CN=localhost" p256 server-ca server

# ---------------------------------------------------------------------------------------
# 3. Client leaves
NOW=$(date -u +%s)
ts() { date -u -d "@$((NOW + $1 * 86400))" +%Y%m%d%H%M%SZ; }

issue basic "/CN=basic client" p256 root-ca leaf
simple basic root-ca accept -

issue_dated expired "/CN=expired client" p256 root-ca leaf "$(ts -60)" "$(ts -30)"
simple expired root-ca reject expired
issue_dated not-yet-valid "/CN=not yet valid client" p256 root-ca leaf "$(ts 30)" "$(ts 395)"
simple not-yet-valid root-ca reject not_yet_valid

issue untrusted-ca "/CN=client of the untrusted CA" p256 other-ca leaf
simple untrusted-ca root-ca reject unknown_issuer

# self-signed leaf (not a CA, clientAuth), trusting the root: unknown issuer
newkey self-signed p256
openssl req -new -x509 -config "$CNF" -key "$OUT/self-signed.key.pem" -subj "/CN=self-signed client" \
    -days 365 -set_serial "$(serial)" -extensions leaf_noeku -out "$OUT/self-signed.pem"
simple self-signed root-ca reject unknown_issuer

issue eku-none "/CN=no EKU client" p256 root-ca leaf_noeku
simple eku-none root-ca accept -
issue eku-client "/CN=clientAuth client" p256 root-ca leaf
simple eku-client root-ca accept -
issue eku-server "/CN=serverAuth only client" p256 root-ca leaf_servereku
simple eku-server root-ca reject wrong_eku
issue eku-any "/CN=anyExtendedKeyUsage client" p256 root-ca leaf_anyeku
simple eku-any root-ca accept -

# via the intermediate
issue via-int "/CN=client via intermediate" p256 int-ca leaf
chain via-int-sent via-int int-ca
row via-int-sent via-int.pem via-int.key.pem via-int-sent.chain.pem root-ca.pem accept -
chain via-int-not-sent via-int
row via-int-not-sent via-int.pem via-int.key.pem via-int-not-sent.chain.pem root-ca.pem reject unknown_issuer
# the intermediate as the only trust anchor (partial chain)
row int-anchor via-int.pem via-int.key.pem via-int-not-sent.chain.pem int-ca.pem accept -
row int-anchor-int-sent via-int.pem via-int.key.pem via-int-sent.chain.pem int-ca.pem accept -

# key types
issue rsa2048 "/CN=RSA 2048 client" rsa2048 root-ca leaf
simple rsa2048 root-ca accept -
issue p256 "/CN=P-256 client" p256 root-ca leaf
simple p256 root-ca accept -
issue p384 "/CN=P-384 client" p384 root-ca leaf
simple p384 root-ca accept -
issue p521 "/CN=P-521 client" p521 root-ca leaf
simple p521 root-ca accept -
issue ed25519 "/CN=Ed25519 client" ed25519 root-ca leaf
simple ed25519 root-ca accept -

# SANs
issue san "/CN=alice/O=Example Org" p256 root-ca leaf_san
simple san root-ca accept -
issue uri-odd "/CN=odd URI client" p256 root-ca leaf_uri_odd
simple uri-odd root-ca accept -

# subjects
issue dn-special '/CN=Zoë Ñandú+UID=zoe/OU=R&D; <Lab>/OU=Back\\slash=Eq/O=Example, Inc. \+ "Friends"/L=Stuttgart/ST=Baden-Württemberg/C=DE/emailAddress=zoe@example.org' \
    p256 root-ca leaf -multivalue-rdn
simple dn-special root-ca accept -
issue dn-spaces '/CN=#hash first/O= leading space/OU=trailing space /L=  two each side  /ST= ' \
    p256 root-ca leaf
simple dn-spaces root-ca accept -
issue dn-dup-cn '/CN=first cn/CN=second cn/serialNumber=SN-1/serialNumber=SN-2/O=B/O=A' p256 root-ca leaf
simple dn-dup-cn root-ca accept -
issue dn-ctl-lf $'/CN=line one\nline two/O=ctl test' p256 root-ca leaf
simple dn-ctl-lf root-ca accept -
issue dn-ctl-tab $'/CN=tab\there/O=del\x7f char' p256 root-ca leaf
simple dn-ctl-tab root-ca accept -

# big serial (20 octets, top bit clear)
newkey serial-big p256
openssl req -new -config "$CNF" -key "$OUT/serial-big.key.pem" -subj "/CN=big serial" -out "$W/serial-big.csr"
openssl x509 -req -in "$W/serial-big.csr" -CA "$OUT/root-ca.pem" -CAkey "$OUT/root-ca.key.pem" \
    -set_serial 0x7fffffffffffffffffffffffffffffffffffff01 -days 365 -extfile "$CNF" -extensions leaf \
    -out "$OUT/serial-big.pem" 2>"$W/serial-big.err" || { cat "$W/serial-big.err" >&2; fail "serial-big"; }
simple serial-big root-ca accept -

# issuers that are not CAs: as an intermediate under the root, and as the trust anchor itself
issue by-cafalse "/CN=client of a CA FALSE issuer" p256 issuer-cafalse leaf
chain by-cafalse-int by-cafalse issuer-cafalse
row by-cafalse-int by-cafalse.pem by-cafalse.key.pem by-cafalse-int.chain.pem root-ca.pem reject issuer_not_ca
chain by-cafalse-anchor by-cafalse
# Go refuses a v3 non-CA parent even as the trust anchor ("parent certificate cannot sign this
# kind of certificate", reported as "signed by unknown authority")
row by-cafalse-anchor by-cafalse.pem by-cafalse.key.pem by-cafalse-anchor.chain.pem issuer-cafalse.pem reject issuer_not_ca
issue by-nobc "/CN=client of an issuer without basicConstraints" p256 issuer-nobc leaf
chain by-nobc-int by-nobc issuer-nobc
row by-nobc-int by-nobc.pem by-nobc.key.pem by-nobc-int.chain.pem root-ca.pem reject issuer_not_ca
chain by-nobc-anchor by-nobc
row by-nobc-anchor by-nobc.pem by-nobc.key.pem by-nobc-anchor.chain.pem issuer-nobc.pem reject issuer_not_ca

# X.509 v1 CAs (no extensions at all, as `openssl x509 -req` without -extfile makes them):
# Go accepts a v1 parent as the trust anchor but never as an intermediate.
newkey v1-root p256
openssl req -new -config "$CNF" -key "$OUT/v1-root.key.pem" -subj "/O=libmtls tests/CN=Version 1 Root CA" \
    -out "$W/v1-root.csr"
openssl x509 -req -in "$W/v1-root.csr" -signkey "$OUT/v1-root.key.pem" -set_serial "$(serial)" \
    -days 3650 -out "$OUT/v1-root.pem" 2>"$W/v1-root.err" || { cat "$W/v1-root.err" >&2; fail "v1-root"; }
newkey v1-int p256
openssl req -new -config "$CNF" -key "$OUT/v1-int.key.pem" -subj "/O=libmtls tests/CN=Version 1 Intermediate CA" \
    -out "$W/v1-int.csr"
openssl x509 -req -in "$W/v1-int.csr" -CA "$OUT/root-ca.pem" -CAkey "$OUT/root-ca.key.pem" \
    -set_serial "$(serial)" -days 3650 -out "$OUT/v1-int.pem" 2>"$W/v1-int.err" || { cat "$W/v1-int.err" >&2; fail "v1-int"; }
for c in v1-root v1-int; do
    v=$(openssl x509 -in "$OUT/$c.pem" -noout -text | sed -n 's/^ *Version: \([0-9]\).*/\1/p')
    [ "$v" = 1 ] || fail "$c is X.509 v$v, expected v1"
done
issue by-v1-root "/CN=client of a v1 root" p256 v1-root leaf_noaki
simple by-v1-root v1-root accept -
issue by-v1-int "/CN=client of a v1 intermediate" p256 v1-int leaf_noaki
chain by-v1-int-sent by-v1-int v1-int
row by-v1-int-sent by-v1-int.pem by-v1-int.key.pem by-v1-int-sent.chain.pem root-ca.pem reject issuer_not_ca
chain by-v1-int-anchor by-v1-int
row by-v1-int-anchor by-v1-int.pem by-v1-int.key.pem by-v1-int-anchor.chain.pem v1-int.pem accept -

# long chain: root + 4 intermediates
issue long-leaf "/CN=client at the end of a long chain" p256 long-int4 leaf
chain long-chain long-leaf long-int4 long-int3 long-int2 long-int1
row long-chain long-leaf.pem long-leaf.key.pem long-chain.chain.pem long-root.pem accept -

# the server certificate presented as a client certificate (serverAuth EKU)
chain server-as-client server
row server-as-client server.pem server.key.pem server-as-client.chain.pem server-ca.pem reject wrong_eku

# ---------------------------------------------------------------------------------------
# 4. DER copies, checks, manifest
for f in "$OUT"/*.pem "$OUT"/tutorial/*.pem; do
    case $f in
        *.key.pem|*-key.pem|*.chain.pem) continue ;;
    esac
    openssl x509 -in "$f" -outform DER -out "${f%.pem}.der"
done
# every row's chain must parse and its leaf must match its key
tail -n +2 "$MANIFEST" | while IFS=$'\t' read -r name cert key chainf trust expect reason; do
    for f in "$cert" "$key" "$chainf" "$trust"; do [ -s "$OUT/$f" ] || fail "$name: missing $f"; done
    a=$(openssl x509 -in "$OUT/$cert" -noout -pubkey)
    b=$(openssl pkey -in "$OUT/$key" -pubout)
    [ "$a" = "$b" ] || fail "$name: key does not match certificate"
done
mv "$MANIFEST" "$OUT/manifest.tsv"
rm -rf "$W"
echo "mkpki: $(($(wc -l < "$OUT/manifest.tsv") - 1)) cases in $OUT/manifest.tsv"
