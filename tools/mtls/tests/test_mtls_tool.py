#!/usr/bin/env python3
"""Integration tests of the `mtls` tool against the test PKI (tests/pki/mkpki.sh).

usage: test_mtls_tool.py TOOL PKI_DIR GROUP

GROUP is one of: manifest, json, inspect, policy, options, input, usage. Each check that
fails prints what it ran and what it got; the exit status is 1 if any failed.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

TOOL, PKI, GROUP = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []
checks = 0

# mkpki's reason words -> libmtls reason code names
REASONS = {
    "-": "OK",
    "expired": "CERT_EXPIRED",
    "not_yet_valid": "CERT_NOT_YET_VALID",
    "unknown_issuer": "UNKNOWN_ISSUER",
    "wrong_eku": "WRONG_EKU",
    "issuer_not_ca": "ISSUER_NOT_CA",
}


def run(*args):
    p = subprocess.run([TOOL, *args], capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(cond, what, detail=""):
    global checks
    checks += 1
    if not cond:
        failures.append(f"{what}\n    {detail}".rstrip())


def pki(rel):
    return os.path.join(PKI, rel)


def manifest():
    rows = []
    with open(pki("manifest.tsv"), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    return rows


def der_of(rel):
    with open(pki(rel[:-4] + ".der"), "rb") as f:
        return f.read()


def sha256(rel):
    return hashlib.sha256(der_of(rel)).hexdigest()


def proxy_escape(s):
    """mtls-proxy's escape_value: bytes < 0x20 and 0x7f as \\xHH, all else raw."""
    out = []
    for ch in s:
        o = ord(ch)
        out.append(f"\\x{o:02x}" if o < 0x20 or o == 0x7F else ch)
    return "".join(out)


def verify_json(*args):
    rc, out, err = run("verify", "--json", *args)
    try:
        return rc, json.loads(out), err
    except ValueError:
        return rc, None, f"not JSON: {out!r} {err!r}"


# ---------------------------------------------------------------------------------------
def group_manifest():
    rows = manifest()
    check(len(rows) == 37, "the manifest has 37 cases", f"got {len(rows)}")
    for c in rows:
        want_rc = 0 if c["expect"] == "accept" else 1
        want_reason = REASONS[c["reason"]]
        rc, out, err = run("verify", "--ca", pki(c["trust"]), pki(c["chain"]))
        ctx = f"{c['name']}: mtls verify --ca {c['trust']} {c['chain']} -> rc {rc}\n{out}{err}"
        check(rc == want_rc, f"{c['name']}: exit status {want_rc}", ctx)
        first = out.splitlines()[0] if out else ""
        check(first.startswith("verdict: " + ("accepted" if want_rc == 0 else "refused")),
              f"{c['name']}: verdict line", ctx)
        if want_rc == 1:
            check(f"reason:  {want_reason}:" in out, f"{c['name']}: reason {want_reason}", ctx)
            for line in ("failing certificate: ", "check failed: ", "hint: "):
                check(line in out, f"{c['name']}: human output has '{line.strip()}'", ctx)
        else:
            check("chain built (leaf to trust anchor):" in out, f"{c['name']}: chain shown", ctx)
        rc, doc, err = verify_json("--ca", pki(c["trust"]), pki(c["chain"]))
        check(doc is not None and rc == want_rc and doc["reason"] == want_reason,
              f"{c['name']}: --json reason {want_reason}", f"rc {rc} {err} {doc and doc['reason']}")
    # the hints name the right thing
    hints = {
        "eku-server": "leaf allows only serverAuth",
        "server-as-client": "leaf allows only serverAuth",
        "by-cafalse-int": "lacks CA:TRUE",
        "by-nobc-int": "no basicConstraints",
        "by-v1-int-sent": "X.509 v1",
        "by-cafalse-anchor": "the trust anchor \"CN=Issuer with CA FALSE",
        "expired": "expired on ",
        "not-yet-valid": "is valid only from ",
        "untrusted-ca": "issuer \"CN=Other Root CA (untrusted),O=libmtls tests\" of \"CN=client "
                        "of the untrusted CA\" is not among the anchors",
        "via-int-not-sent": "send it after the leaf",
        "self-signed": "is self-signed and is not one of the trust anchors",
    }
    by_name = {c["name"]: c for c in rows}
    for name, words in hints.items():
        c = by_name[name]
        rc, out, err = run("verify", "--ca", pki(c["trust"]), pki(c["chain"]))
        check(words in out, f"{name}: hint mentions {words!r}", out + err)
    # the failing certificate is the intermediate the client sent
    c = by_name["by-cafalse-int"]
    rc, out, _ = run("verify", "--ca", pki(c["trust"]), pki(c["chain"]))
    check(f"failing certificate: [1] CN=Issuer with CA FALSE,O=libmtls tests (sha256 "
          f"{sha256('issuer-cafalse.pem')})" in out, "by-cafalse-int: failing certificate [1]", out)


def group_json():
    rows = {c["name"]: c for c in manifest()}
    names = None
    for c in rows.values():
        rc, doc, err = verify_json("--ca", pki(c["trust"]), pki(c["chain"]))
        if doc is None:
            check(False, f"{c['name']}: --json parses", err)
            continue
        ph = doc["placeholders"]
        names = names or set(ph)
        check(set(ph) == names and "http.request.tls.client.subject" in ph,
              f"{c['name']}: every placeholder present", sorted(ph))
        check(ph["http.request.tls.client.fingerprint"] == sha256(c["cert"]),
              f"{c['name']}: fingerprint placeholder", ph["http.request.tls.client.fingerprint"])
        check(ph["http.request.tls.client.certificate_der_base64"]
              == base64.b64encode(der_of(c["cert"])).decode(), f"{c['name']}: DER base64")
        verified = ph["http.request.tls.client.verified"]
        want = "SUCCESS" if c["expect"] == "accept" else "FAILED:" + REASONS[c["reason"]]
        check(verified == want, f"{c['name']}: verified placeholder {want}", verified)
        for key in ("verdict", "accepted", "verified", "reason", "reason_code", "message",
                    "chain", "presented", "failure", "time", "mode", "policy_index"):
            check(key in doc, f"{c['name']}: --json has {key}")
        check(doc["presented"][0]["sha256"] == sha256(c["cert"]), f"{c['name']}: presented[0]")
        if c["expect"] == "accept":
            check(len(doc["chain"]) >= 1 and doc["chain"][0]["sha256"] == sha256(c["cert"])
                  and doc["chain"][-1]["sha256"] == sha256(c["trust"]),
                  f"{c['name']}: chain runs from the leaf to the trusted CA", doc["chain"])
            check(doc["failure"] is None, f"{c['name']}: no failure when accepted")
        else:
            check(doc["chain"] == [] and doc["failure"]["check"] and doc["failure"]["hint"],
                  f"{c['name']}: refusal: no chain, a check and a hint", doc["failure"])
    # the intermediate chain, exactly
    c = rows["via-int-sent"]
    _, doc, _ = verify_json("--ca", pki(c["trust"]), pki(c["chain"]))
    check([x["sha256"] for x in doc["chain"]]
          == [sha256("via-int.pem"), sha256("int-ca.pem"), sha256("root-ca.pem")],
          "via-int-sent: chain leaf, intermediate, root", doc["chain"])
    check(doc["chain"][1]["subject"] == "CN=Test Intermediate CA,O=libmtls tests",
          "via-int-sent: chain subjects in Go's form", doc["chain"][1])
    # raw values: JSON carries the control bytes themselves
    c = rows["dn-ctl-lf"]
    _, doc, _ = verify_json("--ca", pki(c["trust"]), pki(c["chain"]))
    check(doc["placeholders"]["http.request.tls.client.subject"]
          == "CN=line one\nline two,O=ctl test", "dn-ctl-lf: raw subject in JSON")


def group_inspect():
    known = {
        "dn-special.pem": "CN=Zoë Ñandú,OU=R&D\\; \\<Lab\\>+OU=Back\\\\slash=Eq,O=Example\\, Inc. "
                          "\\+ \\\"Friends\\\",L=Stuttgart,ST=Baden-Württemberg,C=DE,"
                          "1.2.840.113549.1.9.1=#0c0f7a6f65406578616d706c652e6f7267,"
                          "0.9.2342.19200300.100.1.1=#13037a6f65",
        "dn-ctl-lf.pem": "CN=line one\\x0aline two,O=ctl test",
        "dn-ctl-tab.pem": "CN=tab\\x09here,O=del\\x7f char",
        "basic.pem": "CN=basic client",
    }
    for rel, subject in known.items():
        rc, out, err = run("inspect", pki(rel))
        lines = dict(l.split(": ", 1) for l in out.splitlines() if ": " in l)
        check(rc == 0 and lines.get("http.request.tls.client.subject") == subject,
              f"inspect {rel}: subject as the proxy forwards it", repr(out[:600]) + err)
        check(lines.get("http.request.tls.client.fingerprint") == sha256(rel),
              f"inspect {rel}: fingerprint")
        check(all("\n" not in v and "\r" not in v for v in lines.values()),
              f"inspect {rel}: no raw control bytes")
        pem = base64.b64encode(der_of(rel)).decode()
        want_pem = "-----BEGIN CERTIFICATE-----\\x0a" + "".join(
            pem[i:i + 64] + "\\x0a" for i in range(0, len(pem), 64)) + \
            "-----END CERTIFICATE-----\\x0a"
        check(lines.get("http.request.tls.client.certificate_pem") == want_pem,
              f"inspect {rel}: certificate_pem with escaped newlines",
              lines.get("http.request.tls.client.certificate_pem"))
    rc, out, _ = run("inspect", pki("san.pem"))
    for want in ("http.request.tls.client.san.dns_names: [alice.example.org www.alice.example.org]",
                 "http.request.tls.client.san.emails: [alice@example.org]",
                 "http.request.tls.client.san.ips: [192.0.2.10 2001:db8::10 192.0.2.11]",
                 "http.request.tls.client.san.uris: [spiffe://example.org/ns/prod/sa/alice]",
                 "http.request.tls.client.spiffe_id: spiffe://example.org/ns/prod/sa/alice",
                 "http.request.tls.client.verified: UNVERIFIED"):
        check(want in out.splitlines(), f"inspect san.pem: {want}", out)
    # inspect == the escaped raw values of verify --json, for every leaf of the PKI
    for c in manifest():
        _, doc, _ = verify_json("--ca", pki(c["trust"]), pki(c["cert"]))
        rc, out, err = run("inspect", "--json", pki(c["cert"]))
        try:
            got = json.loads(out)
        except ValueError:
            check(False, f"inspect --json {c['cert']} parses", out + err)
            continue
        for name, value in got.items():
            if name.endswith(".verified"):
                continue
            check(value == proxy_escape(doc["placeholders"][name]),
                  f"inspect {c['cert']}: {name} = escape(raw)", f"{value!r}")
        check(set(got) == {n for n in doc["placeholders"] if n.startswith("http.request.tls.client.")},
              f"inspect {c['cert']}: every client placeholder")
    # DER input works as well
    rc, out, _ = run("inspect", pki("basic.der"))
    check(rc == 0 and "http.request.tls.client.subject: CN=basic client" in out, "inspect DER")


def group_policy():
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, text):
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return path

        good = write("good.json", json.dumps({
            "mode": "require_and_verify",
            "trusted_ca_certs_pem_files": [pki("root-ca.pem")]}))
        rc, out, err = run("policy", "check", good)
        check(rc == 0, "policy check good.json: exit 0", out + err)
        for want in ("1 connection policy", "mode:      require_and_verify",
                     "CN=Test Root CA,O=libmtls tests", "sha256 " + sha256("root-ca.pem"),
                     "self-signed", "leaf pins: none", "match:     any connection"):
            check(want in out, f"policy check good.json shows {want!r}", out)
        check("warning" not in err, "policy check good.json: no warning", err)

        partial = write("partial.json", json.dumps({"trusted_ca_certs_pem_files": [pki("int-ca.pem")]}))
        rc, out, err = run("policy", "check", partial)
        check(rc == 0 and "require_and_verify (Caddy's default)" in out,
              "policy check: default mode shown", out)
        check("warning" in err and "is not self-signed" in err and "Test Intermediate CA" in err,
              "policy check: warns about a partial-chain anchor", err)

        whole = write("caddy.json", json.dumps({"apps": {"http": {"servers": {
            "srv0": {"listen": [":443"], "tls_connection_policies": [
                {"match": {"sni": ["A.Example"], "remote_ip": {"ranges": ["10.1.0.0/16"]}},
                 "client_authentication": {"trusted_ca_certs_pem_files": [pki("root-ca.pem")],
                                           "trusted_leaf_certs": [base64.b64encode(der_of("basic.pem")).decode()]}},
                {}]},
            "srv1": {"listen": [":8443"], "tls_connection_policies": [
                {"client_authentication": {"mode": "request"}, "protocol_min": "tls1.3"}]},
            "plain": {"listen": [":80"]}}}}}))
        rc, out, err = run("policy", "check", whole)
        check(rc == 0, "policy check whole config: exit 0", out + err)
        for want in ('(server "srv0"): 2 connection policies', '(server "srv1"): 1 connection policy',
                     "match:     sni a.example", "10.1.0.0/16 remote_ip",
                     "sha256 " + sha256("basic.pem"), "mode:      off", "mode:      request",
                     'protocol_min "tls1.3"'):
            check(want in out, f"policy check whole config shows {want!r}", out)
        check('"plain"' not in out, "policy check: servers without policies are skipped", out)

        broken = write("broken.json", '{"mode": "require_and_verify",\n  "trusted_ca_certs": [1,}\n')
        rc, out, err = run("policy", "check", broken)
        check(rc == 2 and f"{broken}:2:" in err and "JSON_SYNTAX" in err,
              "policy check broken JSON: exit 2 with line:column", err)
        unknown = write("unknown.json", '{"mode": "require_and_verify", "trusted_ca_cert_files": []}')
        rc, out, err = run("policy", "check", unknown)
        check(rc == 2 and "UNKNOWN_FIELD" in err and "trusted_ca_cert_files" in err,
              "policy check unknown field: exit 2 naming it", err)
        nokey = write("nopem.json", json.dumps({"trusted_ca_certs_pem_files": [pki("basic.key.pem")]}))
        rc, out, err = run("policy", "check", nokey)
        check(rc == 2 and "basic.key.pem" in err, "policy check key as CA file: exit 2 naming it", err)
        rc, out, err = run("policy", "check", os.path.join(tmp, "missing.json"))
        check(rc == 2 and "missing.json" in err, "policy check missing file: exit 2", err)
        rc, out, err = run("policy", "check", "/")
        check(rc == 2 and err, "policy check a directory: exit 2", err)

        # verify --policy uses the same loader; the first policy that asks for certificates
        rc, out, err = run("verify", "--policy", whole, pki("basic.pem"))
        check(rc == 2 and "AMBIGUOUS_SERVER" in err and "mtls policy check" in err,
              "verify --policy with two servers: exit 2 and a pointer", err)
        pinned = write("pinned.json", json.dumps({
            "trusted_ca_certs_pem_files": [pki("root-ca.pem")],
            "trusted_leaf_certs": [base64.b64encode(der_of("basic.pem")).decode()]}))
        rc, out, err = run("verify", "--policy", pinned, pki("basic.pem"))
        check(rc == 0, "verify --policy pinned leaf: accepted", out + err)
        rc, out, err = run("verify", "--policy", pinned, pki("p256.pem"))
        check(rc == 1 and "LEAF_NOT_PINNED" in out and "pinned leaf list" in out,
              "verify --policy other leaf: LEAF_NOT_PINNED with a hint", out + err)
        rc, out, err = run("verify", "--policy", broken, pki("basic.pem"))
        check(rc == 2 and f"{broken}:2:" in err, "verify --policy broken: exit 2 with position", err)


def group_options():
    rc, doc, err = verify_json("--purpose", "server", "--ca", pki("server-ca.pem"), pki("server.pem"))
    check(rc == 0 and doc["verdict"] == "accepted", "--purpose server: server cert accepted",
          f"{rc} {err} {doc and doc['message']}")
    rc, doc, _ = verify_json("--purpose", "client", "--ca", pki("server-ca.pem"), pki("server.pem"))
    check(rc == 1 and doc["reason"] == "WRONG_EKU", "--purpose client: server cert refused")
    rc, out, _ = run("verify", "--purpose", "server", "--ca", pki("root-ca.pem"), pki("basic.pem"))
    check(rc == 1 and "WRONG_EKU" in out and "leaf allows only clientAuth" in out,
          "--purpose server: clientAuth-only leaf refused with a hint", out)
    rc, doc, _ = verify_json("--purpose", "server", "--ca", pki("root-ca.pem"), pki("eku-none.pem"))
    check(rc == 0, "--purpose server: a leaf without EKU passes")

    rc, doc, _ = verify_json("--at", "@4102444800", "--ca", pki("root-ca.pem"), pki("basic.pem"))
    check(rc == 1 and doc["reason"] == "CERT_EXPIRED" and doc["time"] == "2100-01-01T00:00:00Z",
          "--at @UNIX in the future: expired", doc and doc["time"])
    rc, doc, _ = verify_json("--at", "2000-01-01T00:00:00Z", "--ca", pki("root-ca.pem"), pki("basic.pem"))
    check(rc == 1 and doc["reason"] == "CERT_NOT_YET_VALID", "--at RFC 3339 in the past: not yet valid")
    rc, doc, _ = verify_json("--at", "2100-01-01T02:00:00.5+02:00", "--ca", pki("root-ca.pem"), pki("basic.pem"))
    check(rc == 1 and doc["time"] == "2100-01-01T00:00:00Z", "--at with offset and fraction",
          doc and doc["time"])
    # around the leaf's validity bounds (RFC 3339 from the JSON output, @UNIX arithmetic)
    _, doc, _ = verify_json("--ca", pki("root-ca.pem"), pki("basic.pem"))
    nb, na = doc["presented"][0]["not_before"], doc["presented"][0]["not_after"]
    rc, _, _ = verify_json("--at", nb, "--ca", pki("root-ca.pem"), pki("basic.pem"))
    check(rc == 0, f"--at the leaf's not_before ({nb}): accepted")
    import calendar, time
    na_unix = calendar.timegm(time.strptime(na, "%Y-%m-%dT%H:%M:%SZ"))
    rc, _, _ = verify_json("--at", f"@{na_unix - 1}", "--ca", pki("root-ca.pem"), pki("basic.pem"))
    check(rc == 0, "--at one second before not_after: accepted")
    rc, doc, _ = verify_json("--at", f"@{na_unix + 1}", "--ca", pki("root-ca.pem"), pki("basic.pem"))
    check(rc == 1 and doc["reason"] == "CERT_EXPIRED", "--at one second after not_after: expired")

    rc, doc, _ = verify_json("--ca", pki("root-ca.pem"), "--untrusted", pki("int-ca.pem"), pki("via-int.pem"))
    check(rc == 0 and len(doc["chain"]) == 3 and len(doc["presented"]) == 2,
          "--untrusted supplies the intermediate", doc and doc["chain"])
    rc, _, _ = verify_json("--ca", pki("root-ca.pem"), pki("via-int.pem"))
    check(rc == 1, "without --untrusted the intermediate is missing")
    rc, doc, _ = verify_json("--ca", pki("root-ca.pem"), "--ca", pki("other-ca.pem"), pki("untrusted-ca.pem"))
    check(rc == 0, "--ca is repeatable")

    chain = pki("long-chain.chain.pem")
    rc, doc, _ = verify_json("--max-depth", "4", "--ca", pki("long-root.pem"), chain)
    check(rc == 0, "--max-depth 4: four intermediates pass", doc and doc["message"])
    rc, doc, _ = verify_json("--max-depth", "3", "--ca", pki("long-root.pem"), chain)
    check(rc == 1 and doc["reason"] == "CHAIN_TOO_LONG", "--max-depth 3: four intermediates refused",
          doc and doc["reason"])
    rc, doc, _ = verify_json("--max-depth", "0", "--ca", pki("root-ca.pem"), pki("basic.pem"))
    check(rc == 0, "--max-depth 0: a leaf issued by the anchor passes")


def group_input():
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, data):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            return path

        with open(pki("basic.pem"), "rb") as f:
            basic_pem = f.read()
        body = b"".join(l for l in basic_pem.splitlines(True) if not l.startswith(b"-----"))
        cases = {
            "missing": (os.path.join(tmp, "missing.pem"), "No such file"),
            "directory": (tmp, ""),
            "empty": (write("empty.pem", b""), "empty"),
            "text": (write("text.pem", b"hello\n"), "no PEM certificate"),
            "key only": (pki("basic.key.pem"), "no CERTIFICATE block"),
            "bad base64": (write("b64.pem", b"-----BEGIN CERTIFICATE-----\nMII*\n-----END CERTIFICATE-----\n"),
                           "line 2: invalid base64"),
            "no END": (write("noend.pem", basic_pem.split(b"-----END")[0]), "has no END line"),
            "wrong END": (write("wrongend.pem", basic_pem.replace(b"END CERTIFICATE", b"END X509 CRL")),
                          "closes"),
            "truncated": (write("trunc.pem", b"-----BEGIN CERTIFICATE-----\n" + body[:200] +
                                b"\n-----END CERTIFICATE-----\n"), "certificate 1 (line 1)"),
            "not a cert": (write("seq.pem", b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"),
                           "not a valid X.509 certificate"),
            "bad DER": (write("bad.der", der_of("basic.pem")[:-10]), "DER certificate 1"),
        }
        for what, (path, words) in cases.items():
            for argv in (["verify", "--ca", pki("root-ca.pem"), path], ["inspect", path],
                         ["verify", "--ca", pki("root-ca.pem"), "--untrusted", path, pki("basic.pem")]):
                rc, out, err = run(*argv)
                check(rc == 2 and path in err and words in err and "mtls: " in err,
                      f"{what}: {' '.join(argv[:3])}: exit 2 naming the file and reason",
                      f"rc {rc}: {err!r}")
            # as a CA file, libmtls's loader reports it (its own words)
            rc, out, err = run("verify", "--ca", path, pki("basic.pem"))
            check(rc == 2 and path in err and "mtls: " in err,
                  f"{what}: as --ca: exit 2 naming the file", f"rc {rc}: {err!r}")
        # the good forms: DER, PEM with text around it, a key block skipped, CRLF
        messy = b"subject=...\r\n" + basic_pem.replace(b"\n", b"\r\n")
        with open(pki("basic.key.pem"), "rb") as f:
            messy += f.read()
        for name, path in (("DER", pki("basic.der")), ("messy PEM", write("messy.pem", messy))):
            rc, out, err = run("verify", "--ca", pki("root-ca.pem"), path)
            check(rc == 0, f"{name} input accepted", out + err)
        # a CA-false certificate presented as a trust anchor file is a config error
        rc, out, err = run("verify", "--ca", pki("basic.key.pem"), pki("basic.pem"))
        check(rc == 2 and "basic.key.pem" in err, "--ca without certificates: exit 2", err)
        # 101 certificates: bounded
        rc, out, err = run("verify", "--ca", pki("root-ca.pem"),
                           write("many.pem", basic_pem * 101))
        check(rc == 2 and "more than 100 certificates" in err, "more than 100 certificates", err)
        rc, doc, err = verify_json("--ca", pki("root-ca.pem"), write("hundred.pem", basic_pem * 100))
        check(rc == 1 and doc["reason"] == "CHAIN_TOO_LONG",
              "100 certificates sent: refused, not crashed", err)


def group_usage():
    usage = [
        [],
        ["frobnicate"],
        ["verify"],
        ["verify", pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem")],
        ["verify", "--policy", "x.json", "--ca", pki("root-ca.pem"), pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem"), pki("basic.pem"), pki("p256.pem")],
        ["verify", "--ca", pki("root-ca.pem"), "--frob", pki("basic.pem")],
        ["verify", "--ca"],
        ["verify", "--ca", pki("root-ca.pem"), "--at", "yesterday", pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem"), "--at", "2024-02-30T00:00:00Z", pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem"), "--at", "2024-01-01T00:00:00", pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem"), "--at", "@12x", pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem"), "--purpose", "email", pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem"), "--max-depth", "-1", pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem"), "--max-depth", "65", pki("basic.pem")],
        ["verify", "--ca", pki("root-ca.pem"), "--max-depth", "99999999999999", pki("basic.pem")],
        ["inspect"],
        ["inspect", "--frob", pki("basic.pem")],
        ["inspect", pki("basic.pem"), pki("p256.pem")],
        ["policy"],
        ["policy", "lint", "x.json"],
        ["policy", "check"],
        ["policy", "check", "a.json", "b.json"],
    ]
    for argv in usage:
        rc, out, err = run(*argv)
        check(rc == 2 and err.strip(), f"mtls {' '.join(argv)}: usage error, exit 2", f"rc {rc} {err!r}")
        check("Segmentation" not in err, f"mtls {' '.join(argv)}: no crash")
    for argv in (["--help"], ["-h"], ["verify", "--help"], ["inspect", "--help"], ["policy", "--help"]):
        rc, out, err = run(*argv)
        check(rc == 0 and "usage: mtls verify [--policy FILE | --ca FILE ...]" in out,
              f"mtls {' '.join(argv)}: help on stdout", out + err)
    rc, out, _ = run("--help")
    for opt in ("--policy", "--ca", "--untrusted", "--at", "--purpose", "--max-depth", "--json",
                "inspect", "policy check", "@UNIX_SECONDS", "RFC 3339"):
        check(opt in out, f"--help mentions {opt}")
    rc, out, _ = run("--version")
    check(rc == 0 and out.startswith("mtls ") and "libmtls" in out, "--version", out)
    # "--" ends options: a file named like an option
    rc, out, err = run("verify", "--ca", pki("root-ca.pem"), "--", "--json")
    check(rc == 2 and "--json" in err and "No such file" in err, "-- ends the options", err)


GROUPS = {
    "manifest": group_manifest,
    "json": group_json,
    "inspect": group_inspect,
    "policy": group_policy,
    "options": group_options,
    "input": group_input,
    "usage": group_usage,
}

GROUPS[GROUP]()
for f in failures:
    print("FAIL:", f)
print(f"{GROUP}: {checks - len(failures)}/{checks} checks passed")
sys.exit(1 if failures else 0)
