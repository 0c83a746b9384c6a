#!/usr/bin/env python3
"""upstream_down_and_timeout.py MTLS_PROXY PKIDIR - the upstream side failing.

No upstream listening -> 502 (within dial_timeout); an upstream that closes without answering
or answers garbage -> 502; an upstream slower than response_header_timeout -> 504 in time;
several upstreams of which some refuse -> every request served by a live one (round robin
skipping refusers); two live upstreams share the load. The proxy stays up and the client's
keep-alive connection stays usable after a 502/504."""
import time

import proxylib as L

ST = {}
TR = {"dial_timeout": "1s", "response_header_timeout": "1s"}


def setup():
    pki = L.PKI()
    up, up2 = L.Upstream("up1"), L.Upstream("up2")
    dead1, dead2 = L.free_ports(2)
    p_one, p_dead, p_mixed, p_two = L.free_ports(4)
    pol = [L.policy(mode="require_and_verify", trust=pki.path("root-ca.pem"))]

    def srv(port, *ups):
        return L.server(port, [L.route(L.reverse_proxy(*ups, transport=TR))], pol)

    cfg = L.config({
        "one": srv(p_one, up),
        "dead": srv(p_dead, "127.0.0.1:%d" % dead1),
        "mixed": srv(p_mixed, "127.0.0.1:%d" % dead1, up, "127.0.0.1:%d" % dead2),
        "two": srv(p_two, up, up2),
    }, pki)
    ST.update(pki=pki, up=up, up2=up2, one=p_one, dead=p_dead, mixed=p_mixed, two=p_two,
              cfg=cfg)


def get(port, path):
    c, k = ST["pki"].client("basic")
    t0 = time.monotonic()
    r = L.curl(path, port=port, cert=c, key=k, timeout=15)
    return r, time.monotonic() - t0


def test_no_upstream_is_502():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for i in range(3):
        r, t = get(ST["dead"], "/dead%d" % i)
        f.check(r.status == 502, "upstream down: status %d (%r)" % (r.status, r))
        f.check(t < 4, "upstream down: answer took %.1fs (dial_timeout 1s)" % t)
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def test_upstream_closes_or_answers_garbage_is_502():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for path in ("/close", "/garbage"):
        r, t = get(ST["one"], path)
        f.check(r.status == 502, "%s: status %d, want 502" % (path, r.status))
    r, _ = get(ST["one"], "/fine")
    f.check(r.status == 200, "next request after the 502s: %d" % r.status)
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def test_slow_upstream_is_504():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    r, t = get(ST["one"], "/slow/6")
    f.check(r.status == 504, "upstream slower than response_header_timeout: status %d" %
            r.status)
    f.check(0.8 <= t < 4, "504 after %.1fs (response_header_timeout 1s)" % t)
    r, t = get(ST["one"], "/slow/0.2")
    f.check(r.status == 200, "upstream within the timeout: %d" % r.status)
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def test_keepalive_after_502_and_504():
    """After a 502/504 the client connection either stays usable or the answer announced
    Connection: close (then the client reconnects); never a silent close."""
    L.start_server(ST["cfg"])
    c, k = ST["pki"].client("basic")
    s = L.tls_connect(ST["one"], "localhost", c, k, timeout=15)
    sts, notes = [], []
    try:
        rd = L.SockReader(s)
        for path in ("/a", "/close", "/slow/5", "/b"):
            s.sendall(L.request_bytes(path=path))
            r = L.read_response(rd)
            sts.append(r.status)
            if (r.header("Connection") or "").lower() == "close":
                notes.append("%s: Connection: close" % path)
                assert L.closed_within(s, 3), "%s: announced close but kept open" % path
                s.close()
                s = L.tls_connect(ST["one"], "localhost", c, k, timeout=15)
                rd = L.SockReader(s)
    except L.Closed:
        raise AssertionError("connection closed without Connection: close after %r" % sts)
    finally:
        s.close()
    if notes:
        L.log("    " + "; ".join(notes))
    assert sts == [200, 502, 504, 200], "statuses: %r" % sts


def test_refusing_upstreams_are_skipped():
    srv = L.start_server(ST["cfg"])
    bad = []
    for i in range(12):
        r, _ = get(ST["mixed"], "/mixed%d" % i)
        if r.status != 200:
            bad.append((i, r.status))
    assert not bad, "with 1 live and 2 refusing upstreams, failed requests: %r" % bad
    assert len([u for u in ST["up"].requests if u.path.startswith("/mixed")]) == 12
    assert srv.proc.alive()


def test_two_live_upstreams_share_requests():
    L.start_server(ST["cfg"])
    ST["up"].clear()
    ST["up2"].clear()
    for i in range(10):
        r, _ = get(ST["two"], "/rr%d" % i)
        assert r.status == 200, r
    n1, n2 = len(ST["up"].requests), len(ST["up2"].requests)
    assert n1 + n2 == 10 and n1 >= 3 and n2 >= 3, \
        "requests per upstream: %d and %d (want both used)" % (n1, n2)


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
