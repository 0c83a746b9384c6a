#!/usr/bin/env python3
"""compare.py DIR PKIDIR - the judging half of tests/caddy/compare.sh.

DIR holds golden.raw.tsv, golden.tsv and golden.verdicts.tsv (caddy-golden.sh) and
mtls.raw.tsv, mtls.verdicts.tsv (mtls-identity). Prints every difference that is not one of
the deliberate differences of DESIGN.md §3 and exits 1 if there is any:

  rsa-public-key   Caddy renders public_key and public_key_sha256 of an RSA key as empty
                   (its ASN.1 marshalling fails); libmtls renders the PKCS#1 DER it meant.
  no-client-cert   Caddy 2.6.2 leaves every client.* placeholder unreplaced (literal
                   "{http.request.tls.client.X}"); libmtls renders them empty.
  connection-field http.request.tls.{version,cipher_suite,resumed,proto,server_name} are
                   properties of the TLS connection: mtls_verify_der has none and renders "".

Checks:
  1. identity: mtls.raw.tsv against golden.raw.tsv (the placeholder values themselves).
  2. headers:  mtls.raw.tsv passed through what Go's HTTP client does to a header value
               (refuses the request - Caddy answers 502 - when a value has a control byte other
               than HTAB; trims leading/trailing SP and HTAB) against golden.tsv, the headers
               the upstream really received.
  3. verdicts: mtls.verdicts.tsv (require_and_verify with the manifest's trust file) against
               golden.verdicts.tsv: accepted/rejected must agree; the manifest's expected
               verdict must agree with Caddy; the reason word must equal the manifest's
               (set MTLS_COMPARE_REASONS=0 to report reason mismatches without failing).
"""
import os
import re
import subprocess
import sys

import harness  # same folder: the TSV escaping both sides use

CONN_FIELDS = {"http.request.tls." + f for f in
               ("version", "cipher_suite", "resumed", "proto", "server_name")}
RSA_FIELDS = {"http.request.tls.client.public_key", "http.request.tls.client.public_key_sha256"}


def unescape(s):
    b = s.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(b):
        c = b[i]
        if c == 0x5C and i + 1 < len(b):
            n = b[i + 1]
            if n == ord("x") and i + 3 < len(b):
                out.append(int(b[i + 2:i + 4], 16))
                i += 4
                continue
            out += {ord("t"): b"\t", ord("n"): b"\n", ord("r"): b"\r"}.get(n, bytes([n]))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def escape(b):
    return harness.escape(b).decode("utf-8", "surrogateescape")


def load_tsv(path, ncols=3):
    rows = {}
    order = []
    with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < ncols:
                parts += [""] * (ncols - len(parts))
            key = tuple(parts[:ncols - 1])
            rows[key] = parts[ncols - 1:]
            order.append(key)
    return rows, order


def go_header(v):
    """What the upstream receives when Caddy sets header value v (escaped form)."""
    if v.startswith("<"):
        return v
    b = unescape(v)
    if any((c < 0x20 and c != 0x09) or c == 0x7F for c in b):
        return "<HTTP 502>"
    return escape(b.strip(b" \t"))


def is_rsa(pki, certfile, cache={}):
    if certfile not in cache:
        out = subprocess.run(["openssl", "x509", "-in", os.path.join(pki, certfile), "-noout",
                              "-text"], capture_output=True, text=True, check=True).stdout
        cache[certfile] = "rsaEncryption" in out
    return cache[certfile]


def main():
    d, pki = sys.argv[1], sys.argv[2]
    manifest = {}
    with open(os.path.join(pki, "manifest.tsv")) as f:
        hdr = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                r = dict(zip(hdr, line.rstrip("\n").split("\t")))
                manifest[r["name"]] = r

    failures = []
    allowed = {}

    def allow(kind):
        allowed[kind] = allowed.get(kind, 0) + 1

    def deliberate(name, ph, caddy, ours):
        if name == "no-client-cert" and ph.startswith("http.request.tls.client.") \
                and caddy == "{%s}" % ph and ours == "":
            return "no-client-cert"
        if ph in CONN_FIELDS and ours == "":
            return "connection-field"
        if ph in RSA_FIELDS and caddy == "" and ours != "" and name in manifest \
                and is_rsa(pki, manifest[name]["cert"]):
            return "rsa-public-key"
        return None

    mtls, mtls_order = load_tsv(os.path.join(d, "mtls.raw.tsv"))
    for label, golden_file, transform in (("identity", "golden.raw.tsv", lambda v: v),
                                          ("headers", "golden.tsv", go_header)):
        golden, order = load_tsv(os.path.join(d, golden_file))
        for key in order:
            name, ph = key
            if ph.startswith("("):
                continue  # (all-headers-request): a property of the Caddy config
            if key not in mtls:
                failures.append("%s: %s %s: missing in mtls-identity output" % (label, name, ph))
                continue
            caddy, ours = golden[key][0], transform(mtls[key][0])
            if caddy == ours:
                continue
            kind = deliberate(name, ph, caddy, ours)
            if kind:
                allow(label + "/" + kind)
                continue
            failures.append("%s: %s %s\n    caddy: %s\n    mtls:  %s" % (label, name, ph, caddy,
                                                                        ours))
        for key in mtls_order:
            if key not in golden:
                failures.append("%s: %s %s: not recorded from Caddy" % (label, key[0], key[1]))

    # verdicts
    strict_reasons = os.environ.get("MTLS_COMPARE_REASONS", "1") != "0"
    caddy_v, corder = load_tsv(os.path.join(d, "golden.verdicts.tsv"), 2)
    ours_v, _ = load_tsv(os.path.join(d, "mtls.verdicts.tsv"), 2)
    notes = []
    for key in corder:
        name = key[0]
        cv = caddy_v[key]
        ov = ours_v.get(key)
        if ov is None:
            failures.append("verdict: %s: missing in mtls-identity output" % name)
            continue
        ov = ov + ["", "", ""]
        caddy_verdict = cv[0]
        caddy_detail = cv[1] if len(cv) > 1 else ""
        our_verdict, our_reason, our_msg = ov[0], ov[1], ov[2]
        m = manifest.get(name)
        want_verdict = {"accept": "accepted", "reject": "rejected"}[m["expect"]] if m \
            else "rejected"
        want_reason = m["reason"] if m else "no_certificate"
        if caddy_verdict != want_verdict:
            failures.append("verdict: %s: manifest expects %s, Caddy %s (%s)" % (
                name, want_verdict, caddy_verdict, caddy_detail))
        if our_verdict != caddy_verdict:
            failures.append("verdict: %s: Caddy %s (%s), mtls %s %s (%s)" % (
                name, caddy_verdict, caddy_detail, our_verdict, our_reason, our_msg))
        elif our_verdict == "rejected" and our_reason != want_reason:
            msg = "verdict: %s: reason %s, manifest says %s (mtls: %s; Caddy: %s)" % (
                name, our_reason, want_reason, our_msg, caddy_detail)
            (failures if strict_reasons else notes).append(msg)

    for n in notes:
        print("note: " + n)
    print("allowed deliberate differences: " +
          (", ".join("%s x%d" % kv for kv in sorted(allowed.items())) or "none"))
    if failures:
        print("%d unexpected difference(s):" % len(failures))
        limit = int(os.environ.get("MTLS_COMPARE_MAX", "200")) or len(failures)
        for f in failures[:limit]:
            print("  " + f)
        if len(failures) > limit:
            print("  ... %d more (MTLS_COMPARE_MAX=0 for all)" % (len(failures) - limit))
        return 1
    print("compare: libmtls agrees with Caddy on %d identity rows and %d verdicts" % (
        len(mtls), len(corder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
