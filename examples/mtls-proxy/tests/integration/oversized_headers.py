#!/usr/bin/env python3
"""oversized_headers.py MTLS_PROXY PKIDIR - limits on the request head: a head larger than
max_header_bytes -> 431 (and close), too many header lines -> 431, an over-long request line ->
414 or 431, a multi-megabyte head on the default limit -> 431; nothing reaches the upstream, the
proxy stays up and serves the next client. A head under the limit passes."""
import proxylib as L

ST = {}


def setup():
    pki = L.PKI()
    up = L.Upstream()
    p_small, p_default = L.free_ports(2)
    pol = [L.policy(mode="require_and_verify", trust=pki.path("root-ca.pem"))]
    cfg = L.config({
        "small": L.server(p_small, [L.route(L.reverse_proxy(up))], pol,
                          max_header_bytes=16384),
        "default": L.server(p_default, [L.route(L.reverse_proxy(up))], pol),
    }, pki)
    ST.update(pki=pki, up=up, small=p_small, default=p_default, cfg=cfg)


def send(port, data, wait_close=2.0):
    c, k = ST["pki"].client("basic")
    return L.raw_exchange(port, data, cert=c, key=k, wait_close=wait_close, timeout=15)


def still_serving(srv, f, port):
    rs, _ = send(port, L.request_bytes(path="/after"), wait_close=0)
    f.check(srv.proc.alive() and rs and rs[0].status == 200,
            "the proxy does not serve a normal request afterwards: %r" % rs)


def expect_refused(f, what, port, data, statuses=(431,)):
    path = data.split(b" ", 2)[1].decode("latin-1")[:60]
    try:
        rs, closed = send(port, data)
    except (OSError, L.Closed):
        rs, closed = [], True
    st = rs[0].status if rs else 0
    f.check(st in statuses, "%s: status %s, want %s" % (what, st or "none (closed)",
                                                        "/".join(map(str, statuses))))
    f.check(closed, "%s: connection not closed after the refusal" % what)
    f.check(not ST["up"].by_path(path.split("?")[0]),
            "%s: the request reached the upstream" % what)


def test_under_the_limit_passes():
    srv = L.start_server(ST["cfg"])
    rs, _ = send(ST["small"], L.request_bytes(path="/fits",
                                              headers=["X-Fill: " + "a" * 12000]), wait_close=0)
    assert rs and rs[0].status == 200, rs
    u = ST["up"].by_path("/fits")
    assert u and len(u[0].get("X-Fill")) == 12000
    rs, _ = send(ST["default"], L.request_bytes(path="/fits50",
                                                headers=["X-H%d: v" % i for i in range(50)]),
                 wait_close=0)
    assert rs and rs[0].status == 200, rs
    assert srv.proc.alive()


def test_head_over_max_header_bytes_is_431():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    expect_refused(f, "one 32 KiB header (max_header_bytes 16384)", ST["small"],
                   L.request_bytes(path="/big1", headers=["X-Big: " + "a" * 32768]))
    expect_refused(f, "300 headers of 100 bytes (max_header_bytes 16384)", ST["small"],
                   L.request_bytes(path="/big2",
                                   headers=["X-H%d: %s" % (i, "b" * 100) for i in range(300)]))
    still_serving(srv, f, ST["small"])
    f.done()


def test_too_many_headers_is_431():
    """10000 tiny header lines (~100 KB, under the 1 MiB default size limit): the count limit
    answers, not a crash or an upstream request with 10000 headers."""
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    expect_refused(f, "10000 header lines", ST["default"],
                   L.request_bytes(path="/many", headers=["X-%d: v" % i for i in range(10000)]))
    still_serving(srv, f, ST["default"])
    f.done()


def test_long_request_line():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    expect_refused(f, "64 KiB request target (max_header_bytes 16384)", ST["small"],
                   L.request_bytes(path="/long?" + "q" * 65536), statuses=(414, 431))
    still_serving(srv, f, ST["small"])
    f.done()


def test_huge_head_on_default_limit():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    rss0 = srv.proc.rss_kib()
    expect_refused(f, "4 MiB of headers (default limit)", ST["default"],
                   L.request_bytes(path="/huge", headers=["X-Huge-%d: %s" % (i, "h" * 4000)
                                                          for i in range(1024)]))
    expect_refused(f, "head without end (8 MiB, no blank line)", ST["default"],
                   b"GET /noend HTTP/1.1\r\nHost: localhost\r\n" +
                   b"X-Fill: " + b"z" * (8 << 20))
    still_serving(srv, f, ST["default"])
    rss1 = srv.proc.rss_kib()
    f.check(rss1 < rss0 + 32 * 1024, "RSS grew from %d to %d KiB" % (rss0, rss1))
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
