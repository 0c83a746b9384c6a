#!/usr/bin/env python3
"""malformed_clients.py MINIMAL_SERVER PKIDIR - garbage instead of a ClientHello, half-closed
connections, and clients without a certificate under require_and_verify.

  - garbage: a plaintext HTTP request, random bytes, an SSLv2-style hello, a TLS record that
    is not a handshake, a record longer than TLS allows, 33 empty handshake records (up to
    32 are waited through, each within the read timeout), a real ClientHello with bytes
    flipped, a connection closed at once: each is refused at once (well under the 10 s read
    timeout), logged as "handshake failed before client authentication", nothing printed
    on stdout, and the next client is served at once;
  - half-close: a request then close_notify + SHUT_WR, or a bare SHUT_WR: the whole response
    arrives; SHUT_WR in the middle of the ClientHello or of a request record: the server lets
    go at once (not after the read timeout); SHUT_WR right after the handshake: the server
    answers with the client's own identity (main.c answers whatever SSL_read returned);
  - no certificate, TLS 1.2 and 1.3, python ssl and openssl s_client: refused in the
    handshake (alert certificate_required in TLS 1.3, handshake_failure in 1.2), no
    response, logged "didn't provide a certificate", no identity printed.
Every server exits 0 on SIGTERM."""
import ssl
import subprocess
import time

import mslib as M

A, L = M.A, M.L
ST = {}
QUICK = 2.0     # seconds: far below main.c's 10 s SO_RCVTIMEO


def setup():
    pki = L.PKI()
    ST.update(pki=pki, policy=M.policy_file("rav", trust=[pki.path("root-ca.pem")]),
              hello=M.client_hello(M.basic_ctx(pki)))


def next_ok(f, srv, what):
    st, body, t, err = M.get(srv.port, M.basic_ctx(ST["pki"]), "/next")
    f.check(st == 200 and t < QUICK, "%s: next client %d in %.2fs %s" % (what, st, t, err))
    return st == 200


def raw_attempt(srv, data, shut_wr=False):
    """Sends data on a raw TCP connection; seconds until the server closed it (None: open
    after 12 s) and what it answered."""
    s = M.raw_connect(srv.port, timeout=12)
    t0 = time.monotonic()
    got = b""
    try:
        if data:
            s.sendall(data)
        if shut_wr:
            s.shutdown(M.socket.SHUT_WR)
        while True:
            s.settimeout(max(0.05, 12 - (time.monotonic() - t0)))
            try:
                d = s.recv(65536)
            except TimeoutError:
                return None, got
            except OSError:
                break
            if not d:
                break
            got += d
    finally:
        s.close()
    return time.monotonic() - t0, got


def flipped_hello():
    h = bytearray(ST["hello"])
    for i in range(60, len(h), 7):
        h[i] ^= 0x5a
    return bytes(h)


GARBAGE = {
    "plaintext-http": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "random": bytes.fromhex("9f3c7a01e2b4d5c6") * 16,
    "sslv2-hello": b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10" + b"\x00" * 21 + b"A" * 16,
    "alert-record": b"\x15\x03\x03\x00\x02\x02\x28",
    "app-data-record": b"\x17\x03\x03\x00\x05hello",
    "oversized-record": b"\x16\x03\x01\xff\xff" + b"\x01" * 4096,
    # BoringSSL waits through up to 32 empty records (each within the read timeout)
    "33-empty-records": b"\x16\x03\x01\x00\x00" * 33,
    "server-hello-type": b"\x16\x03\x01\x00\x08\x02\x00\x00\x04\x03\x03\x00\x00",
}


def test_garbage_instead_of_client_hello():
    srv = M.Server(ST["policy"])
    f = L.Failures()
    cases = dict(GARBAGE)
    cases["flipped-hello"] = None
    cases["closed-at-once"] = b""
    times = []
    for name, data in cases.items():
        if name == "flipped-hello":
            data = flipped_hello()
        took, got = raw_attempt(srv, data, shut_wr=(name == "closed-at-once"))
        times.append("%s=%s" % (name, "%.2fs" % took if took is not None else "open"))
        f.check(took is not None and took < QUICK, "%s: the server held the connection %s" %
                (name, "%.2fs" % took if took is not None else "over 12 s"))
        f.check(b"HTTP/1.1" not in got, "%s: answered in plaintext: %r" % (name, got[:100]))
        next_ok(f, srv, name)
    L.log("    garbage closed after: " + ", ".join(times))
    time.sleep(0.2)
    rejected = [m for a, m in srv.verdicts() if not a]
    f.check(len(rejected) == len(cases) and
            all(m == b"handshake failed before client authentication" for m in rejected),
            "verdicts for garbage: %r" % rejected)
    f.check(len(srv.blocks()) == len(cases), "%d identity blocks for %d normal clients" % (
        len(srv.blocks()), len(cases)))
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def bio(srv, maxver=None):
    c, k = ST["pki"].client("basic")
    return A.BioTLS(srv.port, M.ctx_for(c, k, maxver=maxver), timeout=10)


def test_half_close_after_request():
    srv = M.Server(ST["policy"])
    f = L.Failures()
    for maxver in (None, ssl.TLSVersion.TLSv1_2):
        for how in ("close_notify+SHUT_WR", "SHUT_WR"):
            what = "%s/%s" % (how, maxver.name if maxver else "TLSv1_3")
            t = bio(srv, maxver)
            try:
                # the server answers after one read and closes, so the request (+
                # close_notify) and the FIN leave together (TCP_CORK until SHUT_WR): a
                # separate SHUT_WR could find the connection already gone
                t.obj.write(L.request_bytes(path="/hc"))
                if how.startswith("close_notify"):
                    try:
                        t.obj.unwrap()
                    except (ssl.SSLWantReadError, ssl.SSLError):
                        pass
                t.sock.setsockopt(M.socket.IPPROTO_TCP, M.socket.TCP_CORK, 1)
                t.sock.sendall(t.out.read())
                try:
                    t.shut_wr()
                except OSError as e:
                    f.check(False, "%s: SHUT_WR failed (%s): the server closed first" % (
                        what, e))
                data, closed = t.read_all(timeout=5)
            finally:
                t.close()
            f.check(data.startswith(b"HTTP/1.1 200 OK\r\n") and
                    b"http.request.tls.client.subject: CN=basic client\n" in data and closed,
                    "%s: got %r closed=%s" % (what, data[:120], closed))
    next_ok(f, srv, "half-close")
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def test_half_close_mid_message():
    srv = M.Server(ST["policy"])
    f = L.Failures()
    hello = ST["hello"]
    took, got = raw_attempt(srv, hello[:len(hello) // 2], shut_wr=True)
    L.log("    SHUT_WR mid-ClientHello: closed after %s" % (
        "%.2fs" % took if took is not None else "over 12 s"))
    f.check(took is not None and took < QUICK, "mid-ClientHello SHUT_WR held %r s" % took)
    next_ok(f, srv, "mid-ClientHello")
    # after the handshake, half a request record, then SHUT_WR
    t = bio(srv)
    try:
        t.obj.write(L.request_bytes(path="/cut"))
        rec = t.out.read()
        t0 = time.monotonic()
        t.sock.sendall(rec[:len(rec) // 2])
        t.shut_wr()
        data, closed = t.read_all(timeout=12)
        took = time.monotonic() - t0
    finally:
        t.close()
    L.log("    SHUT_WR mid-request-record: closed after %.2fs, answered %d bytes" % (
        took, len(data)))
    f.check(closed and took < QUICK, "mid-record SHUT_WR: closed=%s after %.2fs" % (closed,
                                                                                   took))
    # right after the handshake, no request at all
    t = bio(srv)
    try:
        t.shut_wr()
        data, closed = t.read_all(timeout=12)
    finally:
        t.close()
    f.check(closed, "SHUT_WR right after the handshake: not closed")
    f.check(not data or b"client.subject: CN=basic client\n" in data,
            "SHUT_WR right after the handshake: answered %r" % data[:200])
    next_ok(f, srv, "mid-record")
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


def s_client_nocert(port, flags):
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername",
            "localhost", "-CAfile", ST["pki"].server_ca, "-ign_eof"] + list(flags)
    cmd = "(sleep 0.4; printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'; sleep 0.3) " \
          "| %s" % " ".join(args)
    try:
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=15)
        return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return ((e.stdout or b"").decode("utf-8", "replace"),
                (e.stderr or b"").decode("utf-8", "replace"))


def test_no_certificate_under_require_and_verify():
    srv = M.Server(ST["policy"])
    f = L.Failures()
    n = 0
    for maxver in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
        st, body, t, err = M.get(srv.port, M.ctx_for(maxver=maxver), "/nocert")
        n += 1
        f.check(st == 0 and t < QUICK, "python %s without a certificate: %d %r" % (
            maxver.name, st, body[:100]))
    for flags, alert in ((["-tls1_3"], "alert number 116"), (["-tls1_2"], "alert number 40")):
        out, err = s_client_nocert(srv.port, flags)
        n += 1
        f.check("HTTP/1.1" not in out, "s_client %s without a certificate answered" % flags)
        f.check(alert in err, "s_client %s: want %s (certificate_required / "
                "handshake_failure): %s" % (flags, alert, err[-300:]))
    time.sleep(0.2)
    v = srv.verdicts()
    f.check(len(v) == n and all(not a and b"didn't provide a certificate" in m for a, m in v),
            "verdicts: %r" % v)
    f.check(not srv.blocks(), "identity printed: %r" % srv.blocks())
    next_ok(f, srv, "no-cert")
    srv.check_output(f)
    srv.stop_clean(f)
    f.done()


if __name__ == "__main__":
    L.run_tests(globals(), setup=setup)
