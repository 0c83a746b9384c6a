#!/usr/bin/env python3
"""half_close.py MTLS_PROXY PKIDIR - half-closed connections on both sides.

Client side (a TLS client over memory BIOs decides when close_notify goes out and when the
TCP write side is shut down):
  - request, then close_notify + SHUT_WR: the whole response still arrives (small, and 4 MB
    read slowly so it cannot sit in socket buffers), then the proxy closes;
  - request, then a bare TCP SHUT_WR (no close_notify): the same;
  - POST with its body, then SHUT_WR: the upstream gets the whole body, the response arrives;
  - SHUT_WR in the middle of a head or of a body: nothing complete reaches the upstream, and
    the proxy closes.
Upstream side (a scripted upstream):
  - Content-Length response cut in the middle by the upstream's SHUT_WR: the client sees the
    connection close promptly with fewer bytes than announced (never a hang, never a
    completed response);
  - chunked response cut in the middle: the client never receives a last chunk (a proxy that
    wrote "0\\r\\n\\r\\n" would make a truncated answer look complete);
  - close-delimited response then SHUT_WR: the whole body arrives, then the close;
  - SHUT_WR before any byte of a response: 502 promptly.
Each of these requests has its access-log line (a cut response is still a request)."""
import socket
import time

import attacklib as A

L = A.L
ST = {}
BIG = 4 * 1024 * 1024


def setup():
    pki = L.PKI()
    up = L.Upstream()
    port = L.free_port()
    cfg = L.config({"s": L.server(port, [L.route(L.reverse_proxy(up))],
                                  [L.policy(mode="require_and_verify",
                                            trust=pki.path("root-ca.pem"))],
                                  idle_timeout="10s")}, pki)
    ST.update(pki=pki, up=up, port=port, cfg=cfg)


def bio(port=None):
    c, k = ST["pki"].client("basic")
    return A.BioTLS(port or ST["port"], L.client_context(c, k))


def parse(raw):
    """(status, headers dict lower, body) of one response in raw bytes (body as framed by
    Content-Length, or the rest)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        st = int(lines[0].split(b" ")[1])
    except (IndexError, ValueError):
        return 0, {}, b""
    hd = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hd[k.strip().lower()] = v.strip()
    if b"content-length" in hd:
        body = body[:int(hd[b"content-length"])]
    return st, hd, body


def slow_read_all(t, limit_s=30):
    """Reads everything, pausing first so that the response cannot fit in socket buffers
    while the proxy sees our half-close."""
    time.sleep(1.0)
    return t.read_all(timeout=limit_s, limit=BIG + (1 << 20))


def test_close_notify_then_shut_wr():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for path, n in (("/status/200", None), ("/stream/%d" % BIG, BIG)):
        t = bio()
        try:
            t.send(b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode())
            t.close_notify()
            t.shut_wr()
            data, closed = slow_read_all(t)
        finally:
            t.close()
        st, hd, body = parse(data)
        f.check(st == 200, "close_notify+SHUT_WR after GET %s: status %d (%d bytes)" % (
            path, st, len(data)))
        if n is not None:
            f.check(len(body) == n, "close_notify+SHUT_WR: body %d of %d bytes" % (len(body),
                                                                               n))
        f.check(closed, "close_notify+SHUT_WR: the proxy kept the connection open")
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def test_bare_shut_wr():
    L.start_server(ST["cfg"])
    f = L.Failures()
    for path, n in (("/status/200", None), ("/stream/%d" % BIG, BIG)):
        t = bio()
        try:
            t.send(b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode())
            t.shut_wr()
            data, closed = slow_read_all(t)
        finally:
            t.close()
        st, hd, body = parse(data)
        f.check(st == 200, "bare SHUT_WR after GET %s: status %d (%d bytes)" % (path, st,
                                                                            len(data)))
        if n is not None:
            f.check(len(body) == n, "bare SHUT_WR: body %d of %d bytes" % (len(body), n))
        f.check(closed, "bare SHUT_WR: the proxy kept the connection open")
    f.done()


def test_post_then_shut_wr():
    L.start_server(ST["cfg"])
    f = L.Failures()
    body = b"b" * 200000
    t = bio()
    try:
        t.send(b"POST /count HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" %
               len(body) + body)
        t.close_notify()
        t.shut_wr()
        data, closed = t.read_all(timeout=10)
    finally:
        t.close()
    st, hd, resp = parse(data)
    f.check(st == 200 and b'"bytes": 200000' in resp, "POST then SHUT_WR: %d %r" % (st,
                                                                                 resp[:100]))
    f.check(ST["up"].counted[-1:] and ST["up"].counted[-1][0] == 200000,
            "upstream counted %r" % ST["up"].counted[-1:])
    f.done()


def test_shut_wr_mid_request():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    cases = [("mid-head", b"GET /mid-head HTTP/1.1\r\nHost: localhost\r\nX-A: 1"),
             ("mid-body", b"POST /mid-body HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
                          b"1000\r\n\r\n" + b"x" * 10),
             ("mid-chunk", b"POST /mid-chunk HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: "
                           b"chunked\r\n\r\n100\r\n" + b"y" * 10)]
    for what, data in cases:
        t = bio()
        t0 = time.monotonic()
        try:
            t.send(data)
            t.close_notify()
            t.shut_wr()
            got, closed = t.read_all(timeout=5)
        finally:
            t.close()
        st, _, _ = parse(got)
        path = data.split(b" ")[1].decode()
        done = [u for u in ST["up"].by_path(path) if getattr(u, "complete", False)]
        f.check(closed and time.monotonic() - t0 < 4, "%s: not closed promptly (%.1fs)" % (
            what, time.monotonic() - t0))
        f.check(st in (0, 400), "%s: answered %d" % (what, st))
        f.check(not done, "%s: a complete request reached the upstream" % what)
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def cut_upstream(kind):
    def handler(up, c, head, rest, idx):
        if kind == "cl":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"c" * 50000)
        elif kind == "chunked":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      b"4000\r\n" + b"k" * 0x4000 + b"\r\n" + b"4000\r\n" + b"k" * 100)
        elif kind == "close":
            c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"d" * 70000)
        elif kind == "nothing":
            pass
        c.shutdown(socket.SHUT_WR)
        c.settimeout(8)
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass
    return handler


def test_upstream_half_close_mid_response():
    pki = ST["pki"]
    f = L.Failures()
    c, k = pki.client("basic")
    for kind in ("cl", "chunked", "close", "nothing"):
        up = A.RawUpstream(cut_upstream(kind))
        port = L.free_port()
        cfg = L.config({"s": L.server(port, [L.route(L.reverse_proxy(up.dial))],
                                      [L.policy(mode="require_and_verify",
                                                trust=pki.path("root-ca.pem"))],
                                      idle_timeout="10s")}, pki)
        srv = L.start_server(cfg, name="cut-" + kind)
        s = L.tls_connect(port, "localhost", c, k)
        t0 = time.monotonic()
        try:
            s.sendall(L.request_bytes(path="/cut"))
            r = L.SockReader(s)
            s.settimeout(8)
            try:
                if kind == "nothing":     # a 502 keeps the connection (as Go does)
                    resp = L.read_response(r)
                    raw = resp.raw_head + b"\r\n\r\n" + resp.body
                else:
                    raw = r.rest()
            except (socket.timeout, L.Closed):
                raw = r.buf
            t = time.monotonic() - t0
        finally:
            s.close()
        st, hd, body = parse(raw)
        if kind == "cl":
            f.check(st == 200 and len(body) == 50000 and t < 3,
                    "CL response cut at 50000 of 100000: status %d, %d body bytes, closed "
                    "after %.1fs" % (st, len(body), t))
        elif kind == "chunked":
            f.check(st == 200 and not raw.endswith(b"0\r\n\r\n") and t < 3,
                    "chunked response cut: status %d, ends %r, closed after %.1fs" % (
                        st, raw[-12:], t))
        elif kind == "close":
            f.check(st == 200 and raw.endswith(b"d" * 100) and
                    raw.count(b"d") >= 70000 and t < 3,
                    "close-delimited response: status %d, %d bytes of body, %.1fs" % (
                        st, raw.count(b"d"), t))
            if b"transfer-encoding" in hd:
                f.check(raw.endswith(b"0\r\n\r\n"), "re-chunked but not terminated")
        else:
            f.check(st == 502 and t < 3, "upstream shut before answering: status %d after "
                                         "%.1fs" % (st, t))
        f.check(srv.proc.alive(), "%s: proxy died" % kind)
        objs = A.check_log_lines(f, srv, kind)
        f.check(L.wait_until(lambda: A.access_lines(srv.proc.json_lines()), 2),
                "upstream %s: no access line for the request (the client got status %d and "
                "%d bytes)" % (kind, st, len(raw)))
        objs = A.check_log_lines(f, srv, kind)
        L.log("    upstream %s: client got status %d, %d bytes, closed after %.2fs; access "
              "log status %r size %r" % (kind, st, len(raw), t,
                                         [j.get("status") for j in A.access_lines(objs)],
                                         [j.get("size") for j in A.access_lines(objs)]))
        srv.stop()
        up.close()
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
