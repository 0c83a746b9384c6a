#!/usr/bin/env python3
"""sni_host_mismatch.py MTLS_PROXY PKIDIR - Host must equal the TLS SNI on a listener with a
client-auth policy (Caddy's strict_sni_host, on by default with client auth): 421 otherwise,
also for a handshake without SNI, for an absolute-form request target and for a later request
on a keep-alive connection; nothing reaches the upstream. A listener without client auth lets
the mismatch through unless strict_sni_host is set. A Host without a route gets 404."""
import proxylib as L

ST = {}


def setup():
    pki = L.PKI()
    up = L.Upstream()
    p_auth, p_open, p_strict = L.free_ports(3)
    rp = L.reverse_proxy(up, set={"X-Client-Subject": "{http.request.tls.client.subject}"})
    routes = [L.route(rp, hosts=["a.mtls.test", "b.mtls.test", "localhost", "127.0.0.1"])]
    cfg = L.config({
        "auth": L.server(p_auth, routes, [L.policy(sni="b.mtls.test"),
                                          L.policy(mode="require_and_verify",
                                                   trust=pki.path("root-ca.pem"))]),
        "open": L.server(p_open, routes),
        "strict": L.server(p_strict, routes, strict_sni_host=True),
    }, pki)
    ST.update(pki=pki, up=up, auth=p_auth, open=p_open, strict=p_strict, cfg=cfg)


def raw(port, sni, data, cert=True, nresp=1, wait_close=0):
    c = k = None
    if cert:
        c, k = ST["pki"].client("basic")
    ctx = L.client_context(c, k, verify=False) if sni is None else None
    return L.raw_exchange(port, data, sni=sni, cert=c, key=k, ctx=ctx, nresp=nresp,
                          wait_close=wait_close)


def status(port, sni, host, path, cert=True, target=None):
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (target or path, host)).encode()
    rs, _ = raw(port, sni, req, cert)
    return rs[0].status if rs else 0


def reached(path):
    return bool(ST["up"].by_path(path))


def test_matching_host_passes():
    L.start_server(ST["cfg"])
    p = ST["auth"]
    f = L.Failures()
    for i, host in enumerate(["a.mtls.test", "a.mtls.test:%d" % p, "A.MTLS.TEST",
                              "A.Mtls.Test:%d" % p]):
        st = status(p, "a.mtls.test", host, "/ok%d" % i)
        f.check(st == 200 and reached("/ok%d" % i), "SNI a.mtls.test, Host %s: %d" % (host, st))
    f.done()


def test_mismatch_is_421():
    L.start_server(ST["cfg"])
    p = ST["auth"]
    f = L.Failures()
    for i, (sni, host) in enumerate([("a.mtls.test", "b.mtls.test"),
                                     ("a.mtls.test", "b.mtls.test:%d" % p),
                                     ("a.mtls.test", "localhost"),
                                     ("localhost", "a.mtls.test"),
                                     ("a.mtls.test", "a.mtls.test.evil"),
                                     ("a.mtls.test", "xa.mtls.test")]):
        path = "/mm%d" % i
        st = status(p, sni, host, path)
        f.check(st == 421 and not reached(path),
                "SNI %s, Host %s: status %d, upstream reached: %s" % (sni, host, st,
                                                                      reached(path)))
    # SNI b.mtls.test picks the policy without client auth: a Host of the client-auth site
    # must not be reachable through it either
    st = status(p, "b.mtls.test", "a.mtls.test", "/mm-b", cert=False)
    f.check(st == 421 and not reached("/mm-b"),
            "SNI b.mtls.test (no client auth), Host a.mtls.test: %d" % st)
    f.done()


def test_no_sni_is_421():
    """A handshake without SNI (client dialled the IP) must not bypass the check."""
    L.start_server(ST["cfg"])
    p = ST["auth"]
    f = L.Failures()
    for i, host in enumerate(["localhost", "a.mtls.test", "127.0.0.1"]):
        path = "/nosni%d" % i
        st = status(p, None, host, path)
        f.check(st == 421 and not reached(path), "no SNI, Host %s: status %d" % (host, st))
    f.done()


def test_absolute_form_and_keepalive():
    L.start_server(ST["cfg"])
    p = ST["auth"]
    f = L.Failures()
    st = status(p, "a.mtls.test", "a.mtls.test", "/abs",
                target="https://b.mtls.test:%d/abs" % p)
    got = [u.request_line for u in ST["up"].requests if "/abs" in u.target]
    f.check(st in (400, 421) and not got,
            "absolute-form target https://b.mtls.test/abs with Host a.mtls.test (SNI a): status "
            "%d, upstream got %r (RFC 9112 3.2.2: the target's authority is the host; Caddy "
            "answers 421)" % (st, got))
    # first request fine, second on the same connection names another host
    req = (b"GET /ka1 HTTP/1.1\r\nHost: a.mtls.test\r\n\r\n"
           b"GET /ka2 HTTP/1.1\r\nHost: b.mtls.test\r\n\r\n")
    rs, _ = raw(p, "a.mtls.test", req, nresp=2)
    sts = [r.status for r in rs]
    f.check(len(sts) >= 1 and sts[0] == 200, "keep-alive first request: %r" % sts)
    f.check((len(sts) == 2 and sts[1] == 421) or len(sts) == 1,
            "keep-alive second request with another Host: %r" % sts)
    f.check(not reached("/ka2"), "second request with another Host reached the upstream")
    f.done()


def test_listener_without_client_auth():
    L.start_server(ST["cfg"])
    f = L.Failures()
    st = status(ST["open"], "a.mtls.test", "b.mtls.test", "/open", cert=False)
    f.check(st == 200 and reached("/open"),
            "no client auth, no strict_sni_host: mismatch should pass, got %d" % st)
    st = status(ST["strict"], "a.mtls.test", "b.mtls.test", "/strict", cert=False)
    f.check(st == 421 and not reached("/strict"),
            "strict_sni_host true without client auth: want 421, got %d" % st)
    st = status(ST["strict"], "a.mtls.test", "a.mtls.test", "/strict-ok", cert=False)
    f.check(st == 200, "strict_sni_host true, matching Host: %d" % st)
    f.done()


def test_unmatched_host_is_404():
    """No route for the Host: 404 and nothing upstream (deliberate: Caddy answers an empty
    200)."""
    L.start_server(ST["cfg"])
    f = L.Failures()
    st = status(ST["open"], "c.mtls.test", "c.mtls.test", "/nohost", cert=False)
    f.check(st == 404 and not reached("/nohost"), "Host c.mtls.test without a route: %d" % st)
    st = status(ST["auth"], "c.mtls.test", "c.mtls.test", "/nohost2")
    f.check(st == 404 and not reached("/nohost2"),
            "Host c.mtls.test without a route (client-auth listener, SNI = Host): %d" % st)
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
