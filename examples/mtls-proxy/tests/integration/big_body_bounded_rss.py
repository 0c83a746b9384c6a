#!/usr/bin/env python3
"""big_body_bounded_rss.py MTLS_PROXY PKIDIR - bodies are streamed, never buffered whole.

1 GiB is uploaded through the proxy twice, with Content-Length and chunked, to an upstream that
reads, counts and hashes it; a 256 MiB response is streamed down to a client that first reads
nothing for 2 seconds (back-pressure). The proxy's VmRSS (with any child processes) is sampled
every 50 ms from /proc and must stay under RSS_LIMIT_MIB; byte counts and SHA-256 must match."""
import hashlib
import os
import threading
import time

import proxylib as L

ST = {}
GIB = 1 << 30
MIB = 1 << 20
RSS_LIMIT_MIB = 64


def setup():
    L.standard_setup(ST)
    block = os.urandom(MIB)
    h = hashlib.sha256()
    for _ in range(GIB // MIB):
        h.update(block)
    ST.update(block=block, sha=h.hexdigest())


class Sampler(threading.Thread):
    def __init__(self, proc):
        threading.Thread.__init__(self, daemon=True)
        self.proc = proc
        self.stop = threading.Event()
        self.peak = 0
        self.n = 0

    def run(self):
        while not self.stop.is_set():
            v = self.proc.rss_kib()
            self.peak = max(self.peak, v)
            self.n += 1
            time.sleep(0.05)


def start():
    srv = L.start_server(ST["cfg"], args=["--workers", "2"])
    sm = Sampler(srv.proc)
    sm.start()
    L.on_cleanup(sm.stop.set)
    return srv, sm


def conn():
    c, k = ST["pki"].client("basic")
    return L.tls_connect(ST["port"], "localhost", c, k, timeout=60)


def upload(chunked):
    s = conn()
    t0 = time.monotonic()
    try:
        if chunked:
            s.sendall(b"POST /count HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked"
                      b"\r\n\r\n")
            piece = b"%x\r\n" % MIB + ST["block"] + b"\r\n"
            for _ in range(GIB // MIB):
                s.sendall(piece)
            s.sendall(b"0\r\n\r\n")
        else:
            s.sendall(b"POST /count HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n"
                      % GIB)
            for _ in range(GIB // MIB):
                s.sendall(ST["block"])
        r = L.read_response(L.SockReader(s))
    finally:
        s.close()
    return r, time.monotonic() - t0


def check_upload(chunked):
    srv, sm = start()
    base = srv.proc.rss_kib()
    r, t = upload(chunked)
    sm.stop.set()
    sm.join(2)
    kind = "chunked" if chunked else "Content-Length"
    L.log("    1 GiB %s upload: %.1fs (%.0f MiB/s), RSS start %d KiB, peak %d KiB over %d "
          "samples" % (kind, t, 1024 / t, base, sm.peak, sm.n))
    assert r.status == 200, "upload (%s): status %d %r" % (kind, r.status, r.body[:200])
    import json
    got = json.loads(r.body)
    assert got["bytes"] == GIB, "upstream counted %d bytes, sent %d" % (got["bytes"], GIB)
    assert got["sha256"] == ST["sha"], "body corrupted on the way (sha256 differs)"
    assert sm.n >= 10, "too few RSS samples"
    assert sm.peak < RSS_LIMIT_MIB * 1024, \
        "proxy RSS peaked at %.1f MiB during a 1 GiB %s upload (limit %d MiB)" % (
            sm.peak / 1024, kind, RSS_LIMIT_MIB)
    assert srv.proc.alive()


def test_upload_1gib_content_length():
    check_upload(False)


def test_upload_1gib_chunked():
    check_upload(True)


def test_download_256mib_slow_reader():
    srv, sm = start()
    n = 256 * MIB
    for chunked in (False, True):
        s = conn()
        try:
            path = "/stream/%d%s" % (n, "?chunked=1" if chunked else "")
            s.sendall(L.request_bytes(path=path))
            time.sleep(2)          # the upstream writes; the client reads nothing yet
            peak_stalled = sm.peak
            r = L.read_response(L.SockReader(s), discard_body=True)
            assert r.status == 200, r
        finally:
            s.close()
        kind = "chunked" if chunked else "Content-Length"
        L.log("    256 MiB %s download: RSS peak while the client stalled %d KiB, overall %d "
              "KiB" % (kind, peak_stalled, sm.peak))
        assert peak_stalled < RSS_LIMIT_MIB * 1024, \
            "RSS %.1f MiB while a client did not read a 256 MiB response" % (peak_stalled / 1024)
    sm.stop.set()
    assert sm.peak < RSS_LIMIT_MIB * 1024, "RSS peak %.1f MiB" % (sm.peak / 1024)
    assert srv.proc.alive()


def test_download_length_exact():
    """The body arrives whole and exact (Content-Length and chunked)."""
    srv, sm = start()
    sm.stop.set()
    for chunked in (False, True):
        s = conn()
        try:
            n = 3 * MIB + 12345
            s.sendall(L.request_bytes(path="/stream/%d%s" % (n, "?chunked=1" if chunked else "")))
            r = L.read_response(L.SockReader(s))
            assert r.status == 200 and len(r.body) == n and r.body == b"x" * n, \
                (chunked, r.status, len(r.body))
        finally:
            s.close()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
