#!/usr/bin/env python3
"""modes_and_certs.py MTLS_PROXY PKIDIR - every client_auth mode and every certificate case of
the test PKI, with real curl and openssl s_client over 127.0.0.1.

Listeners: request, require, verify_if_given (trust root-ca) and require_and_verify with one
connection policy per trust file of the manifest, chosen by SNI t<N>.mtls.test (plus a policy
without match, trusting root-ca). Asserts the handshake verdicts (the manifest's accept/reject
under require_and_verify), the HTTP statuses, and the identity headers the upstream receives
(subject, fingerprint = SHA-256 of the leaf DER, decimal serial, issuer)."""
import re

import proxylib as L

ST = {}
IDH = {"X-Client-Subject": "{http.request.tls.client.subject}",
       "X-Client-Fingerprint": "{http.request.tls.client.fingerprint}",
       "X-Client-Serial": "{http.request.tls.client.serial}",
       "X-Client-Issuer": "{http.request.tls.client.issuer}",
       "X-Tls-Server-Name": "{http.request.tls.server_name}"}

EXPECT_SUBJECT = {
    "basic": "CN=basic client",
    "untrusted-ca": "CN=client of the untrusted CA",
    "expired": "CN=expired client",
    "eku-server": "CN=serverAuth only client",
    "self-signed": "CN=self-signed client",
    "via-int-sent": "CN=client via intermediate",
    "tutorial-v1": "CN=alice",
    "san": "CN=alice,O=Example Org",
}


def setup():
    pki = L.PKI()
    up = L.Upstream()
    ports = L.free_ports(4)
    rp = L.reverse_proxy(up, set=IDH)
    trusts = pki.trusts()
    rav = [L.policy(sni="t%d.mtls.test" % j, mode="require_and_verify", trust=pki.path(t))
           for j, t in enumerate(trusts)]
    rav.append(L.policy(mode="require_and_verify", trust=pki.path("root-ca.pem")))
    cfg = L.config({
        "request": L.server(ports[0], [L.route(rp)], [L.policy(mode="request")]),
        "require": L.server(ports[1], [L.route(rp)], [L.policy(mode="require")]),
        "vig": L.server(ports[2], [L.route(rp)],
                        [L.policy(mode="verify_if_given", trust=pki.path("root-ca.pem"))]),
        "rav": L.server(ports[3], [L.route(rp)], rav),
    }, pki)
    ST.update(pki=pki, up=up, ports=dict(zip(["request", "require", "vig", "rav"], ports)),
              trusts=trusts, cfg=cfg)


def start():
    ST["srv"] = L.start_server(ST["cfg"], args=["--workers", "2"])
    return ST["srv"]


_n = [0]


def get(listener, case=None, host="localhost"):
    """curl GET through the listener with the client certificate of `case` (None: none).
    Returns (CurlResult, upstream request or None)."""
    pki, up = ST["pki"], ST["up"]
    _n[0] += 1
    path = "/%s/%s/%d" % (listener, case or "none", _n[0])
    cert = key = None
    if case:
        cert, key = pki.client(case)
    r = L.curl(path, port=ST["ports"][listener], host=host, cert=cert, key=key)
    ups = up.by_path(path)
    return r, (ups[-1] if ups else None)


def ident(u, name):
    v = u.get(name)
    return None if v is None else v.decode("utf-8", "surrogateescape")


def check_accepted(f, what, r, u, case):
    pki = ST["pki"]
    if not f.check(r.status == 200 and u is not None,
                   "%s: want 200 through to the upstream, got %r" % (what, r)):
        return
    if case is None:
        for h in IDH:
            if h == "X-Tls-Server-Name":
                continue
            f.check(u.get(h) in (None, b""), "%s: no certificate but %s = %r" % (what, h,
                                                                                 u.get(h)))
        return
    fp = pki.fingerprint(case)
    f.check(ident(u, "X-Client-Fingerprint") == fp,
            "%s: fingerprint %r, want %s" % (what, ident(u, "X-Client-Fingerprint"), fp))
    f.check(ident(u, "X-Client-Serial") == pki.serial_decimal(case),
            "%s: serial %r, want %s" % (what, ident(u, "X-Client-Serial"),
                                        pki.serial_decimal(case)))
    if case in EXPECT_SUBJECT:
        f.check(ident(u, "X-Client-Subject") == EXPECT_SUBJECT[case],
                "%s: subject %r, want %r" % (what, ident(u, "X-Client-Subject"),
                                             EXPECT_SUBJECT[case]))
    else:
        f.check(bool(u.get("X-Client-Subject")), "%s: empty subject" % what)
    f.check(bool(u.get("X-Client-Issuer")), "%s: empty issuer" % what)


def check_refused(f, what, r, u):
    f.check(r.status == 0 and r.rc != 0 and u is None,
            "%s: want the handshake refused (no HTTP answer, nothing upstream), got %r%s" % (
                what, r, " and the upstream got " + u.request_line if u else ""))


def test_request_mode():
    start()
    f = L.Failures()
    r, u = get("request")
    check_accepted(f, "request/no cert", r, u, None)
    for case in ("basic", "untrusted-ca", "expired", "self-signed", "eku-server", "rsa2048",
                 "ed25519"):
        r, u = get("request", case)
        check_accepted(f, "request/" + case, r, u, case)
    f.done()


def test_require_mode():
    start()
    f = L.Failures()
    r, u = get("require")
    check_refused(f, "require/no cert", r, u)
    for case in ("basic", "untrusted-ca", "expired", "not-yet-valid", "eku-server", "p521"):
        r, u = get("require", case)
        check_accepted(f, "require/" + case, r, u, case)
    f.done()


def test_verify_if_given_mode():
    start()
    f = L.Failures()
    r, u = get("vig")
    check_accepted(f, "verify_if_given/no cert", r, u, None)
    for case in ("basic", "eku-none", "via-int-sent"):
        r, u = get("vig", case)
        check_accepted(f, "verify_if_given/" + case, r, u, case)
    for case in ("untrusted-ca", "expired", "not-yet-valid", "eku-server", "self-signed",
                 "via-int-not-sent"):
        r, u = get("vig", case)
        check_refused(f, "verify_if_given/" + case, r, u)
    f.done()


def test_require_and_verify_every_case():
    """Every manifest case under require_and_verify with its own trust file (SNI-chosen
    policy): accepted or refused as the manifest (and Caddy 2.6.2) says."""
    start()
    pki = ST["pki"]
    f = L.Failures()
    nacc = nrej = 0
    for row in pki.rows:
        sni = "t%d.mtls.test" % ST["trusts"].index(row["trust"])
        r, u = get("rav", row["name"], host=sni)
        what = "require_and_verify/%s (trust %s)" % (row["name"], row["trust"])
        if row["expect"] == "accept":
            nacc += 1
            check_accepted(f, what, r, u, row["name"])
            if u is not None:
                f.check(ident(u, "X-Tls-Server-Name") == sni,
                        "%s: server_name %r" % (what, ident(u, "X-Tls-Server-Name")))
        else:
            nrej += 1
            check_refused(f, what + " [" + row["reason"] + "]", r, u)
    r, u = get("rav", None, host="t0.mtls.test")
    check_refused(f, "require_and_verify/no cert", r, u)
    # the policy without match (localhost): root-ca
    r, u = get("rav", "basic")
    check_accepted(f, "require_and_verify/basic via the catch-all policy", r, u, "basic")
    r, u = get("rav", "tutorial-v1")
    check_refused(f, "require_and_verify/tutorial-v1 under root-ca only", r, u)
    L.log("    %d accepted and %d refused as the manifest says" % (nacc, nrej))
    assert nacc > 10 and nrej > 10
    f.done()


def test_openssl_s_client():
    srv = start()
    pki = ST["pki"]
    f = L.Failures()
    port = ST["ports"]["rav"]
    req = b"GET /s_client HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    # (status lines are searched anywhere: s_client prints late session tickets into the
    # middle of the response text)
    for ver in ("-tls1_2", "-tls1_3"):
        c, k = pki.client("basic")
        ST["up"].clear()
        rc, out, err = L.s_client(port, cert=c, key=k, send=req, extra=[ver])
        text = out.decode("utf-8", "replace")
        f.check(re.search(r"HTTP/1\.1 200 ", text) is not None,
                "s_client %s basic: no HTTP/1.1 200 (rc %d): %s" % (ver, rc, err[-500:]))
        f.check("Verify return code: 0 (ok)" in text,
                "s_client %s: server certificate did not verify against server-ca.pem" % ver)
        f.check("Test Root CA" in text.split("Acceptable client certificate CA names")[-1][:400]
                if "Acceptable client certificate CA names" in text else False,
                "s_client %s: CertificateRequest does not name the trusted CA" % ver)
        up = ST["up"].by_path("/s_client")
        f.check(len(up) == 1 and up[0].get("X-Client-Subject") == b"CN=basic client",
                "s_client %s basic: upstream got %r" % (ver, [(x.request_line,
                                                                x.get("X-Client-Subject"))
                                                               for x in up]))
        for case in ("expired", "untrusted-ca", "eku-server"):
            c, k = pki.client(case)
            ST["up"].clear()
            rc, out, err = L.s_client(port, cert=c, key=k, send=req, extra=[ver])
            text = out.decode("utf-8", "replace")
            f.check(not re.search(r"HTTP/1\.1 \d{3} ", text) and not ST["up"].requests,
                    "s_client %s %s: got an HTTP answer / reached the upstream" % (ver, case))
            # a TLS alert, or (when the client's request races the server's close) a reset
            f.check(re.search(r"alert|error|errno=10[47]", err, re.I) is not None,
                    "s_client %s %s: no TLS alert, error or reset reported: %s" % (
                        ver, case, err[-300:]))
        ST["up"].clear()
        rc, out, err = L.s_client(port, send=req, extra=[ver])
        f.check(not re.search(r"HTTP/1\.1 \d{3} ", out.decode("utf-8", "replace"))
                and not ST["up"].requests,
                "s_client %s without certificate: got an answer from require_and_verify" % ver)
    f.check(srv.proc.alive(), "proxy died")
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
