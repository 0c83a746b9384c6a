#!/usr/bin/env python3
"""spoofed_identity_headers.py MTLS_PROXY PKIDIR - client-supplied copies of the headers the
proxy sets never reach the upstream (DESIGN.md sections 5 and 6).

One listener, two sites sharing the upstream:
  a.mtls.test  require_and_verify (root-ca); sets X-Client-Subject, adds X-Client-Fingerprint
               (both from client placeholders) and sets X-Static
  b.mtls.test  no client authentication, forwards nothing of its own
The client sends spoofed copies under the same name, in other cases, with '_' and '.' for '-'.
Site a must forward exactly one of each, with the real value; site b none at all (a header that
any route of the listener fills from a client placeholder is an identity header everywhere:
Caddy forwards the spoof there). X-Forwarded-For/-Proto/-Host are the proxy's own, as Caddy
2.6.2 sets them for an untrusted client."""
import proxylib as L

ST = {}
SPOOFS = [
    "X-Client-Subject: CN=admin",
    "x-client-subject: CN=admin-lower",
    "X-CLIENT-SUBJECT: CN=admin-upper",
    "X_Client_Subject: CN=admin-underscore",
    "x_client_subject: CN=admin-underscore-lower",
    "X.Client.Subject: CN=admin-dot",
    "X-Client_Subject: CN=admin-mixed",
    "X-Client-Fingerprint: 0000",
    "X_CLIENT_FINGERPRINT: 1111",
    "X-Static: spoofed",
    "X-Forwarded-For: 6.6.6.6",
    "X-Forwarded-Proto: http",
    "X-Forwarded-Host: evil.example",
    "X-Remove-Me: please",
]


def norm(name):
    return name.lower().replace("_", "-").replace(".", "-")


def setup():
    pki = L.PKI()
    up = L.Upstream()
    port = L.free_port()
    site_a = L.reverse_proxy(up, set={"X-Client-Subject": "{http.request.tls.client.subject}",
                                      "X-Static": "fixed"},
                             add={"X-Client-Fingerprint": "{http.request.tls.client.fingerprint}"},
                             delete=["X-Remove-Me"])
    site_b = L.reverse_proxy(up)
    cfg = L.config({"s": L.server(port, [L.route(site_a, hosts=["a.mtls.test"]),
                                         L.route(site_b, hosts=["b.mtls.test"])],
                                  [L.policy(sni="a.mtls.test", mode="require_and_verify",
                                            trust=pki.path("root-ca.pem")),
                                   {"match": {"sni": ["b.mtls.test"]}}])}, pki)
    ST.update(pki=pki, up=up, port=port, cfg=cfg)


def send(host, case, path, headers=SPOOFS):
    pki, up = ST["pki"], ST["up"]
    cert = key = None
    if case:
        cert, key = pki.client(case)
    r = L.curl(path, port=ST["port"], host=host, cert=cert, key=key, headers=list(headers))
    got = up.by_path(path)
    return r, got[-1] if got else None


def values(u, name):
    return [v.decode("utf-8", "replace") for k, v in u.headers if norm(k) == norm(name)]


def test_site_with_client_auth_forwards_only_real_identity():
    L.start_server(ST["cfg"])
    f = L.Failures()
    r, u = send("a.mtls.test", "basic", "/a1")
    assert r.status == 200 and u is not None, r
    f.check(values(u, "X-Client-Subject") == ["CN=basic client"],
            "X-Client-Subject and aliases at the upstream: %r" % values(u, "X-Client-Subject"))
    f.check(values(u, "X-Client-Fingerprint") == [ST["pki"].fingerprint("basic")],
            "X-Client-Fingerprint (add) and aliases at the upstream: %r" %
            values(u, "X-Client-Fingerprint"))
    f.check(values(u, "X-Static") == ["fixed"], "X-Static: %r" % values(u, "X-Static"))
    f.check(values(u, "X-Forwarded-For") == ["127.0.0.1"],
            "X-Forwarded-For: %r (the client's 6.6.6.6 must not survive)" %
            values(u, "X-Forwarded-For"))
    f.check(values(u, "X-Forwarded-Proto") == ["https"],
            "X-Forwarded-Proto: %r" % values(u, "X-Forwarded-Proto"))
    f.check(values(u, "X-Forwarded-Host") == ["a.mtls.test:%d" % ST["port"]],
            "X-Forwarded-Host: %r (want the Host the client sent)" %
            values(u, "X-Forwarded-Host"))
    f.check(u.get_all("X-Remove-Me") == [], "headers.request.delete: X-Remove-Me arrived")
    f.check(not any(b"admin" in v or b"6.6.6.6" in v or b"evil" in v for _, v in u.headers),
            "a spoofed value reached the upstream: %r" % u.headers)
    f.done()


def test_site_without_client_auth_strips_identity_headers():
    L.start_server(ST["cfg"])
    f = L.Failures()
    r, u = send("b.mtls.test", None, "/b1")
    assert r.status == 200 and u is not None, r
    for h in ("X-Client-Subject", "X-Client-Fingerprint"):
        f.check(values(u, h) == [], "%s (or an alias) reached the upstream of the public site: "
                                    "%r" % (h, values(u, h)))
    f.check(values(u, "X-Forwarded-For") == ["127.0.0.1"],
            "X-Forwarded-For: %r" % values(u, "X-Forwarded-For"))
    f.check(not any(b"admin" in v for _, v in u.headers),
            "a spoofed identity reached the upstream: %r" % u.headers)
    f.done()


def test_repeated_and_folded_spoofs():
    """Many copies, and copies before and after legitimate headers, all go."""
    L.start_server(ST["cfg"])
    hdrs = ["X-Client-Subject: CN=admin%d" % i for i in range(20)] + ["Accept: */*"] + \
        ["x_client_subject: CN=late%d" % i for i in range(5)]
    r, u = send("a.mtls.test", "basic", "/a2", hdrs)
    assert r.status == 200 and u is not None, r
    assert values(u, "X-Client-Subject") == ["CN=basic client"], values(u, "X-Client-Subject")
    r, u = send("b.mtls.test", None, "/b2", hdrs)
    assert r.status == 200 and u is not None, r
    assert values(u, "X-Client-Subject") == [], values(u, "X-Client-Subject")


def test_spoofs_over_keepalive_and_raw_bytes():
    """Raw requests on one TLS connection: every request of the connection is cleaned."""
    L.start_server(ST["cfg"])
    pki = ST["pki"]
    c, k = pki.client("basic")
    s = L.tls_connect(ST["port"], "a.mtls.test", c, k)
    try:
        rd = L.SockReader(s)
        for i in range(3):
            s.sendall(L.request_bytes(path="/ka%d" % i, host="a.mtls.test",
                                      headers=["X_Client_Subject: CN=root",
                                               "X-Client-Subject:CN=tight",
                                               "X-Client-Subject:   CN=padded   "]))
            resp = L.read_response(rd)
            assert resp.status == 200, resp
    finally:
        s.close()
    for i in range(3):
        u = ST["up"].by_path("/ka%d" % i)
        assert u and values(u[-1], "X-Client-Subject") == ["CN=basic client"], \
            (i, u and values(u[-1], "X-Client-Subject"))


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
