#!/usr/bin/env python3
"""request_smuggling.py MTLS_PROXY PKIDIR - strict request framing (DESIGN.md section 6).

Each ambiguous or malformed request is answered 400 (or, where stated, 501) and the connection
closed; the request hidden behind it (GET /smuggled) never reaches the upstream. Cases:
Content-Length + Transfer-Encoding (both orders), differing duplicate Content-Length,
malformed chunk sizes (junk after the size, not hex, overflow, negative), bare LF line
endings, whitespace before a header colon, a control byte in a chunk extension, an unknown
transfer coding. obs-fold, NUL and a bare CR in a header value are refused or replaced by SP
(RFC 9112 5.2, RFC 9110 5.5), never forwarded raw. Control: the same bytes correctly framed
give two requests."""
import proxylib as L

ST = {}
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"


def setup():
    L.standard_setup(ST)


def send(data, nresp=2):
    c, k = ST["pki"].client("basic")
    try:
        return L.raw_exchange(ST["port"], data, cert=c, key=k, nresp=nresp, wait_close=2.0)
    except (OSError, L.Closed):
        return [], True


CASES = [
    ("CL+TE", b"POST /cl-te HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("TE+CL", b"POST /te-cl HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
              b"Content-Length: 48\r\n\r\n0\r\n\r\n" + SMUGGLED),
    ("differing duplicate Content-Length",
     b"POST /dup-cl HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 48"
     b"\r\n\r\n" + SMUGGLED),
    ("Content-Length list", b"POST /cl-list HTTP/1.1\r\nHost: localhost\r\n"
                            b"Content-Length: 0, 48\r\n\r\n" + SMUGGLED),
    ("chunk size with junk", b"POST /chunk-junk HTTP/1.1\r\nHost: localhost\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n5 junk\r\nhello\r\n0\r\n\r\n"
                             + SMUGGLED),
    ("chunk size not hex", b"POST /chunk-nothex HTTP/1.1\r\nHost: localhost\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
                           + SMUGGLED),
    ("chunk size overflow", b"POST /chunk-overflow HTTP/1.1\r\nHost: localhost\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n1000000000000000000005\r\n"
                            b"hello\r\n0\r\n\r\n" + SMUGGLED),
    ("negative chunk size", b"POST /chunk-neg HTTP/1.1\r\nHost: localhost\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"
                            + SMUGGLED),
    ("chunk data longer than its size", b"POST /chunk-long HTTP/1.1\r\nHost: localhost\r\n"
                                        b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n"
                                        b"0\r\n\r\n" + SMUGGLED),
    ("bare LF", b"GET /bare-lf HTTP/1.1\nHost: localhost\n\n" + SMUGGLED),
    ("bare LF in one header", b"GET /bare-lf2 HTTP/1.1\r\nHost: localhost\nX-A: b\r\n\r\n"
                              + SMUGGLED),
    ("space before colon", b"POST /space-colon HTTP/1.1\r\nHost: localhost\r\n"
                           b"Transfer-Encoding : chunked\r\nContent-Length: 48\r\n\r\n"
                           b"0\r\n\r\n" + SMUGGLED),
    ("tab before colon", b"GET /tab-colon HTTP/1.1\r\nHost: localhost\r\nX-A\t: b\r\n\r\n"
                         + SMUGGLED),
    ("control byte in a chunk extension", b"POST /chunk-ext HTTP/1.1\r\nHost: localhost\r\n"
                                          b"Transfer-Encoding: chunked\r\n\r\n5;e\x01x\r\n"
                                          b"hello\r\n0\r\n\r\n" + SMUGGLED),
]
# RFC 9112 5.2 / RFC 9110 5.5: reject with 400, or replace obs-fold / CR / NUL with SP before
# forwarding. Either is accepted; the raw byte must never reach the upstream.
LENIENT = [
    ("obs-fold", b"GET /obs-fold HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n c\r\n\r\n"),
    ("NUL in a header value", b"GET /nul HTTP/1.1\r\nHost: localhost\r\nX-A: b\x00c\r\n\r\n"),
    ("bare CR in a header value", b"GET /bare-cr HTTP/1.1\r\nHost: localhost\r\n"
                                  b"X-A: b\rc\r\n\r\n"),
]


def check(f, what, data, statuses=(400,)):
    path = data.split(b" ", 2)[1].decode()
    rs, closed = send(data)
    sts = [r.status for r in rs]
    f.check(sts[:1] in ([s] for s in statuses) or (not sts and closed),
            "%s: statuses %r, want %s and close" % (what, sts, "/".join(map(str, statuses))))
    f.check(len(sts) <= 1, "%s: more than one response: %r" % (what, sts))
    f.check(closed, "%s: connection left open" % what)
    f.check(not ST["up"].by_path("/smuggled"),
            "%s: the smuggled request reached the upstream" % what)
    ok_up = [u for u in ST["up"].by_path(path) if u.complete]
    f.check(not (sts and sts[0] == 200), "%s: answered 200 (upstream saw %d)" % (what,
                                                                             len(ok_up)))
    ST["up"].clear()


def test_control_correct_framing_passes():
    L.start_server(ST["cfg"])
    rs, closed = send(b"POST /framed HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked"
                      b"\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n" + SMUGGLED)
    assert [r.status for r in rs] == [200, 200], rs
    assert ST["up"].by_path("/framed")[0].body_len == 5
    assert ST["up"].by_path("/smuggled"), "control: second request not forwarded"
    ST["up"].clear()


def test_ambiguous_and_malformed_framing():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for what, data in CASES:
        check(f, what, data)
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def test_obs_fold_nul_cr_rejected_or_replaced():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for what, data in LENIENT:
        path = data.split(b" ", 2)[1].decode()
        rs, closed = send(data + SMUGGLED)
        sts = [r.status for r in rs]
        ups = ST["up"].by_path(path)
        if sts[:1] == [400] or (not sts and closed):
            f.check(closed and not ups and not ST["up"].by_path("/smuggled"),
                    "%s: refused but not closed, or forwarded anyway" % what)
        else:
            f.check(sts[:1] == [200] and len(ups) == 1,
                    "%s: neither refused (400) nor forwarded: %r" % (what, sts))
            if ups:
                head = ups[0].head
                f.check(b"\x00" not in head and b"\r\n " not in head and
                        b"\r\n\t" not in head and b"\rc" not in head and
                        ups[0].get("X-A", b"").replace(b" ", b"") == b"bc",
                        "%s: forwarded as %r" % (what, ups[0].get("X-A")))
        ST["up"].clear()
    f.check(srv.proc.alive(), "proxy died")
    f.done()


def test_unknown_transfer_coding():
    srv = L.start_server(ST["cfg"])
    f = L.Failures()
    for i, te in enumerate([b"xchunked", b"chunked, identity", b"identity",
                            b"chunked\r\nTransfer-Encoding: chunked"]):
        check(f, "Transfer-Encoding: %r" % te,
              b"POST /te%d HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: %s\r\n"
              b"Content-Length: 48\r\n\r\n0\r\n\r\n" % (i, te) + SMUGGLED,
              statuses=(400, 501))
    f.check(srv.proc.alive(), "proxy died")
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
