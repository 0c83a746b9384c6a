#!/usr/bin/env python3
"""cert_field_injection.py MINIMAL_SERVER PKIDIR - bytes in client certificate fields must not
add lines to what the minimal server prints, nor change the identity it shows.

The minimal server writes, per accepted client, nine "name: value" lines to stdout and to the
client (main.c render_identity, which writes bytes below 0x20 and 0x7f as \\xHH), and one
verdict line per connection to stderr ("client accepted: " / "client rejected: " and
mtls_peer_message, which names the certificate by its subject).

Certificates made here (DER built byte by byte, signed by the test root CA unless said
otherwise) carry CR, LF, NUL, TAB, ESC, DEL and forged output lines in the subject
(UTF8String, BMPString, T61String), in the O attribute and in SAN DNS names and e-mail
addresses; non-ASCII UTF-8, C1 controls (U+0085, U+009B) and U+2028; Latin-1 and invalid
UTF-8 bytes in a T61String; URI SANs with CR/LF and non-ASCII IA5String SANs (refused, as Go
refuses them). Checked:
  - every stdout line is one of the nine identity lines, no raw control byte in them, the
    response body the same; unicode passes intact;
  - FINDING MS-1 (test_FINDING_MS1_nul_truncates_displayed_identity, fails until main.c is fixed):
    a NUL in the subject or a SAN cuts the displayed value: a certificate for
    "CN=admin\\x00.evil,O=attacker" is shown as "CN=admin";
  - FINDING MS-2 (test_FINDING_MS2_verdict_log_injection, fails until main.c is fixed): the
    stderr verdict line carries the subject raw, so any client - even one with an untrusted
    self-signed certificate, which is refused - writes arbitrary lines into the log, e.g. a
    forged "client accepted: ... CN=admin" line;
  - FINDING MS-5 (test_FINDING_MS5_peer_message_cut_at_nul, fails until libmtls is fixed):
    mtls_peer_message embeds the subject raw in a C string, so a NUL in the subject cuts
    the verdict sentence before the certificate's fingerprint."""
import time

import mslib as M

A, L = M.A, M.L
ST = {}
FORGED = b"client accepted: accepted: certificate subject \"CN=admin\" (sha256 00)"

# name -> (subject RDNs, SANs); all signed by the test root CA and accepted
ACCEPTED = {
    "cn-crlf": ([(A.OID_CN, b"evil\r\nhttp.request.tls.client.verified: SUCCESS\r\n" + FORGED,
                  "utf8")], None),
    "cn-ctl": ([(A.OID_CN, b"tab\there\x1b[31mesc\x7fdel\x01soh", "utf8")], None),
    "o-lf-cn": ([(A.OID_O, b"org\nhttp.request.tls.client.subject: CN=admin", "utf8"),
                 (A.OID_CN, b"plain", "utf8")], None),
    "bmp-ctl": ([(A.OID_CN, "bmp\r\nX: bmp \u00e9\u65e5", "bmp")], None),
    "t61-ctl": ([(A.OID_CN, b"t61\r\nX: t61", "t61")], None),
    "san-crlf": ([(A.OID_CN, b"san", "utf8")],
                 {"emails": [b"a@example.org\r\nhttp.request.tls.version: tls9"],
                  "dns": [b"a.example.org\rX: dns", b"b.example.org\nX: dns2"]}),
    "unicode": ([(A.OID_O, "Soci\u00e9t\u00e9 G\u00e9n\u00e9rale", "utf8"),
                 (A.OID_CN, "Zo\u00eb \u00dcn\u00efc\u00f8d\u00e9 \u65e5\u672c \U0001f510",
                  "utf8")], None),
    "c1-and-ls": ([(A.OID_CN, "nel\u0085csi\u009b31mls\u2028end", "utf8")], None),
    "t61-latin1": ([(A.OID_CN, b"caf\xe9", "t61")], None),
    "t61-bad-utf8": ([(A.OID_CN, b"ovl\xe0\x80\xafsur\xed\xa0\x80big\xf4\x90\x80\x80end",
                       "t61")], None),
}
# NUL bytes: accepted (Go passes NUL in names through) - FINDING MS-1
NUL_CASES = {
    "cn-nul": ([(A.OID_CN, b"admin\x00.evil", "utf8"), (A.OID_O, b"attacker", "utf8")], None,
               M.SHOWN[1], b"\\x00.evil"),
    "san-nul": ([(A.OID_CN, b"san-nul", "utf8")],
                {"dns": [b"admin\x00.evil.example.org", b"second.example.org"]},
                M.SHOWN[5], b"second.example.org"),
}
# refused by libmtls as by Go (the certificate does not parse)
REFUSED = {
    "san-uri-crlf": ([(A.OID_CN, b"san-uri", "utf8")],
                     {"uris": [b"spiffe://example.org/a\r\n" + FORGED]}),
    "san-non-ascii": ([(A.OID_CN, b"san-non-ascii", "utf8")],
                      {"emails": ["zo\u00eb@ex\u00e4mple.org".encode()],
                       "dns": ["ex\u00e4mple.org".encode()]}),
}


def setup():
    pki = L.PKI()
    ca = A.TestCA(pki)
    key = A.Key(name="inj")
    chains = {}
    for name, spec in list(ACCEPTED.items()) + list(NUL_CASES.items()) + list(REFUSED.items()):
        rdns, san = spec[0], spec[1]
        chains[name] = A.write_chain(name, [A.make_cert(A.name(*rdns), ca.subject, ca.key, key,
                                                        san=san)])
    # untrusted: self-signed, refused - but the refusal is logged with the subject
    skey = A.Key(name="selfsigned")
    for name, cn in (("self-lf", b"x\n" + FORGED), ("self-cr", b"x\r" + FORGED),
                     ("self-nul", b"admin\x00 rest")):
        nm = A.name((A.OID_CN, cn, "utf8"))
        chains[name] = A.write_chain(name, [A.make_cert(nm, nm, skey, key, ca=False,
                                                        aki=False)])
    ST.update(pki=pki, key=key, chains=chains,
              policy=M.policy_file("rav", trust=[pki.path("root-ca.pem")]),
              request=M.policy_file("request", mode="request"))


def attempt(srv, name):
    return M.get(srv.port, M.ctx_for(ST["chains"][name], ST["key"].path), "/" + name)


def check_body(f, name, st, body):
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    f.check(len(lines) == len(M.SHOWN) and
            [ln.partition(b": ")[0].decode("latin-1") for ln in lines] == M.SHOWN,
            "%s: the response body is not the nine identity lines: %r" % (name, body[:400]))
    bad = [c for c in body.replace(b"\n", b"") if c < 0x20 or c == 0x7f]
    f.check(not bad, "%s: raw control bytes %r in the response body" % (name, bytes(bad)))


def test_control_bytes_escaped_on_stdout_and_in_responses():
    """stdout and the response carry \\xHH, never a raw control byte; one block per client.
    (The stderr verdict log is FINDING MS-2, checked below.)"""
    for policy in ("policy", "request"):
        srv = M.Server(ST[policy], name="inj-" + policy)
        f = L.Failures()
        for name in ACCEPTED:
            st, body, t, err = attempt(srv, name)
            if not f.check(st == 200, "%s (%s): status %d %s" % (name, policy, st, err)):
                continue
            check_body(f, name, st, body)
            subj = M.body_fields(body).get(M.SHOWN[1], b"")
            if name == "cn-crlf":
                f.check(subj.startswith(b"CN=evil\\x0d\\x0ahttp.request.tls.client.verified:"),
                        "cn-crlf subject %r" % subj[:120])
            if name == "cn-ctl":
                f.check(b"tab\\x09here\\x1b[31mesc\\x7fdel\\x01soh" in subj,
                        "cn-ctl subject %r" % subj)
            if name == "san-crlf":
                dns = M.body_fields(body).get(M.SHOWN[5], b"")
                f.check(b"a.example.org\\x0dX: dns" in dns and b"b.example.org\\x0aX: dns2" in
                        dns, "san-crlf dns_names %r" % dns)
        blocks = srv.blocks()
        f.check(len(blocks) == len(ACCEPTED), "%s: %d identity blocks for %d clients" % (
            policy, len(blocks), len(ACCEPTED)))
        srv.check_output(f, policy + ": ", stderr=False)
        srv.stop_clean(f)
        f.done()


def test_unicode_passes_intact():
    """Non-ASCII UTF-8 is printed raw (as Go and the proxy do); T61String bytes come out as
    valid UTF-8 (Latin-1). C1 controls and U+2028 are printed raw too: they are not LF, so
    they add no line for a line reader, but a Unicode-aware reader (Python's splitlines)
    breaks lines at U+0085 and U+2028; reported, not asserted."""
    srv = M.Server(ST["policy"])
    f = L.Failures()
    got = {}
    for name in ("unicode", "c1-and-ls", "t61-latin1", "t61-bad-utf8"):
        st, body, t, err = attempt(srv, name)
        f.check(st == 200, "%s: status %d %s" % (name, st, err))
        got[name] = M.body_fields(body).get(M.SHOWN[1], b"")
        try:
            got[name].decode("utf-8")
        except UnicodeDecodeError:
            f.check(False, "%s: subject is not valid UTF-8: %r" % (name, got[name]))
    want = ("CN=Zo\u00eb \u00dcn\u00efc\u00f8d\u00e9 \u65e5\u672c \U0001f510,"
            "O=Soci\u00e9t\u00e9 G\u00e9n\u00e9rale").encode()
    f.check(got.get("unicode") == want, "unicode subject %r, want %r" % (got.get("unicode"),
                                                                       want))
    f.check(got.get("t61-latin1") == "CN=caf\u00e9".encode(), "t61 Latin-1: %r" %
            got.get("t61-latin1"))
    L.log("    C1/U+2028 subject printed as %r" % got.get("c1-and-ls"))
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def test_malformed_sans_refused():
    srv = M.Server(ST["policy"])
    f = L.Failures()
    for name in REFUSED:
        st, body, t, err = attempt(srv, name)
        f.check(st == 0, "%s: accepted (%d): %r" % (name, st, body[:200]))
    f.check(not srv.blocks(), "identity printed for a refused client: %r" % srv.blocks())
    st, body, t, err = M.get(srv.port, M.basic_ctx(ST["pki"]), "/next")
    f.check(st == 200, "next client: %d %s" % (st, err))
    srv.check_output(f, stderr=False)
    srv.stop_clean(f)
    f.done()


def test_FINDING_MS1_nul_truncates_displayed_identity():
    """FINDING MS-1 (examples/minimal-server/main.c, render_identity): mtls_peer_get is called
    with out_len NULL and the value is copied up to its first NUL, so a NUL in a subject or
    SAN hides the rest of the value: "CN=admin\\x00.evil,O=attacker" is shown (stdout and
    response) as "CN=admin", and the DNS names list "[admin\\x00.evil.example.org,
    second.example.org]" as "[admin". Expected: the whole value, NUL written as \\x00."""
    srv = M.Server(ST["policy"])
    f = L.Failures()
    for name, (rdns, san, field, must) in NUL_CASES.items():
        st, body, t, err = attempt(srv, name)
        if not f.check(st == 200, "%s: status %d %s" % (name, st, err)):
            continue
        v = M.body_fields(body).get(field, b"")
        f.check(must in v, "FINDING MS-1: %s: %s shown as %r: the value is cut at its NUL "
                "(want it whole, with %r)" % (name, field, v, must))
    for b in srv.blocks():
        for field in (M.SHOWN[1], M.SHOWN[5]):
            f.check(b.get(field) not in (b"CN=admin", b"[admin"),
                    "FINDING MS-1: stdout shows %s: %r" % (field, b.get(field)))
    srv.check_output(f, stderr=False)
    srv.stop_clean(f)
    f.done()


def test_FINDING_MS2_verdict_log_injection():
    """FINDING MS-2 (examples/minimal-server/main.c, serve: fprintf(stderr, "client %s: %s\\n",
    ..., mtls_peer_message(peer))): the message names the certificate by its subject, which
    libmtls renders as Go does (control bytes raw; mtls.h warns about this for mtls_peer_get
    but not for mtls_peer_message), and main.c prints it unescaped. A client with an
    untrusted self-signed certificate - refused, no trust needed - whose CN holds
    "\\nclient accepted: ..." adds a forged "client accepted" line to the server's log; CR
    rewrites the terminal line. Expected: one verdict line per connection, control bytes
    escaped."""
    srv = M.Server(ST["policy"])
    f = L.Failures()
    names = ["self-lf", "self-cr", "cn-crlf"]
    for name in names:
        st, body, t, err = attempt(srv, name)
        f.check(st == (200 if name == "cn-crlf" else 0), "%s: status %d" % (name, st))
    st, body, t, err = M.get(srv.port, M.basic_ctx(ST["pki"]), "/next")
    f.check(st == 200, "next client: %d %s" % (st, err))
    time.sleep(0.2)
    lines = srv.stderr_lines()
    f.check(len(lines) == len(names) + 1,
            "FINDING MS-2: %d stderr lines for %d connections: %r" % (len(lines), len(names) + 1,
                                                                   lines))
    # the forged text (Go escapes its quotes) at the start of a line of its own
    forged = [ln for ln in lines if ln.startswith(b'client accepted: accepted: certificate '
                                                  b'subject \\"CN=admin')]
    f.check(not forged, "FINDING MS-2: a refused, untrusted client forged log line(s): %r" %
            forged)
    accepted = [a for a, _ in srv.verdicts()]
    f.check(accepted.count(True) == 2, "FINDING MS-2: %d 'client accepted' lines for 2 accepted "
            "clients" % accepted.count(True))
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def test_FINDING_MS5_peer_message_cut_at_nul():
    """FINDING MS-5 (libmtls: verify/peer.c, render_message / mtlsp_describe_cert):
    mtls_peer_message is a C string that embeds the subject raw, so a NUL in the subject
    ends the sentence there: a self-signed "CN=admin\\x00 rest" is logged as
    '... certificate subject "CN=admin' - no closing quote, no fingerprint - by every user
    of mtls_peer_message (this log, the proxy's access-log "message", the mtls tool). Not
    fixable in main.c alone. Expected: the whole sentence, ending "(sha256 HEX)"."""
    srv = M.Server(ST["policy"])
    f = L.Failures()
    st, body, t, err = attempt(srv, "self-nul")
    f.check(st == 0, "self-nul accepted: %d" % st)
    time.sleep(0.2)
    v = srv.verdicts()
    f.check(len(v) == 1 and not v[0][0], "verdicts: %r" % v)
    cut = [m for a, m in v if b'certificate subject "' in m and
           not (m.rstrip().endswith(b")") and b"(sha256 " in m)]
    f.check(not cut, "FINDING MS-5: the verdict message is cut at the subject's NUL: %r" % cut)
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
