#!/usr/bin/env python3
"""spoofed_identity.py MTLS_PROXY PKIDIR - client-made identity headers, beyond
integration/spoofed_identity_headers.py (which covers case variants, '_' and '.' aliases and
duplicates in the head): obs-fold continuation lines hiding an identity header (400),
malformed names that some upstreams would normalise to the identity name (400 or never
forwarded under that name), "Connection: X-Client-Subject" (must not remove the proxy's own
header), an identity header in the trailer section of a chunked body, and placeholder text in a
client header value (never expanded a second time).

Site a.mtls.test (require_and_verify) sets X-Client-Subject and X-Client-Verified from the
client certificate and X-Echo from {http.request.header.X-Foo}; the upstream records the head,
the raw chunked body with its trailer section, and answers 200."""
import attacklib as A

L = A.L
ST = {}
SUBJECT = b"CN=basic client"


def norm(name):
    return name.lower().replace("_", "-").replace(".", "-")


def record_body(up, c, head, rest, idx):
    """Reads one request body (chunked with trailers, or Content-Length), answers 200, and
    keeps serving the connection."""
    while head is not None:
        lines = head.split(b"\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        trailers = []
        if b"chunked" in b"".join(hdrs.get(b"transfer-encoding", [])).lower():
            buf = rest
            while True:
                while b"\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                ln, _, buf = buf.partition(b"\r\n")
                size = int(ln.split(b";")[0], 16)
                if size == 0:
                    while True:
                        while b"\r\n" not in buf:
                            d = c.recv(65536)
                            if not d:
                                return
                            buf += d
                        ln, _, buf = buf.partition(b"\r\n")
                        if ln == b"":
                            break
                        trailers.append(ln)
                    break
                while len(buf) < size + 2:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[size + 2:]
            rest = buf
        elif hdrs.get(b"content-length"):
            n = int(hdrs[b"content-length"][0])
            while len(rest) < n:
                d = c.recv(65536)
                if not d:
                    return
                rest += d
            rest = rest[n:]
        with up.lock:
            ST["trailers"].append((lines[0], trailers))
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        head, rest = up.read_head(c, rest)


def setup():
    pki = L.PKI()
    up = A.RawUpstream(record_body)
    port = L.free_port()
    rp = L.reverse_proxy(up.dial, set={
        "X-Client-Subject": "{http.request.tls.client.subject}",
        "X-Client-Verified": "{http.request.tls.client.verified}",
        "X-Echo": "{http.request.header.X-Foo}"})
    cfg = L.config({"s": L.server(port, [L.route(rp)],
                                  [L.policy(mode="require_and_verify",
                                            trust=pki.path("root-ca.pem"))])}, pki)
    ST.update(pki=pki, up=up, port=port, cfg=cfg, trailers=[])


def send(data, nresp=1, wait_close=0):
    c, k = ST["pki"].client("basic")
    try:
        return L.raw_exchange(ST["port"], data, cert=c, key=k, nresp=nresp,
                              wait_close=wait_close)
    except (OSError, L.Closed):
        return [], True


def heads_for(path):
    out = []
    for h in ST["up"].heads:
        if h.split(b"\r\n", 1)[0].split(b" ")[1] == path.encode():
            out.append(h)
    return out


def values(head, name):
    out = []
    for ln in head.split(b"\r\n")[1:]:
        k, _, v = ln.partition(b":")
        if norm(k.decode("latin-1").strip()) == norm(name):
            out.append(v.strip())
    return out


def test_obs_fold_hiding_identity_header_is_400():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    cases = [
        b"X-Foo: a\r\n X-Client-Subject: CN=admin\r\n",
        b"X-Foo: a\r\n\tX-Client-Subject: CN=admin\r\n",
        b"X-Client-Subject: CN=x\r\n CN=admin\r\n",
        b"X-Foo: a\r\n \r\nX-Client-Subject: CN=admin\r\n",
    ]
    for i, extra in enumerate(cases):
        path = "/fold%d" % i
        rs, closed = send(b"GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (path.encode(),
                                                                             extra),
                          wait_close=1.0)
        st = [r.status for r in rs]
        f.check(st == [400] and closed, "%r: statuses %r closed=%s (want 400 and close)" % (
            extra, st, closed))
        f.check(not heads_for(path), "%r: reached the upstream" % extra)
    objs = A.check_log_lines(f, srv)
    f.check(not any(b"admin" in ln for ln in A.stdout_lines(srv) if b"http.log.access" not in
                    ln), "spoofed value in a non-access log line")
    f.done()


def test_malformed_identity_names():
    """Names an upstream might fold into X-Client-Subject (CGI/WSGI/PHP turn '-' into '_',
    some trim or drop odd bytes). Each is refused (400), or reaches the upstream under a name
    that does not normalise to an identity header (X--Client-Subject, HTTP_X_CLIENT_SUBJECT
    are other names and pass); the upstream always gets exactly one X-Client-Subject, the
    real one."""
    L.start_server(ST["cfg"])
    f = L.Failures()
    names = [b"X-Client-Subject ", b"X-Client-Subject\t", b" X-Client-Subject",
             b"X-Client-Subject\x00", b"X-Client-Subject\x0b", b"X-Client\xe2\x80\x90Subject",
             b"X-Client-Subject\xc2\xa0", b"X-Client-Subjec\xc5\xa3", b"X-Client_Subject",
             b"x.client.subject", b"X_CLIENT.SUBJECT", b"X-Client-Subject:x",
             b"HTTP_X_CLIENT_SUBJECT", b"X--Client-Subject", b"X-Client--Subject"]
    for i, n in enumerate(names):
        path = "/name%d" % i
        rs, closed = send(b"GET %s HTTP/1.1\r\nHost: localhost\r\n%s: CN=admin\r\n\r\n" % (
            path.encode(), n))
        st = [r.status for r in rs]
        heads = heads_for(path)
        if not f.check(st in ([400], [200]), "%r: statuses %r" % (n, st)):
            continue
        if st == [400]:
            f.check(not heads, "%r: refused but forwarded" % n)
            continue
        if not f.check(len(heads) == 1, "%r: 200 but %d heads upstream" % (n, len(heads))):
            continue
        f.check(values(heads[0], "X-Client-Subject") == [SUBJECT],
                "%r: X-Client-Subject values upstream %r" % (n, values(heads[0],
                                                                       "X-Client-Subject")))
    f.done()


def test_connection_header_cannot_remove_proxy_headers():
    L.start_server(ST["cfg"])
    f = L.Failures()
    for i, conn in enumerate([b"X-Client-Subject", b"x-client-verified, X-Client-Subject",
                              b"X-Forwarded-For", b"keep-alive, X-Echo"]):
        path = "/conn%d" % i
        rs, closed = send(b"GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: %s\r\n"
                          b"X-Foo: foo\r\n\r\n" % (path.encode(), conn))
        heads = heads_for(path)
        if not f.check([r.status for r in rs] == [200] and len(heads) == 1,
                       "Connection: %r: %r" % (conn, rs)):
            continue
        h = heads[0]
        f.check(values(h, "X-Client-Subject") == [SUBJECT],
                "Connection: %r: X-Client-Subject %r" % (conn, values(h, "X-Client-Subject")))
        f.check(values(h, "X-Client-Verified") == [b"SUCCESS"],
                "Connection: %r: X-Client-Verified %r" % (conn, values(h, "X-Client-Verified")))
        f.check(values(h, "X-Forwarded-For") == [b"127.0.0.1"],
                "Connection: %r: X-Forwarded-For %r" % (conn, values(h, "X-Forwarded-For")))
        f.check(values(h, "Connection") in ([], [b"keep-alive"]),
                "Connection: %r forwarded as %r" % (conn, values(h, "Connection")))
    f.done()


def test_placeholder_text_in_client_value_not_expanded():
    L.start_server(ST["cfg"])
    f = L.Failures()
    for i, v in enumerate([b"{http.request.tls.client.subject}",
                           b"{http.request.tls.client.fingerprint}{env.HOME}",
                           b"{{http.request.header.X-Foo}}", b"\\{http.request.remote}"]):
        path = "/ph%d" % i
        rs, _ = send(b"GET %s HTTP/1.1\r\nHost: localhost\r\nX-Foo: %s\r\n\r\n" % (
            path.encode(), v))
        heads = heads_for(path)
        if f.check(len(heads) == 1, "X-Foo %r: %r" % (v, rs)):
            f.check(values(heads[0], "X-Echo") == [v],
                    "X-Foo %r came out as X-Echo %r (expanded twice?)" % (
                        v, values(heads[0], "X-Echo")))
    f.done()


def test_identity_header_in_chunked_trailer():
    """The proxy forwards the trailer section of a chunked request body. A trailer named like
    an identity header (or like a framing field) must not reach the upstream: some upstreams
    merge trailers into the request headers (Go's Request.Trailer users, PHP-FPM setups,
    frameworks that expose trailers as headers)."""
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    ST["trailers"][:] = []
    trailer = (b"X-Client-Subject: CN=admin\r\nx_client_verified: SUCCESS\r\n"
               b"X-Forwarded-For: 6.6.6.6\r\nContent-Length: 100\r\n"
               b"Transfer-Encoding: identity\r\nHost: evil.example\r\nX-Harmless: 1\r\n")
    body = b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n"
    rs, closed = send(b"POST /trailer HTTP/1.1\r\nHost: localhost\r\nTrailer: X-Client-Subject"
                      b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"GET /after HTTP/1.1"
                      b"\r\nHost: localhost\r\n\r\n", nresp=2)
    st = [r.status for r in rs]
    got = [t for line, t in ST["trailers"] if b"/trailer" in line]
    f.check(st[:1] in ([200], [400]), "statuses %r" % st)
    if st[:1] == [200] and f.check(len(got) == 1, "upstream requests for /trailer: %r" % got):
        bad = [t for t in got[0] if norm(t.partition(b":")[0].decode("latin-1").strip()) in (
            "x-client-subject", "x-client-verified", "x-forwarded-for", "content-length",
            "transfer-encoding", "host")]
        f.check(not bad, "trailer fields forwarded to the upstream: %r (identity or framing "
                "names in the trailer section)" % bad)
    heads = heads_for("/trailer")
    for h in heads:
        f.check(values(h, "X-Client-Subject") == [SUBJECT], "head X-Client-Subject %r" %
                values(h, "X-Client-Subject"))
    f.check(srv.proc.alive(), "proxy died")
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
