#!/usr/bin/env python3
"""smuggling_shapes.py MTLS_PROXY PKIDIR - request and response framing shapes beyond
integration/request_smuggling.py (which has CL+TE both orders, a differing duplicate CL, a CL
list, chunk-size junk / not hex / 22-digit overflow / negative / too long data, bare LF, space
or tab before a colon, a control byte in a chunk extension, unknown transfer codings).

Requests (each followed by a hidden "GET /smuggled"): Content-Length with a sign, hex, junk,
inner space, empty, 20+ digits, differing duplicates on separate lines; Transfer-Encoding
"chunked" with a vertical tab, with parameters, twice with one empty, with HTTP/1.0; chunk
sizes "0x5", a 17-digit size that wraps a 64-bit counter to 5, 2^64-1, leading space, empty,
missing CRLF after the data, bare LF after the size, a quoted extension holding CRLF;
malformed request lines. Each one: 400 (or 501/505) and close, the hidden request never
reaches the upstream. Valid odd shapes (CL "005", hex digits in upper case, "0000" as last
chunk, a chunked body with trailers) are framed the way the upstream frames them.
Responses: an upstream that sends bytes after a complete response (pool poisoning), and one
that sends Content-Length with Transfer-Encoding: the next client must never get those bytes."""
import socket
import time

import attacklib as A

L = A.L
ST = {}
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"


def setup():
    L.standard_setup(ST)


def send(data, nresp=2, port=None, timeout=3.0, wait_close=1.0):
    """Sends raw bytes on a new TLS connection; reads up to nresp responses. Returns
    (responses, closed): closed is True only when the proxy closed the connection (a
    silent proxy that keeps it open is not "closed")."""
    c, k = ST["pki"].client("basic")
    try:
        s = L.tls_connect(port or ST["port"], "localhost", c, k, timeout=timeout)
    except OSError:
        return [], True
    out = []
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        r = L.SockReader(s)
        for _ in range(nresp):
            out.append(L.read_response(r))
        if not wait_close:
            return out, False
        s.settimeout(wait_close)
        r.rest()
        return out, True
    except L.Closed:
        return out, True
    except (socket.timeout, TimeoutError):
        return out, False
    except OSError:
        return out, True
    finally:
        s.close()


def post(path, headers, body):
    return b"POST %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n%s" % (path, headers, body)


CL = b"hello" + SMUGGLED
BAD = [
    ("CL +5", post(b"/cl-plus", b"Content-Length: +5\r\n", CL)),
    ("CL -5", post(b"/cl-minus", b"Content-Length: -5\r\n", CL)),
    ("CL 0x5", post(b"/cl-hex", b"Content-Length: 0x5\r\n", CL)),
    ("CL 5abc", post(b"/cl-junk", b"Content-Length: 5abc\r\n", CL)),
    ("CL 5 5", post(b"/cl-space", b"Content-Length: 5 5\r\n", CL)),
    ("CL empty", post(b"/cl-empty", b"Content-Length: \r\n", CL)),
    ("CL 1e1", post(b"/cl-exp", b"Content-Length: 1e1\r\n", CL)),
    ("CL 20 digits", post(b"/cl-huge", b"Content-Length: 18446744073709551621\r\n", CL)),
    ("CL 30 digits", post(b"/cl-huge2", b"Content-Length: 100000000000000000000000000005\r\n",
                          CL)),
    ("CL 5 / CL 6 on two lines", post(b"/cl-dup", b"Content-Length: 5\r\nContent-Length: 6\r\n",
                                      CL)),
    ("CL 5 then CL 05 then CL 6", post(b"/cl-dup2", b"Content-Length: 5\r\nContent-Length: 05"
                                       b"\r\nContent-Length: 6\r\n", CL)),
    ("CL with VT", post(b"/cl-vt", b"Content-Length: 5\x0b\r\n", CL)),
    ("TE chunked + VT", post(b"/te-vt", b"Transfer-Encoding: chunked\x0b\r\n",
                             b"0\r\n\r\n" + SMUGGLED)),
    ("TE chunked;q=1", post(b"/te-param", b"Transfer-Encoding: chunked;q=1\r\n",
                            b"0\r\n\r\n" + SMUGGLED)),
    ("TE x-chunked", post(b"/te-x", b"Transfer-Encoding: x-chunked\r\n", b"0\r\n\r\n" +
                          SMUGGLED)),
    ("TE chunked twice", post(b"/te-twice", b"Transfer-Encoding: chunked, chunked\r\n",
                              b"0\r\n\r\n" + SMUGGLED)),
    ("TE chunked + empty TE", post(b"/te-empty", b"Transfer-Encoding: chunked\r\n"
                                   b"Transfer-Encoding: \r\n", b"0\r\n\r\n" + SMUGGLED)),
    ("TE quoted", post(b"/te-quoted", b'Transfer-Encoding: "chunked"\r\n', b"0\r\n\r\n" +
                       SMUGGLED)),
    ("chunk size 0x5", post(b"/ch-0x", b"Transfer-Encoding: chunked\r\n",
                            b"0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED)),
    ("chunk size wrapping 2^64 to 5", post(b"/ch-wrap", b"Transfer-Encoding: chunked\r\n",
                                           b"10000000000000005\r\nhello\r\n0\r\n\r\n" +
                                           SMUGGLED)),
    ("chunk size 2^64-1", post(b"/ch-max", b"Transfer-Encoding: chunked\r\n",
                               b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED)),
    ("chunk size 2^63", post(b"/ch-63", b"Transfer-Encoding: chunked\r\n",
                             b"8000000000000000\r\nhello\r\n0\r\n\r\n" + SMUGGLED)),
    ("chunk size leading space", post(b"/ch-sp", b"Transfer-Encoding: chunked\r\n",
                                      b" 5\r\nhello\r\n0\r\n\r\n" + SMUGGLED)),
    ("chunk size empty", post(b"/ch-empty", b"Transfer-Encoding: chunked\r\n",
                              b"\r\nhello\r\n0\r\n\r\n" + SMUGGLED)),
    ("chunk size +5", post(b"/ch-plus", b"Transfer-Encoding: chunked\r\n",
                           b"+5\r\nhello\r\n0\r\n\r\n" + SMUGGLED)),
    ("chunk data without CRLF", post(b"/ch-nocrlf", b"Transfer-Encoding: chunked\r\n",
                                     b"5\r\nhelloXX0\r\n\r\n" + SMUGGLED)),
    ("bare LF after chunk size", post(b"/ch-lf", b"Transfer-Encoding: chunked\r\n",
                                      b"5\nhello\r\n0\r\n\r\n" + SMUGGLED)),
    ("bare CR after chunk data", post(b"/ch-cr", b"Transfer-Encoding: chunked\r\n",
                                      b"5\r\nhello\r0\r\n\r\n" + SMUGGLED)),
    ("quoted extension with CRLF", post(b"/ch-qext", b"Transfer-Encoding: chunked\r\n",
                                        b'5;a="x\r\n0\r\n\r\n"\r\nhello\r\n0\r\n\r\n' +
                                        SMUGGLED)),
    ("last chunk with LF only", post(b"/ch-last-lf", b"Transfer-Encoding: chunked\r\n",
                                     b"5\r\nhello\r\n0\n\n" + SMUGGLED)),
    ("request line with extra token", b"GET /rl-extra HTTP/1.1 x\r\nHost: localhost\r\n\r\n" +
     SMUGGLED),
    ("request line double space", b"GET  /rl-dsp HTTP/1.1\r\nHost: localhost\r\n\r\n" +
     SMUGGLED),
    ("lower-case version", b"GET /rl-lower http/1.1\r\nHost: localhost\r\n\r\n" + SMUGGLED),
    ("HTTP/1.10", b"GET /rl-110 HTTP/1.10\r\nHost: localhost\r\n\r\n" + SMUGGLED),
    ("HTTP/2.0 in a head", b"GET /rl-20 HTTP/2.0\r\nHost: localhost\r\n\r\n" + SMUGGLED),
    ("HTTP/0.9", b"GET /rl-09\r\n\r\n" + SMUGGLED),
    ("target with space", b"GET /rl sp HTTP/1.1\r\nHost: localhost\r\n\r\n" + SMUGGLED),
    ("NUL in method", b"G\x00ET /rl-nul HTTP/1.1\r\nHost: localhost\r\n\r\n" + SMUGGLED),
]


def test_malformed_framing_refused():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for what, data in BAD:
        rs, closed = send(data)
        sts = [r.status for r in rs]
        f.check(sts[:1] in ([400], [501], [505]) or (not sts and closed),
                "%s: statuses %r, want 400/501/505" % (what, sts))
        f.check(len(sts) <= 1 and closed, "%s: %d responses, closed=%s" % (what, len(sts),
                                                                          closed))
        f.check(not ST["up"].by_path("/smuggled"),
                "%s: the hidden request reached the upstream" % what)
        ok = [u for u in ST["up"].requests if getattr(u, "complete", False)]
        f.check(not ok, "%s: a request was forwarded: %r" % (what, [u.request_line for u in ok]))
        ST["up"].clear()
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def test_valid_odd_shapes_framed_consistently():
    """Valid but unusual framing: the proxy and the upstream agree on where the body ends
    (the second request on the connection arrives as its own request, never inside a body)."""
    L.start_server(ST["cfg"])
    f = L.Failures()
    second = b"GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n"
    cases = [
        ("CL 005", post(b"/cl-zeros", b"Content-Length: 005\r\n", b"hello"), 5),
        ("identical duplicate CL", post(b"/cl-same", b"Content-Length: 5\r\nContent-Length: 5"
                                        b"\r\n", b"hello"), 5),
        ("TE CHUNKED upper case", post(b"/te-upper", b"Transfer-Encoding: CHUNKED\r\n",
                                       b"5\r\nhello\r\n0\r\n\r\n"), 5),
        ("hex A and 0000 last chunk", post(b"/ch-hex", b"Transfer-Encoding: chunked\r\n",
                                           b"A\r\n0123456789\r\n0000\r\n\r\n"), 10),
        ("leading zeros chunk size", post(b"/ch-zeros", b"Transfer-Encoding: chunked\r\n",
                                          b"0005\r\nhello\r\n0\r\n\r\n"), 5),
        ("chunked with trailer", post(b"/ch-trailer", b"Transfer-Encoding: chunked\r\n",
                                      b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), 5),
    ]
    for what, data, n in cases:
        path = data.split(b" ", 2)[1].decode()
        rs, closed = send(data + second, wait_close=0)
        sts = [r.status for r in rs]
        ups = ST["up"].by_path(path)
        if sts[:1] == [400]:
            f.check(not ups and not ST["up"].by_path("/second"),
                    "%s: refused but forwarded" % what)
        else:
            f.check(sts == [200, 200], "%s: statuses %r" % (what, sts))
            f.check(len(ups) == 1 and ups[0].body_len == n,
                    "%s: upstream body %r, want %d bytes" % (what, [u.body_len for u in ups], n))
            f.check(len(ST["up"].by_path("/second")) == 1, "%s: second request not separate" %
                    what)
        ST["up"].clear()
    f.done()


def test_upstream_underscore_framing_aliases():
    """Content_Length / Transfer_Encoding are not framing headers for the proxy; an upstream
    that maps '_' to '-' (CGI-style) must not be handed a second, conflicting framing: such
    aliases are refused or dropped, never forwarded next to the real framing header."""
    L.start_server(ST["cfg"])
    f = L.Failures()
    for i, hdrs in enumerate([b"Transfer-Encoding: chunked\r\nContent_Length: 48\r\n",
                              b"Content-Length: 5\r\nTransfer_Encoding: chunked\r\n"]):
        path = b"/alias%d" % i
        body = b"5\r\nhello\r\n0\r\n\r\n" if i == 0 else b"hello"
        rs, closed = send(post(path, hdrs, body) + SMUGGLED, wait_close=0)
        sts = [r.status for r in rs]
        ups = ST["up"].by_path(path.decode())
        if sts[:1] == [400]:
            continue
        if f.check(len(ups) == 1, "alias %d: statuses %r, upstream %d" % (i, sts, len(ups))):
            names = [k.lower() for k, _ in ups[0].headers]
            f.check(not ({"content_length", "transfer_encoding"} & set(names)),
                    "alias %d: forwarded %r next to the real framing header" % (i, names))
        ST["up"].clear()
    f.done()


def poison_upstream(up, c, head, rest, idx):
    """First request on each connection: a complete response followed by a second, unasked
    one. Later requests on the connection: an honest answer."""
    n = 0
    while head is not None:
        n += 1
        if n == 1:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                      b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON")
        else:
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
        head, rest = up.read_head(c, rest)


def cl_te_upstream(up, c, head, rest, idx):
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON")
    head, rest = up.read_head(c, rest)
    while head is not None:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
        head, rest = up.read_head(c, rest)


def test_upstream_extra_bytes_never_reach_the_next_client():
    pki = ST["pki"]
    f = L.Failures()
    for handler, what in ((poison_upstream, "bytes after a complete response"),
                          (cl_te_upstream, "Content-Length with Transfer-Encoding")):
        up = A.RawUpstream(handler)
        port = L.free_port()
        cfg = L.config({"s": L.server(port, [L.route(L.reverse_proxy(up.dial))],
                                      [L.policy(mode="require_and_verify",
                                                trust=pki.path("root-ca.pem"))])}, pki)
        srv = L.start_server(cfg, name="poison", args=["--workers", "1"])
        bodies = []
        for i in range(4):
            rs, _ = send(L.request_bytes(path="/p%d" % i), nresp=1, port=port, wait_close=0)
            bodies.append((rs[0].status, rs[0].body) if rs else (0, b""))
            time.sleep(0.05)
        # and on one keep-alive connection
        rs, _ = send(L.request_bytes(path="/k1") + L.request_bytes(path="/k2"), nresp=2,
                     port=port, wait_close=0)
        bodies += [(r.status, r.body) for r in rs]
        f.check(not any(b"POISON" in b for _, b in bodies),
                "%s: a client got the upstream's unasked bytes: %r" % (what, bodies))
        f.check(all(st in (200, 502) for st, _ in bodies), "%s: statuses %r" % (what, bodies))
        srv.stop()
        up.close()
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
