#!/usr/bin/env python3
"""slow_handshake.py MTLS_PROXY PKIDIR - time limits and the connection limit.

mtls-proxy runs with --handshake-timeout 2 --max-connections 40 and read_header_timeout 2s,
idle_timeout 2s. A connection that sends nothing, half a ClientHello, or its ClientHello one
byte at a time is closed once the handshake time is up; a client that trickles its request
head is cut at read_header_timeout; an idle keep-alive connection at idle_timeout; while
stalled connections sit there, a normal client is served at once; connections beyond
--max-connections are not served and the proxy recovers when they go."""
import socket
import ssl
import time

import proxylib as L

ST = {}
HS = 2          # --handshake-timeout
SLACK = 3.0     # allowed lateness of a timeout


def setup():
    pki = L.PKI()
    up = L.Upstream()
    port = L.free_port()
    def cfg(idle):
        return L.config({"s": L.server(port, [L.route(L.reverse_proxy(up))],
                                       [L.policy(mode="require_and_verify",
                                                 trust=pki.path("root-ca.pem"))],
                                       read_header_timeout="2s", idle_timeout=idle)}, pki)
    # cfg_long_idle: the held connections of test_max_connections must outlive the time it
    # takes to open 40 of them (well over 2 s in a sanitizer build on a busy machine).
    ST.update(pki=pki, up=up, port=port, cfg=cfg("2s"), cfg_long_idle=cfg("60s"))


def start(extra=(), cfg="cfg"):
    return L.start_server(ST[cfg], args=["--handshake-timeout", str(HS)] + list(extra))


def client_hello():
    """The bytes of a real TLS ClientHello (from python's ssl over memory BIOs)."""
    ctx = L.client_context(*ST["pki"].client("basic"))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def tcp():
    return socket.create_connection(("127.0.0.1", ST["port"]), timeout=5)


def ok_request(path="/ok"):
    c, k = ST["pki"].client("basic")
    t0 = time.monotonic()
    r = L.curl(path, port=ST["port"], cert=c, key=k, timeout=10)
    return r, time.monotonic() - t0


def closed_between(s, lo, hi):
    """Closed by the server after more than lo and within hi seconds (from now)."""
    t0 = time.monotonic()
    if lo > 0 and L.closed_within(s, lo):
        return False, time.monotonic() - t0
    ok = L.closed_within(s, hi - (time.monotonic() - t0))
    return ok, time.monotonic() - t0


def test_silent_connection_closed():
    srv = start()
    s = tcp()
    try:
        ok, t = closed_between(s, 0.5, HS + SLACK)
        assert ok, "a connection that sent nothing was still open (or closed too early) " \
                   "after %.1fs (handshake timeout %ds)" % (t, HS)
    finally:
        s.close()
    assert srv.proc.alive()


def test_half_client_hello_closed():
    srv = start()
    ch = client_hello()
    s = tcp()
    try:
        s.sendall(ch[:len(ch) // 2])
        ok, t = closed_between(s, 0.5, HS + SLACK)
        assert ok, "half a ClientHello: still open after %.1fs" % t
    finally:
        s.close()
    assert srv.proc.alive()


def test_trickled_client_hello_closed():
    """One byte every 100 ms: each byte would reset a naive read timeout; the handshake
    deadline is absolute."""
    srv = start()
    ch = client_hello()
    s = tcp()
    t0 = time.monotonic()
    closed = False
    try:
        for b in ch:
            try:
                s.sendall(bytes([b]))
            except OSError:
                closed = True
                break
            if L.closed_within(s, 0.1):
                closed = True
                break
            if time.monotonic() - t0 > HS + SLACK:
                break
        t = time.monotonic() - t0
        assert closed, "trickled ClientHello (%d bytes): still open after %.1fs" % (len(ch), t)
        assert t <= HS + SLACK, t
    finally:
        s.close()
    assert srv.proc.alive()


def test_stalled_connections_do_not_block_others():
    srv = start()
    socks = []
    try:
        ch = client_hello()
        for i in range(30):
            s = tcp()
            if i % 2:
                s.sendall(ch[:20])
            socks.append(s)
        r, t = ok_request("/while-stalled")
        assert r.status == 200, r
        assert t < 2.0, "a normal request took %.1fs while 30 connections stalled" % t
    finally:
        for s in socks:
            s.close()
    assert srv.proc.alive()


def test_slow_request_head_cut_at_read_header_timeout():
    srv = start()
    c, k = ST["pki"].client("basic")
    s = L.tls_connect(ST["port"], "localhost", c, k)
    t0 = time.monotonic()
    try:
        s.sendall(b"GET /slowhead HTTP/1.1\r\nHost: localhost\r\n")
        closed = False
        for i in range(200):
            try:
                s.sendall(b"X-Slow-%d: y\r\n" % i)
            except (OSError, ssl.SSLError):
                closed = True
                break
            if L.closed_within(s, 0.3):
                closed = True
                break
            if time.monotonic() - t0 > 2 + SLACK:
                break
        t = time.monotonic() - t0
        assert closed, "request head trickled for %.1fs was not cut (read_header_timeout " \
                       "2s)" % t
        assert not ST["up"].by_path("/slowhead"), "the trickled request reached the upstream"
    finally:
        s.close()
    assert srv.proc.alive()


def test_idle_keepalive_closed_at_idle_timeout():
    srv = start()
    c, k = ST["pki"].client("basic")
    s = L.tls_connect(ST["port"], "localhost", c, k)
    try:
        s.sendall(L.request_bytes(path="/idle"))
        r = L.read_response(L.SockReader(s))
        assert r.status == 200, r
        ok, t = closed_between(s, 0.8, 2 + SLACK)
        assert ok, "idle keep-alive connection: not closed %.1fs after its last request " \
                   "(idle_timeout 2s)" % t
    finally:
        s.close()
    assert srv.proc.alive()


def test_max_connections():
    """--max-connections 40: with 40 connections held open, a 41st is not served; once they
    go, clients are served again."""
    srv = start(["--max-connections", "40", "--workers", "1"], cfg="cfg_long_idle")
    socks = []
    c, k = ST["pki"].client("basic")
    try:
        for i in range(40):
            s = L.tls_connect(ST["port"], "localhost", c, k)
            s.sendall(L.request_bytes(path="/hold%d" % i))
            L.read_response(L.SockReader(s))
            socks.append(s)
        served = True
        try:
            x = L.tls_connect(ST["port"], "localhost", c, k, timeout=1.5)
            x.sendall(L.request_bytes(path="/over"))
            r = L.read_response(L.SockReader(x))
            served = r.status == 200
            x.close()
        except (OSError, ssl.SSLError, L.Closed):
            served = False
        assert not served, "a 41st connection was served with --max-connections 40"
        assert not ST["up"].by_path("/over")
    finally:
        for s in socks:
            s.close()
    r = L.wait_until(lambda: ok_request("/after")[0].status == 200, timeout=8, interval=0.3)
    assert r, "not served again after the held connections closed"
    assert srv.proc.alive()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
