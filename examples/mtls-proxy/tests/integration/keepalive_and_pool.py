#!/usr/bin/env python3
"""keepalive_and_pool.py MTLS_PROXY PKIDIR - HTTP/1.1 connection handling on both sides.

Many requests on one client connection; upstream connections pooled and reused (across
requests and across client connections); pipelined requests answered in order; bodies framed
correctly between keep-alive requests (POST then GET, HEAD, 204); Connection: close from the
client and from the upstream; HTTP/1.0."""
import proxylib as L

ST = {}


def setup():
    L.standard_setup(ST)


def conn():
    c, k = ST["pki"].client("basic")
    return L.tls_connect(ST["port"], "localhost", c, k)


def start():
    srv = L.start_server(ST["cfg"], args=["--workers", "2"])
    ST["up"].clear()
    return srv


def test_many_requests_one_connection_and_pool():
    start()
    up = ST["up"]
    c0 = up.conns
    s = conn()
    try:
        rd = L.SockReader(s)
        for i in range(30):
            s.sendall(L.request_bytes(path="/ka/%d" % i))
            r = L.read_response(rd)
            assert r.status == 200 and b"GET /ka/%d " % i in r.body, (i, r)
    finally:
        s.close()
    used = up.conns - c0
    assert used <= 2, "30 sequential requests used %d upstream connections (no pooling)" % used
    # across client connections
    c1 = up.conns
    for j in range(8):
        s = conn()
        try:
            rd = L.SockReader(s)
            for i in range(3):
                s.sendall(L.request_bytes(path="/kb/%d/%d" % (j, i)))
                assert L.read_response(rd).status == 200
        finally:
            s.close()
    used = up.conns - c1
    assert used <= 4, "8 client connections x 3 requests used %d upstream connections" % used


def test_pipelined_requests_in_order():
    start()
    s = conn()
    try:
        s.sendall(b"".join(L.request_bytes(path="/pipe/%d" % i) for i in range(5)))
        rd = L.SockReader(s)
        for i in range(5):
            r = L.read_response(rd)
            assert r.status == 200 and b"GET /pipe/%d " % i in r.body, \
                "pipelined response %d: %r %r" % (i, r, r.body[:40])
    finally:
        s.close()


def test_body_framing_between_requests():
    start()
    s = conn()
    try:
        rd = L.SockReader(s)
        s.sendall(L.request_bytes("POST", "/count", body=b"a" * 100000))
        r = L.read_response(rd)
        assert r.status == 200 and b'"bytes": 100000' in r.body, r.body
        s.sendall(b"POST /count HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
        r = L.read_response(rd)
        assert r.status == 200 and b'"bytes": 7' in r.body, r.body
        s.sendall(L.request_bytes("HEAD", "/head"))
        r = L.read_response(rd, head_request=True)
        assert r.status == 200 and r.body == b"", r
        s.sendall(L.request_bytes(path="/status/204"))
        r = L.read_response(rd)
        assert r.status == 204, r
        s.sendall(L.request_bytes(path="/stream/70000?chunked=1"))
        r = L.read_response(rd)
        assert r.status == 200 and len(r.body) == 70000, (r, len(r.body))
        s.sendall(L.request_bytes(path="/last"))
        r = L.read_response(rd)
        assert r.status == 200 and b"GET /last " in r.body, r.body[:60]
    finally:
        s.close()
    assert [u.path for u in ST["up"].requests][-1] == "/last"


def test_connection_close_from_client_and_upstream():
    start()
    c, k = ST["pki"].client("basic")
    rs, closed = L.raw_exchange(ST["port"], L.request_bytes(path="/cc",
                                                            headers=["Connection: close"]),
                                cert=c, key=k)
    assert rs and rs[0].status == 200, rs
    assert closed, "Connection: close from the client: connection left open"
    # upstream says close: the proxy's answer is complete; the client connection either stays
    # usable or the answer announces Connection: close
    s = conn()
    kept = 0
    try:
        rd = L.SockReader(s)
        for path in ("/close-after", "/after-close", "/close-after", "/after-close2"):
            s.sendall(L.request_bytes(path=path))
            try:
                r = L.read_response(rd)
            except L.Closed:
                raise AssertionError("%s: connection closed without an answer" % path)
            assert r.status == 200, (path, r)
            if (r.header("Connection") or "").lower() == "close":
                s.close()
                s = conn()
                rd = L.SockReader(s)
            else:
                kept += 1
    finally:
        s.close()
    if kept < 4:
        L.log("    note: %d of 4 answers ended the client connection (Connection: close) after "
              "the upstream closed its side" % (4 - kept))


def test_http10_client():
    start()
    c, k = ST["pki"].client("basic")
    rs, closed = L.raw_exchange(ST["port"], b"GET /h10 HTTP/1.0\r\nHost: localhost\r\n\r\n",
                                cert=c, key=k)
    assert rs and rs[0].status == 200, rs
    assert closed, "HTTP/1.0 request without keep-alive: connection left open"


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
