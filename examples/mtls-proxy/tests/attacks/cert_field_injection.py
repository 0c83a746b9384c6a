#!/usr/bin/env python3
"""cert_field_injection.py MTLS_PROXY PKIDIR - bytes in client certificate fields must not inject
header lines or log lines (DESIGN.md section 6, "Header-safe identity").

Client certificates made here (signed by the test root CA, DER built byte by byte so any
byte can go in) carry CR, LF, NUL, TAB, ESC, DEL and "\\r\\nX-Injected: ..." in the subject
(UTF8String, BMPString, T61String), in SAN URIs, e-mail addresses and DNS names; JSON-breaking
text ('","status":200,"x":"', backslashes); invalid and overlong UTF-8 in a T61String; and
plain non-ASCII UTF-8. For each one the proxy either refuses the handshake (as Go refuses some
malformed strings) or forwards the request; then:
  - the upstream sees each identity header exactly once, no X-Injected header, no raw byte
    below 0x20 or 0x7f anywhere in the head, control bytes written \\xHH;
  - non-ASCII UTF-8 reaches the upstream intact (raw UTF-8, not escaped);
  - every stdout line is one JSON object in valid UTF-8, one access line per request, and the
    logged subject has no raw control characters."""
import re
import ssl

import attacklib as A

L = A.L
ST = {}
IDENTITY = ["X-Client-Subject", "X-Client-Fingerprint", "X-Client-Issuer", "X-Client-San-Uris",
            "X-Client-San-Emails", "X-Client-San-Dns", "X-Client-Pem", "X-Client-Verified"]
UNICODE_CN = "Zoë Ünïcødé 日本 🔐"

# name -> (subject RDNs, SANs)
CASES = {
    "cn-crlf": ([(A.OID_CN, b"evil\r\nX-Injected: subject\r\n\r\nGET /smuggled HTTP/1.1",
                  "utf8")], None),
    "cn-nul-tab": ([(A.OID_CN, b"nul\x00here\ttab\x1besc\x7fdel", "utf8")], None),
    "o-lf-cn": ([(A.OID_O, b"org\nX-Injected: o", "utf8"), (A.OID_CN, b"plain", "utf8")],
                None),
    "bmp-ctl": ([(A.OID_CN, "bmp\r\nX-Injected: bmp \u00e9\u65e5", "bmp")], None),
    "t61-ctl": ([(A.OID_CN, b"t61\r\nX-Injected: t61", "t61")], None),
    "san-crlf": ([(A.OID_CN, b"san", "utf8")],
                 {"emails": [b"a@example.org\r\nX-Injected: email"],
                  "dns": [b"a.example.org\rX-Injected: dns"]}),
    # URIs with control bytes: Go's url.Parse fails, so Go refuses the certificate
    "san-uri-crlf": ([(A.OID_CN, b"san-uri", "utf8")],
                     {"uris": [b"spiffe://example.org/a\r\nX-Injected: uri"]}),
    "san-nul": ([(A.OID_CN, b"san-nul", "utf8")],
                {"emails": [b"a\x00@example.org"], "dns": [b"admin\x00.example.org"]}),
    "json-break": ([(A.OID_CN, b'x","status":200,"logger":"evil\\', "utf8"),
                    (A.OID_OU, b"\\u0000\\n", "utf8")], {"uris": [b'urn:x","y":"z']}),
    "unicode": ([(A.OID_O, "Société Générale", "utf8"), (A.OID_CN, UNICODE_CN, "utf8")],
                {"emails": [b"zoe@example.org"]}),
    # IA5String SANs with bytes >= 0x80: Go's parser refuses the certificate
    "san-non-ascii": ([(A.OID_CN, b"san-non-ascii", "utf8")],
                      {"emails": ["zoë@exämple.org".encode()],
                       "uris": ["https://exämple.org/ü".encode()],
                       "dns": ["exämple.org".encode()]}),
    "t61-latin1": ([(A.OID_CN, b"caf\xe9", "t61")], None),
    "t61-bad-utf8": ([(A.OID_CN, b"ovl\xe0\x80\xafsur\xed\xa0\x80big\xf4\x90\x80\x80end",
                       "t61")], None),
}


def setup():
    pki = L.PKI()
    up = L.Upstream()
    port = L.free_port()
    ca = A.TestCA(pki)
    key = A.Key(name="inj")
    chains = {}
    for name, (rdns, san) in CASES.items():
        der = A.make_cert(A.name(*rdns), ca.subject, ca.key, key, san=san)
        chains[name] = A.write_chain(name, [der])
    rp = L.reverse_proxy(up, set={
        "X-Client-Subject": "{http.request.tls.client.subject}",
        "X-Client-Fingerprint": "{http.request.tls.client.fingerprint}",
        "X-Client-Issuer": "{http.request.tls.client.issuer}",
        "X-Client-San-Uris": "{http.request.tls.client.san.uris}",
        "X-Client-San-Emails": "{http.request.tls.client.san.emails}",
        "X-Client-San-Dns": "{http.request.tls.client.san.dns_names}",
        "X-Client-Pem": "{http.request.tls.client.certificate_pem}",
        "X-Client-Verified": "{http.request.tls.client.verified}"})
    p_rav, p_req = L.free_ports(2)
    cfg = L.config({
        "rav": L.server(p_rav, [L.route(rp)], [L.policy(mode="require_and_verify",
                                                        trust=pki.path("root-ca.pem"))]),
        "req": L.server(p_req, [L.route(rp)], [L.policy(mode="request")]),
    }, pki)
    ST.update(pki=pki, up=up, rav=p_rav, req=p_req, cfg=cfg, chains=chains, key=key)


def request(port, name, path):
    ctx = L.client_context(ST["chains"][name], ST["key"].path)
    try:
        rs, _ = L.raw_exchange(port, L.request_bytes(path=path), ctx=ctx, wait_close=0)
        return rs[0].status if rs else 0
    except (ssl.SSLError, OSError, L.Closed):
        return 0


def check_head(f, name, head):
    lines = head.split(b"\r\n")
    for ln in lines:
        f.check(not re.search(rb"[\x00-\x1f\x7f]", ln),
                "%s: raw control byte in an upstream header line: %r" % (name, ln[:200]))
        f.check(b":" in ln or ln is lines[0], "%s: upstream line without a colon (injected?): "
                "%r" % (name, ln[:200]))
    names = [ln.partition(b":")[0].strip().lower() for ln in lines[1:]]
    f.check(b"x-injected" not in names and not any(n.startswith(b"get ") for n in names),
            "%s: injected header line at the upstream: %r" % (name, names))
    for h in IDENTITY:
        f.check(names.count(h.lower().encode()) == 1, "%s: %s appears %d times" % (
            name, h, names.count(h.lower().encode())))


def header(head, name):
    for ln in head.split(b"\r\n")[1:]:
        k, _, v = ln.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip()
    return None


def test_control_bytes_never_raw():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    verdicts = {}
    for port, mode in ((ST["rav"], "rav"), (ST["req"], "request")):
        for name in CASES:
            path = "/%s/%s" % (mode, name)
            st = request(port, name, path)
            verdicts[(mode, name)] = st
            ups = ST["up"].by_path(path)
            if st == 0:
                f.check(not ups, "%s %s: refused but forwarded" % (mode, name))
                continue
            if not f.check(st == 200 and len(ups) == 1, "%s %s: status %d, %d upstream requests"
                           % (mode, name, st, len(ups))):
                continue
            check_head(f, "%s %s" % (mode, name), ups[0].head)
            f.check(not ST["up"].by_path("/smuggled"), "a request line in a CN was run")
    # control bytes are escaped \xHH, not dropped
    for mode in ("rav", "request"):
        u = ST["up"].by_path("/%s/cn-crlf" % mode)
        if u:
            v = header(u[0].head, "X-Client-Subject")
            f.check(v is not None and re.search(rb"\\x0[dD]\\x0[aA]X-Injected", v),
                    "%s cn-crlf: X-Client-Subject %r (want \\x0d\\x0a escapes)" % (mode, v))
        u = ST["up"].by_path("/%s/san-crlf" % mode)
        if u:
            v = header(u[0].head, "X-Client-San-Emails")
            f.check(v is not None and re.search(rb"\\x0[dD]\\x0[aA]X-Injected: email", v),
                    "%s san-crlf: X-Client-San-Emails %r" % (mode, v))
    f.check(srv.proc.alive(), "proxy died")
    ST["verdicts"] = verdicts
    L.log("    verdicts (0 = handshake refused): %s" % ", ".join(
        "%s=%d" % (n, verdicts[("rav", n)]) for n in CASES))
    f.done()


def test_unicode_passes_intact():
    L.start_server(ST["cfg"])
    f = L.Failures()
    st = request(ST["rav"], "unicode", "/uni")
    u = ST["up"].by_path("/uni")
    if f.check(st == 200 and len(u) == 1, "unicode certificate: %d" % st):
        v = header(u[0].head, "X-Client-Subject")
        want = ("CN=%s,O=Société Générale" % UNICODE_CN).encode()
        f.check(v == want, "X-Client-Subject %r, want %r (raw UTF-8, as Go's "
                "pkix.Name.String)" % (v, want))
    f.done()


def test_verified_client_always_has_an_identity():
    """A client accepted as verified must arrive with its identity: a certificate whose
    fields the identity code cannot render must not be forwarded as X-Client-Verified: SUCCESS
    with an empty subject and fingerprint (Go refuses such a certificate at parse time, so
    Caddy refuses the handshake)."""
    L.start_server(ST["cfg"])
    f = L.Failures()
    for name in CASES:
        path = "/id/%s" % name
        st = request(ST["rav"], name, path)
        u = ST["up"].by_path(path)
        if st != 200 or not u:
            continue
        h = u[0].head
        fp = header(h, "X-Client-Fingerprint") or b""
        f.check(header(h, "X-Client-Verified") == b"SUCCESS" and
                re.fullmatch(rb"[0-9a-f]{64}", fp) and header(h, "X-Client-Subject"),
                "%s: accepted as %r with subject %r fingerprint %r" % (
                    name, header(h, "X-Client-Verified"), header(h, "X-Client-Subject"), fp))
    f.done()


def test_log_lines_stay_json():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    paths = {}
    for name in CASES:
        path = "/log/%s" % name
        paths[name] = (path, request(ST["req"], name, path))
    objs = A.check_log_lines(f, srv)
    for name, (path, st) in paths.items():
        acc = A.access_lines(objs, path)
        if st == 0:
            f.check(not acc, "%s: refused handshake has an access line" % name)
            continue
        if not f.check(len(acc) == 1, "%s: %d access lines for one request" % (name, len(acc))):
            continue
        j = acc[0]
        f.check(j.get("status") == 200 and j.get("logger") == "http.log.access",
                "%s: access line was altered: status %r logger %r" % (name, j.get("status"),
                                                                     j.get("logger")))
        tls = j["request"].get("tls", {})
        for k in ("client_subject", "client_common_name"):
            v = tls.get(k, "")
            f.check(not re.search(r"[\x00-\x1f\x7f]", v),
                    "%s: %s logged with raw control characters: %r" % (name, k, v))
        if name == "unicode":
            f.check(UNICODE_CN in tls.get("client_subject", ""),
                    "unicode: logged subject %r" % tls.get("client_subject"))
        if name == "json-break":
            f.check('status' in tls.get("client_subject", "") and
                    "evil" in tls.get("client_subject", ""),
                    "json-break: subject not kept as text: %r" % tls.get("client_subject"))
    # refused handshakes (rav listener, an untrusted issuer would do too) are logged as JSON
    for name in CASES:
        ctx = L.client_context(ST["chains"][name], ST["key"].path)
        try:
            L.raw_exchange(ST["rav"], L.request_bytes(path="/x"), ctx=ctx, wait_close=0)
        except (ssl.SSLError, OSError, L.Closed):
            pass
    A.check_log_lines(f, srv, "after handshakes on the verifying listener:")
    f.done()


def test_log_lines_stay_utf8_with_raw_request_bytes():
    """The request target is logged too: invalid UTF-8 there (overlong forms, surrogates,
    code points above U+10FFFF, stray bytes) must come out as U+FFFD or escapes, so that the
    access line stays valid UTF-8 JSON (Go's encoder and zap write \ufffd)."""
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    c, k = ST["pki"].client("basic")
    targets = [b"/ovl\xe0\x80\xaf", b"/ovl2\xc0\xaf", b"/sur\xed\xa0\x80", b"/big\xf4\x90\x80\x80",
               b"/f5\xf5\x80\x80\x80", b"/cut\xe6\x97", b"/bad\xff", b"/ok\xc3\xa9"]
    for t in targets:
        try:
            L.raw_exchange(ST["rav"], b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % t,
                           cert=c, key=k, wait_close=0)
        except (ssl.SSLError, OSError, L.Closed):
            pass
    L.wait_until(lambda: len(A.access_lines(srv.proc.json_lines())) >= len(targets), 3)
    objs = A.check_log_lines(f, srv, "request target with raw bytes:")
    uris = [j["request"].get("uri") for j in A.access_lines(objs)]
    f.check("/ok\u00e9" in uris, "valid UTF-8 in the target not logged as such: %r" % uris)
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
